import { z } from 'zod';

/** What a secret setting takes, named in every error about one. */
export const SECRET_FORMS = '{value: …}, {file: /path} or {env: NAME}';

/**
 * A secret in a configuration file: exactly one of `value` (the secret itself,
 * prefer the other two), `file` (a file holding it, trailing newline ignored)
 * or `env` (an environment variable holding it). A bare string where a secret
 * is expected (`password: p`) is refused with a message naming the three
 * forms, not zod's "expected object".
 */
export function secretSource() {
  return z
    .strictObject(
      {
        /** The value itself in the file (prefer `file` or `env`). */
        value: z.string().min(1).optional(),
        /** A file holding the value (trailing newline ignored). */
        file: z.string().min(1).optional(),
        /** An environment variable holding the value. */
        env: z.string().min(1).optional(),
      },
      {
        error: (issue) =>
          issue.code === 'invalid_type'
            ? typeof issue.input === 'string'
              ? `a secret is not a bare string: write ${SECRET_FORMS}`
              : `expected a secret: ${SECRET_FORMS}`
            : undefined,
      },
    )
    .refine((o) => [o.value, o.file, o.env].filter((v) => v !== undefined).length === 1, `give exactly one of value, file, env (${SECRET_FORMS})`);
}

/** A secret setting as configured: read it with the upstream builder's resolver. */
export type SecretSource = z.output<ReturnType<typeof secretSource>>;
