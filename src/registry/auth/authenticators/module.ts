import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { z } from 'zod';
import { ConfigError } from '../../../config/errors';
import type { Authenticator, AuthenticatorEnv, AuthenticatorFactory, PluginAuthenticatorFactory } from '../authenticator';

/** The options of this authenticator (docs/configuration.md checks its keys against them). */
export const schema = z.strictObject({
  /** The plugin file (`.js`, `.cjs`, `.mjs`), relative to the config file. */
  path: z.string().min(1),
  /** Passed to the plugin's factory as its `options`. */
  options: z.unknown().optional(),
});

/** A real dynamic `import()`, which TypeScript's CommonJS output would otherwise turn into `require()`. */
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

/**
 * `module`: loads an authenticator factory from a file — CommonJS or ESM,
 * exported as the default export or as `create` — and calls it with
 * `options` and the usual env. A file that cannot be loaded, exports no
 * factory, or whose factory throws or returns no authenticator stops start-up:
 * a plugin is never skipped.
 */
export const moduleAuthenticator: AuthenticatorFactory<Params> = { name: 'module', params: schema, create: createModule };

type Params = z.output<typeof schema>;

async function createModule(o: Params, env: AuthenticatorEnv) {
  const file = resolve(env.baseDir, o.path);
  const at = `${env.configPath}.path`;
  if (!existsSync(file)) throw new ConfigError(at, `${file}: no such file`);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(pathToFileURL(file).href);
  } catch (err) {
    throw new ConfigError(at, `${file}: cannot load: ${(err as Error).message}`);
  }
  const factory = factoryOf(mod);
  if (!factory) throw new ConfigError(at, `${file}: exports no factory (a default export function, or a function named create)`);
  let authenticator: unknown;
  try {
    authenticator = await factory(o.options, { ...env, configPath: `${env.configPath}.options` });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`${env.configPath}.options`, `${file}: ${(err as Error)?.message ?? String(err)}`);
  }
  if (!isAuthenticator(authenticator)) {
    throw new ConfigError(at, `${file}: the factory returned no authenticator (an object with authenticate() and close())`);
  }
  return authenticator;
}

function factoryOf(mod: Record<string, unknown>): PluginAuthenticatorFactory | undefined {
  const def = mod.default as Record<string, unknown> | ((...args: unknown[]) => unknown) | undefined;
  if (typeof def === 'function') return def as PluginAuthenticatorFactory;
  if (typeof mod.create === 'function') return mod.create as PluginAuthenticatorFactory;
  if (def && typeof def === 'object' && typeof def.create === 'function') return def.create as PluginAuthenticatorFactory;
  return undefined;
}

function isAuthenticator(value: unknown): value is Authenticator {
  const a = value as Partial<Authenticator> | null;
  return !!a && typeof a.authenticate === 'function' && typeof a.close === 'function';
}
