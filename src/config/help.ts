import type { z } from 'zod';
import type { Binding } from './load';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  innerType?: z.ZodType;
  in?: z.ZodType;
  defaultValue?: unknown;
}

const def = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/** Returns `schema`'s field at a dotted `path` (`watchdog.interval`), or undefined when the schema has no such field. */
export function fieldAt(schema: z.ZodType, path: string): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (const key of path.split('.')) {
    const object: z.ZodType | undefined = current && unwrap(current);
    const shape: Def['shape'] = object && def(object).shape;
    current = shape && Object.hasOwn(shape, key) ? shape[key] : undefined;
  }
  return current;
}

/** The mapping (or other schema) under optional, nullable, default, prefault and piped wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  for (let s = schema; ; ) {
    const d = def(s);
    const next = d.type === 'pipe' ? d.in : ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch'].includes(d.type) ? d.innerType : undefined;
    if (!next) return s;
    s = next;
  }
}

/**
 * The default a field gets when nothing sets it, as a user would write it
 * (`1m`, not 60000: a `duration('1m')` field's default is its text), or
 * undefined when the field has none.
 */
export function fieldDefault(field: z.ZodType): unknown {
  for (let s: z.ZodType | undefined = field; s; ) {
    const d = def(s);
    if (d.type === 'default' || d.type === 'prefault') return d.defaultValue;
    s = d.type === 'pipe' ? d.in : ['optional', 'nullable', 'readonly', 'catch'].includes(d.type) ? d.innerType : undefined;
  }
  return undefined;
}

/** A default as `--help` shows it; undefined when there is nothing worth showing (false, "", an empty list or mapping). */
export function showDefault(value: unknown): string | undefined {
  if (value === undefined || value === null || value === false || value === '') return undefined;
  if (Array.isArray(value)) return value.length > 0 ? value.map(String).join(',') : undefined;
  if (typeof value === 'object') return undefined;
  return String(value);
}

/** What the command's help says of one binding: its own text, the default (from the schema, or the embedded defaults), the variable. */
export function bindingHelp(b: Binding, schema: z.ZodType, defaults?: unknown): string {
  const field = fieldAt(schema, b.path);
  const shown = showDefault(field && fieldDefault(field)) ?? showDefault(valueAt(defaults, b.path));
  return [b.help ?? '', shown === undefined ? '' : `(default ${shown})`, b.env ? `(env ${b.env})` : ''].filter(Boolean).join(' ');
}

function valueAt(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[key] : undefined;
  return current;
}

/**
 * A command's `--help`: the usage line, then one row a flag (`--config` and
 * `--help` first), each with its help, its default as the schema (or the
 * embedded defaults) gives it, and its environment variable. Defaults are
 * never written in a binding's help: they come from here, written once.
 */
export function helpText(command: string, bindings: Binding[], schema: z.ZodType, options: { configEnv: string; defaults?: unknown; footer?: string }): string {
  const rows = [
    ['--config FILE', `YAML configuration file${options.configEnv ? ` (env ${options.configEnv})` : ''}`],
    ['-h, --help', 'print this help'],
    ...bindings.map((b) => [`${b.short ? `-${b.short}, ` : ''}--${b.flag}${b.type === 'boolean' ? '' : ' VALUE'}`, bindingHelp(b, schema, options.defaults)]),
  ];
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  return [`usage: imagegate ${command} [flags]`, '', ...rows.map(([f, h]) => `  ${f.padEnd(width)}${h}`), ...(options.footer ? ['', options.footer] : [])].join('\n');
}
