import { parseArgs } from 'node:util';
import { commonFlags } from '../config/common-flags';
import type { Binding } from '../config/load';
import { parseDuration } from '../config/duration-text';

/** Where the DaemonSet's agent listens (host path). */
export const DEFAULT_AGENT_SOCKET = '/run/imagegate/credential-provider.sock';
/** Default wait for a hung agent. */
export const DEFAULT_AGENT_TIMEOUT_MS = 20_000;

/** Flags (the provider's `args`) and environment variables (its `env`). */
export const pluginBindings: Binding[] = [
  { flag: 'agent-socket', env: 'IMAGEGATE_AGENT_SOCKET', path: 'credentialProvider.agentSocket', help: 'node agent socket, "" to disable' },
  { flag: 'agent-timeout', env: 'IMAGEGATE_AGENT_TIMEOUT', path: 'credentialProvider.agentTimeout', help: 'wait this long for a hung agent before minting directly' },
  { flag: 'role-annotation', env: 'IMAGEGATE_ROLE_ANNOTATIONS', path: 'credentialProvider.serviceAccount.roleAnnotations', type: 'list', help: 'service-account annotation naming the role; repeat or comma-separate' },
  { flag: 'require-service-account', env: 'IMAGEGATE_REQUIRE_SERVICE_ACCOUNT', path: 'credentialProvider.serviceAccount.require', type: 'boolean', help: 'fail requests without a service-account token' },
  { flag: 'fallback', env: 'IMAGEGATE_IDENTITY_FALLBACK', path: 'credentialProvider.serviceAccount.fallback', help: 'no token or no role annotation: none | node' },
  { flag: 'region', env: 'IMAGEGATE_AWS_REGION', path: 'credentials.aws.region', help: 'STS region (unset: the SDK chain, AWS_REGION)' },
  commonFlags.logLevel('logLevel'),
];

/**
 * The agent's socket and timeout from the provider entry's args and env
 * alone, without loading the settings schema (zod, yaml): the plugin's fast
 * path. Undefined when the full settings must be loaded first: the YAML file
 * is needed to know the socket (neither `--agent-socket` nor
 * IMAGEGATE_AGENT_SOCKET given), help was asked for, or an argument or one
 * of these two values is bad (the full load then names it).
 */
export function agentFromArgs(argv: string[], env: NodeJS.ProcessEnv): { socket: string; timeoutMs: number } | undefined {
  const options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = { config: { type: 'string' }, help: { type: 'boolean', short: 'h' } };
  for (const b of pluginBindings) options[b.flag] = { type: b.type === 'boolean' ? 'boolean' : 'string', ...(b.type === 'list' ? { multiple: true } : {}) };
  let values: Record<string, unknown>;
  try {
    values = (parseArgs({ args: argv, options, strict: true, allowPositionals: false, allowNegative: true } as never) as { values: Record<string, unknown> }).values;
  } catch {
    return undefined;
  }
  if (values.help) return undefined;
  const socket = (values['agent-socket'] as string | undefined) ?? (env.IMAGEGATE_AGENT_SOCKET || undefined);
  if (socket === undefined || (socket !== '' && !socket.startsWith('/'))) return undefined;
  const timeoutText = (values['agent-timeout'] as string | undefined) ?? (env.IMAGEGATE_AGENT_TIMEOUT || undefined);
  const timeoutMs = timeoutText === undefined ? DEFAULT_AGENT_TIMEOUT_MS : parseDuration(timeoutText);
  if (timeoutMs === undefined || timeoutMs <= 0) return undefined;
  return { socket, timeoutMs };
}
