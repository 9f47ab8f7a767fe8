import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors';
import { helpText } from './help';
import { findUnknownKey } from './unknown-keys';

/** How one command-line flag / environment variable maps onto the configuration object. */
export interface Binding {
  /** Flag name without dashes, e.g. `socket` for `--socket`. */
  flag: string;
  /** Environment variable, e.g. `IMAGEGATE_SOCKET`. */
  env?: string;
  /** Dotted path in the configuration object, e.g. `imageService.socket`. */
  path: string;
  /** How the text is turned into a value. `list` splits on commas and may repeat. */
  type?: 'string' | 'number' | 'boolean' | 'list';
  /** One line for `--help`, without the default: help.ts adds it from the schema (or the embedded defaults), where it is written once. */
  help?: string;
  /** Short letter alias, e.g. `o` for `-o`. */
  short?: string;
}

/**
 * What a command reads: its schema, the flags and variables bound to it, and
 * the embedded defaults, if any. `--help` is made from it, and the CLI test
 * checks each command's help against it.
 */
export interface FlagTable<S extends z.ZodType = z.ZodType> {
  schema: S;
  bindings: Binding[];
  /** Embedded defaults, merged under the file, the environment and the flags. */
  defaults?: unknown;
  /** Environment variable naming the YAML file; `--config` always works. Default `IMAGEGATE_CONFIG`; `''` for none. */
  configEnv?: string;
}

export interface LoadOptions<S extends z.ZodType> extends FlagTable<S> {
  /** Command name, for the help text. */
  command: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** Text printed after the flags by `--help` (e.g. the subcommands). */
  helpFooter?: string;
  /** Positional arguments allowed (they are returned, not validated). */
  positionals?: boolean;
}

export interface Loaded<T> {
  config: T;
  positionals: string[];
  /** True when `--help` was given; the caller prints `help` and exits 0. */
  helpRequested: boolean;
  help: string;
}

/**
 * Loads configuration from (lowest first) embedded defaults, a YAML file
 * (`--config`), environment variables and flags, then validates it with the
 * schema. Any problem throws a ConfigError naming the setting as the user
 * wrote it.
 */
export function loadConfig<S extends z.ZodType>(options: LoadOptions<S>): Loaded<z.output<S>> {
  const env = options.env ?? process.env;
  const configEnv = options.configEnv ?? 'IMAGEGATE_CONFIG';
  const spec: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  };
  for (const b of options.bindings) {
    spec[b.flag] = { type: b.type === 'boolean' ? 'boolean' : 'string' };
    if (b.type === 'list') spec[b.flag].multiple = true;
    if (b.short) spec[b.flag].short = b.short;
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: options.argv, options: spec, allowPositionals: true, strict: true, allowNegative: true } as never);
  } catch (err) {
    const flag = /'(-[^']+)'/.exec((err as Error).message)?.[1] ?? 'arguments';
    throw new ConfigError(flag, (err as Error).message.replace(/\. To specify.*$/s, ''));
  }
  if (!options.positionals && parsed.positionals.length > 0) {
    throw new ConfigError(parsed.positionals[0], 'unexpected argument');
  }
  const help = helpText(options.command, options.bindings, options.schema, { configEnv, defaults: options.defaults, footer: options.helpFooter });
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;

  const sources = new Map<string, string>();
  const merged: Record<string, unknown> = structuredClone((options.defaults as Record<string, unknown>) ?? {});
  const file = (values.config as string | undefined) ?? env[configEnv];
  if (file) {
    deepMerge(merged, readYaml(file, values.config ? '--config' : configEnv));
  }
  for (const b of options.bindings) {
    const fromEnv = b.env ? env[b.env] : undefined;
    const fromFlag = values[b.flag];
    if (fromFlag !== undefined) {
      setPath(merged, b.path, convert(b, fromFlag, `--${b.flag}`));
      sources.set(b.path, `--${b.flag}`);
    } else if (fromEnv !== undefined && fromEnv !== '' && b.env) {
      setPath(merged, b.path, convert(b, fromEnv, b.env));
      sources.set(b.path, b.env);
    }
  }

  const unknown = findUnknownKey(options.schema, merged);
  if (unknown) {
    throw new ConfigError(formatPath(unknown.path), `unknown setting${unknown.suggestion ? `; did you mean "${unknown.suggestion}"?` : ''}`);
  }
  const result = options.schema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue.path.map(String);
    const dotted = formatPath(path);
    const source = [...sources.entries()].find(([p]) => dotted === p || dotted.startsWith(p + '.') || dotted.startsWith(p + '['))?.[1];
    throw new ConfigError(source ?? (dotted || 'config'), issue.message);
  }
  return { config: result.data, positionals: parsed.positionals, helpRequested: values.help === true, help };
}

function convert(b: Binding, raw: string | string[] | boolean, name: string): unknown {
  switch (b.type ?? 'string') {
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (/^(true|1|yes)$/i.test(String(raw))) return true;
      if (/^(false|0|no)$/i.test(String(raw))) return false;
      throw new ConfigError(name, `must be true or false, not "${String(raw)}"`);
    case 'number': {
      const n = Number(raw);
      if (String(raw).trim() === '' || !Number.isFinite(n)) throw new ConfigError(name, `must be a number, not "${String(raw)}"`);
      return n;
    }
    case 'list':
      return (Array.isArray(raw) ? raw : [String(raw)]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    default:
      return String(raw);
  }
}

function readYaml(file: string, setting: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(setting, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(setting, `${file} is not valid YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(setting, `${file} must hold a YAML mapping`);
  return doc as Record<string, unknown>;
}

/** Merges `src` into `dst`: mappings merge key by key, everything else (lists too) replaces. */
export function deepMerge(dst: Record<string, unknown>, src: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(src)) {
    const cur = dst[k];
    if (isPlain(cur) && isPlain(v)) deepMerge(cur, v);
    else dst[k] = structuredClone(v);
  }
  return dst;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let cur = obj;
  for (const k of keys.slice(0, -1)) {
    if (!isPlain(cur[k])) cur[k] = {};
    cur = cur[k] as Record<string, unknown>;
  }
  cur[keys[keys.length - 1]] = value;
}

function formatPath(path: string[]): string {
  return path.reduce((s, p) => (/^\d+$/.test(p) ? `${s}[${p}]` : s ? `${s}.${p}` : p), '');
}
