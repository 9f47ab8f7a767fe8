import { inspect } from 'node:util';

const REDACTED = '***';

/**
 * A value that must never be printed: a password, a token, an auth header.
 * `toString`, `toJSON` and `util.inspect` all answer `***`, so a Secret that
 * reaches a log line, a JSON body or an error message by accident stays hidden.
 * Call `reveal()` only at the point where the value leaves the process
 * (an HTTP header, a gRPC field).
 */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret value itself. */
  reveal(): string {
    return this.#value;
  }

  /** True when the secret holds the empty string. */
  isEmpty(): boolean {
    return this.#value.length === 0;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/** Wraps a possibly-missing string; empty and absent both give undefined. */
export function secretOf(value: string | undefined | null): Secret | undefined {
  return value ? new Secret(value) : undefined;
}
