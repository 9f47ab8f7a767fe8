import winston from 'winston';
import { LOG_LEVELS, type LogFormat, type LogLevel } from './levels';
import { Secret } from './secret';

export { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from './levels';
export { logFormatSetting, logLevelSetting } from './settings';

export interface LoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** `json` (one object per line, the default) or `text` for people. */
  format?: LogFormat;
  /** Set on every line, e.g. `{component: 'image-service'}`. */
  defaultMeta?: Record<string, unknown>;
  /** Where lines go; default stderr. Tests pass an array to capture lines. */
  sink?: string[];
}

export type Logger = winston.Logger;

/** Keys whose values are secrets whatever their type (but a `…File`/`…Path` key names where one is, not the secret). */
const SECRET_NAME = /pass(word)?|secret|token|authorization|^auth$|credential|cookie|private.?key/i;
const LOCATION_NAME = /(file|path|dir|url)$/i;
const SECRET_KEY = { test: (key: string) => SECRET_NAME.test(key) && !LOCATION_NAME.test(key) };

/** Replaces secrets in log metadata: `Secret` instances by type, and known secret keys by name. */
export function redact(value: unknown, depth = 0): unknown {
  if (value instanceof Secret) return value.toString();
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    return { name: value.name, message: value.message, ...(redact({ ...value }, depth + 1) as object) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && isSecretScalar(v) ? '***' : redact(v, depth + 1);
  }
  return out;
}

/** A non-empty string or number: what a secret-named key holds when it holds the secret itself. */
function isSecretScalar(v: unknown): boolean {
  return (typeof v === 'string' && v !== '') || typeof v === 'number' || typeof v === 'bigint';
}

const redactFormat = winston.format((info) => {
  for (const key of Object.keys(info)) {
    if (key === 'level' || key === 'message' || key === 'timestamp') continue;
    info[key] = SECRET_KEY.test(key) && isSecretScalar(info[key]) ? '***' : redact(info[key]);
  }
  if (info.message instanceof Secret) info.message = info.message.toString();
  return info;
});

/** Creates the process logger: JSON lines on stderr with secrets redacted. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format =
    options.format === 'text'
      ? winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.printf(textLine))
      : winston.format.combine(redactFormat(), winston.format.timestamp(), winston.format.json());
  const transport = options.sink
    ? new winston.transports.Stream({ stream: arraySink(options.sink) })
    : new winston.transports.Console({ stderrLevels: [...LOG_LEVELS] });
  return winston.createLogger({ level: options.level ?? 'info', format, defaultMeta: options.defaultMeta, transports: [transport] });
}

function textLine(info: winston.Logform.TransformableInfo): string {
  const { level, message, timestamp, ...rest } = info;
  const meta = Object.keys(rest).length > 0 ? ' ' + JSON.stringify(rest) : '';
  return `${String(timestamp)} ${level} ${String(message)}${meta}`;
}

function arraySink(lines: string[]): NodeJS.WritableStream {
  const { Writable } = require('node:stream') as typeof import('node:stream');
  return new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk).trimEnd());
      done();
    },
  });
}

/** A logger that writes nothing, for library code used without one. */
export const silentLogger: Logger = winston.createLogger({ silent: true });
