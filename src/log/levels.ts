/** The levels a logger writes, most severe first. Kept apart from logger.ts so flag tables can name them without loading winston. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
/** `json` (one object per line) or `text` for people. */
export const LOG_FORMATS = ['json', 'text'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFormat = (typeof LOG_FORMATS)[number];
