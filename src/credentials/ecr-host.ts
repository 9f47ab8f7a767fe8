/** What an ECR registry host names. */
export type EcrRegistry =
  | { kind: 'private'; host: string; account: string; region: string; fips: boolean; dualStack: boolean }
  | { kind: 'public'; host: string; region: 'us-east-1' };

const PRIVATE = /^(\d{12})\.dkr\.ecr(-fips)?\.([a-z0-9-]+)\.(amazonaws\.com(?:\.cn)?|amazonaws\.eu|sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$/;
const DUAL_STACK = /^(\d{12})\.dkr-ecr(-fips)?\.([a-z0-9-]+)\.(on\.aws|on\.amazonwebservices\.com\.cn)$/;
const PUBLIC = new Set(['public.ecr.aws', 'ecr-public.aws.com']);

/**
 * Parses an ECR registry host: `<account>.dkr.ecr.<region>.amazonaws.com`
 * (also `.com.cn`, other partitions and `dkr.ecr-fips`), the dual-stack
 * `<account>.dkr-ecr.<region>.on.aws`, or ECR Public (`public.ecr.aws`,
 * `ecr-public.aws.com`). A `:443` port is allowed. Undefined when it is none.
 */
export function parseEcrHost(text: string): EcrRegistry | undefined {
  const host = text.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '').replace(/:443$/, '');
  if (PUBLIC.has(host)) return { kind: 'public', host, region: 'us-east-1' };
  const m = PRIVATE.exec(host) ?? DUAL_STACK.exec(host);
  if (!m || !/^[a-z]{2}(-[a-z]+)+-\d+$/.test(m[3])) return undefined;
  return { kind: 'private', host, account: m[1], region: m[3], fips: Boolean(m[2]), dualStack: host.includes('.dkr-ecr') };
}
