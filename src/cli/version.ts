import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The package version, read once from package.json (works from src/ and dist/src/). */
export const VERSION: string = (() => {
  for (const up of ['../..', '../../..']) {
    try {
      return (JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      // try the next level up
    }
  }
  return '0.0.0';
})();
