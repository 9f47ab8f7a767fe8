import { createLogger, type Logger } from '../../../../src/log/logger';

/** A debug-level logger whose lines land in `lines`, so tests can search them for secrets. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level: 'debug', sink: lines }), lines };
}
