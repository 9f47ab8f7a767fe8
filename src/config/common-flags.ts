import { LOG_FORMATS, LOG_LEVELS } from '../log/levels';
import type { Binding } from './load';

/**
 * The flags every command shares, bound the same way everywhere: one flag
 * name and one help line each. `--config` (the YAML file) is bound by
 * loadConfig itself. Defaults are not written here: each command's schema (or
 * its embedded defaults) holds them, and `--help` shows them from there.
 * Variables default to imagegate's own names; a drop-in keeps the names of
 * the tool it replaces (the outbound proxy's `LOG_LEVEL`).
 */
export const commonFlags = {
  /** `--log-level`: lowest level logged. */
  logLevel: (path: string, env = 'IMAGEGATE_LOG_LEVEL'): Binding => ({ flag: 'log-level', env, path, help: `lowest level logged: ${LOG_LEVELS.join(', ')}` }),
  /** `--log-format`: how log lines are written. */
  logFormat: (path: string, env = 'IMAGEGATE_LOG_FORMAT'): Binding => ({ flag: 'log-format', env, path, help: `log lines as ${LOG_FORMATS.join(' or ')}` }),
  /** `--metrics-listen`: the host:port of /metrics and the probes; `note` says what this command adds (e.g. `"" = off`). */
  metricsListen: (path: string, env: string, options: { flag?: string; note?: string } = {}): Binding => ({
    flag: options.flag ?? 'metrics-listen',
    env,
    path,
    help: `host:port serving /metrics, /healthz and /readyz${options.note ? `; ${options.note}` : ''}`,
  }),
};
