/**
 * A setting that cannot be used. `setting` names it the way the user wrote it
 * (`--socket`, `IMAGEGATE_SOCKET`, `credentials.rules[2].provider`); the CLI
 * prints `imagegate: <setting>: <problem>` as one line and exits 2.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';

  constructor(
    readonly setting: string,
    readonly problem: string,
  ) {
    super(`${setting}: ${problem}`);
  }
}
