import { z } from 'zod';
import { LOG_FORMATS, LOG_LEVELS, type LogLevel } from './levels';

/** The `log level` setting every command shares: one of LOG_LEVELS, default `info` (the credential provider plugin's is `error`). */
export const logLevelSetting = (fallback: LogLevel = 'info') => z.enum(LOG_LEVELS).default(fallback);
/** The `log format` setting every command shares: `json` (default) or `text`. */
export const logFormatSetting = () => z.enum(LOG_FORMATS).default('json');
