import { z } from 'zod';
import { duration } from '../config/duration';
import { loadConfig, type FlagTable, type Loaded } from '../config/load';
import { logLevelSetting } from '../log/settings';
import { DEFAULT_AGENT_SOCKET, pluginBindings } from './args';
import { credentialsSchema } from '../credentials/config';

/** Annotations read for the role to pull as, first found wins: imagegate's own, then EKS's ecr-credential-provider's. */
export const DEFAULT_ROLE_ANNOTATIONS = ['imagegate.io/role-arn', 'eks.amazonaws.com/ecr-role-arn'];
export { DEFAULT_AGENT_SOCKET };

/**
 * The `credentialProvider:` section, shared by the plugin and by the agent
 * the image service runs (`imagegate image-service` with this section serves
 * the agent socket). Each default is written beside its field.
 */
export const credentialProviderSchema = z
  .object({
    /** Unix socket of the node agent; the plugin asks it first and mints itself only when nothing listens. `""` disables. Default /run/imagegate/credential-provider.sock. */
    agentSocket: z
      .string()
      .default(DEFAULT_AGENT_SOCKET)
      .refine((p) => p === '' || p.startsWith('/'), { message: 'must be an absolute path (or "" to disable the agent)' }),
    /** How long the plugin waits for the agent's answer before minting itself (an absent agent is noticed at once; this only bounds a hung one). Default 20s. */
    agentTimeout: duration('20s').refine((ms) => ms > 0, { message: 'must be more than 0' }),
    serviceAccount: z
      .object({
        /** Annotations naming the IAM role to pull as (first present wins); list them in kubelet's optionalServiceAccountAnnotationKeys. Default imagegate.io/role-arn, eks.amazonaws.com/ecr-role-arn. */
        roleAnnotations: z.array(z.string().min(1)).min(1).default(DEFAULT_ROLE_ANNOTATIONS),
        /** Fail a request that carries no service-account token (as kubelet's tokenAttributes.requireServiceAccount promises one). Default false. */
        require: z.boolean().default(false),
        /** With no token or no role annotation: `none` (AWS providers fail, saying why) or `node` (mint as the node's identity). Default none. */
        fallback: z.enum(['none', 'node']).default('none'),
        /** Lifetime asked of AssumeRoleWithWebIdentity sessions, 15m–12h (the role's maximum applies). Default 1h. */
        sessionDuration: duration('1h').refine((ms) => ms >= 900_000 && ms <= 43_200_000 && ms % 1000 === 0, { message: 'must be whole seconds between 15m and 12h' }),
      })
      .strict()
      .prefault({}),
    /** kubelet may cache an answer until the credentials' expiry minus this. Default 5m. */
    refreshSkew: duration('5m'),
    /** cacheDuration of an answer with no credentials (no rule matched). Default 1m. */
    noMatchCacheDuration: duration('1m'),
  })
  .strict();

export type CredentialProviderSettings = z.output<typeof credentialProviderSchema>;

/** Everything `imagegate credential-provider` reads. */
export const pluginSchema = z.object({
  /** The same rules as the image service (README, credentials). Default none: every answer is empty. */
  credentials: credentialsSchema().optional(),
  credentialProvider: credentialProviderSchema.prefault({}),
  /** Lines on stderr below this level are dropped; kubelet logs the plugin's stderr. Default error. */
  logLevel: logLevelSetting('error'),
});

export type PluginConfig = z.output<typeof pluginSchema>;

/** What `imagegate credential-provider` (and `… serve`) reads. */
export const pluginFlags: FlagTable<typeof pluginSchema> = { schema: pluginSchema, bindings: pluginBindings };

/** Loads the plugin's settings: YAML (`--config` / IMAGEGATE_CONFIG), then env, then args. Throws ConfigError. */
export function loadPluginConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): Loaded<PluginConfig> {
  return loadConfig({ command: 'credential-provider', schema: pluginSchema, bindings: pluginBindings, argv, env });
}
