import { z } from 'zod';
import { duration } from '../config/duration';
import { parseEcrHost } from './ecr-host';
import type { ProviderFactories } from './credential-provider';
import { builtinProviderFactories } from './providers';
import { hasWildcard } from '../lib/glob';

/** What to do when kubelet also sent credentials for a pull a rule matched. */
export const PRECEDENCES = ['minted-first', 'kubelet-first', 'minted-only', 'kubelet-only'] as const;
export type Precedence = (typeof PRECEDENCES)[number];

const ruleSchema = z
  .object({
    /** For logs. Default `rules[N]`. */
    name: z.string().min(1).optional(),
    match: z
      .object({
        /** Registry host glob (`*` any run of characters but `/`). Default `*`. */
        registry: z.string().min(1).default('*'),
        /** Repository prefix, whole path segments (`team-a` matches `team-a/app`). Default: any. */
        repository: z.string().default(''),
        /** Pod namespace(s), from PullImageRequest.sandbox_config. Default: any (and pulls with no pod). */
        namespace: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
        /** Pod labels that must all be present with these values. Default: none. (Not known to the kubelet credential provider: such a rule never matches there.) */
        labels: z.record(z.string(), z.string()).default({}),
        /** Service account name(s), from the token of a kubelet credential provider request. Default: any. (Not known to the image service: such a rule never matches there.) */
        serviceAccount: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
        /** Service-account annotations kubelet passed to the credential provider, all with these values. Default: none. */
        annotations: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .default({ registry: '*', repository: '', labels: {} }),
    /** Provider name: ecr, sts-jwt, static, kubelet, gcp-access-token, gcp-id-token or aws-iam. Required. */
    provider: z.string({ error: 'every rule needs a provider (ecr, sts-jwt, static, kubelet, gcp-access-token, gcp-id-token, aws-iam)' }).min(1),
    /** The provider's parameters. Default none. */
    with: z.record(z.string(), z.unknown()).default({}),
    /** When kubelet also sent credentials. Default minted-first. */
    precedence: z.enum(PRECEDENCES).default('minted-first'),
  })
  .strict();

/** One rule after validation: `params` are the provider's parsed parameters. */
export type RuleConfig = Omit<z.output<typeof ruleSchema>, 'with'> & { name: string; params: unknown };

/** The `credentials:` section. Built against a set of provider factories (default the built-ins). */
export function credentialsSchema(providers: ProviderFactories = builtinProviderFactories) {
  return z
    .object({
      /** Ordered; the first rule that matches a pull decides. Default none (kubelet's credentials are used as sent). */
      rules: z.array(ruleSchema).default([]),
      aws: z
        .object({
          /** STS region. Default: the SDK chain (AWS_REGION, profile, IMDS). */
          region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'must be an AWS region such as eu-west-1' }).optional(),
        })
        .strict()
        .default({}),
      cache: z
        .object({
          /** Most tokens held. Default 1000. */
          maxEntries: z.number().int().min(1).default(1000),
          /** Extra random earliness of refreshes, as a fraction of the skew. Default 0.2. */
          jitter: z.number().min(0).max(1).default(0.2),
          /** First retry after a failed refresh. Default 1s. */
          backoffInitial: duration().default(1000),
          /** Longest retry interval. Default 5m. */
          backoffMax: duration().default(300_000),
        })
        .strict()
        .default({ maxEntries: 1000, jitter: 0.2, backoffInitial: 1000, backoffMax: 300_000 }),
    })
    .strict()
    .transform((cfg, ctx) => {
      const rules: RuleConfig[] = cfg.rules.map((rule, i) => {
        const { with: raw, ...rest } = rule;
        const factory = providers.get(rule.provider);
        if (!factory) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'provider'], message: providers.unknownMessage(rule.provider) });
          return { ...rest, name: rule.name ?? `rules[${i}]`, params: undefined };
        }
        const parsed = factory.params.safeParse(raw);
        if (!parsed.success) {
          for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: ['rules', i, 'with', ...issue.path], message: issue.message });
        }
        const literal = rule.match.registry;
        if (rule.provider === 'ecr' && raw.registry === undefined && !hasWildcard(literal) && !parseEcrHost(literal)) {
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'match', 'registry'], message: `"${literal}" is not an ECR host; set with.registry to the ECR host to mint for` });
        }
        return { ...rest, name: rule.name ?? `rules[${i}]`, params: parsed.success ? parsed.data : undefined };
      });
      return { ...cfg, rules };
    });
}

export type CredentialsConfig = z.output<ReturnType<typeof credentialsSchema>>;
