import { ConfigError } from '../config/errors';
import type { AwsOptions } from '../credentials/aws-clients';
import { askAgent } from './agent-client';
import { agentFromArgs } from './args';
import { parseRequest, RequestError, MAX_REQUEST_BYTES, type CredentialProviderRequest } from './api';
import type { PluginConfig } from './settings';

/** Where the plugin reads and writes: the process's streams, or a test's. */
export interface PluginIo {
  stdin: NodeJS.ReadableStream;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

/** How long the plugin waits for kubelet to finish writing stdin (kubelet itself gives a plugin 1 minute). */
const STDIN_TIMEOUT_MS = 30_000;

/**
 * One plugin run, as kubelet execs it: one request on stdin, one response on
 * stdout, exit 0; or one line on stderr and exit 1 (bad input, nothing could
 * be minted) or 2 (a bad setting). Asks the node agent first; mints itself
 * when the agent is absent. When args or env name the agent socket, the
 * agent is asked before the full settings (YAML, rules) are loaded and
 * validated: they matter only when the plugin mints itself.
 */
export async function runPlugin(argv: string[], io: PluginIo, overrides: { aws?: AwsOptions } = {}): Promise<number> {
  try {
    return await run(argv, io, overrides);
  } catch (err) {
    // The one place errors become kubelet's failure line: 2 for a bad setting, 1 for bad input or nothing minted.
    const known = err instanceof ConfigError || err instanceof RequestError || err instanceof PluginFailure || isCredentialError(err);
    // An unexpected error's text could carry anything: only its name is printed.
    const message = known ? (err as Error).message : `internal error (${(err as Error)?.name ?? typeof err}); rerun with IMAGEGATE_LOG_LEVEL=debug`;
    io.stderr(`imagegate credential-provider: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return err instanceof ConfigError ? 2 : 1;
  }
}

/** A failure the agent reported, passed on as it said it. */
class PluginFailure extends Error {}

async function run(argv: string[], io: PluginIo, overrides: { aws?: AwsOptions }): Promise<number> {
  let config: PluginConfig | undefined;
  let agent = agentFromArgs(argv, io.env);
  if (!agent) {
    const loaded = loadSettings(argv, io.env);
    if (loaded.helpRequested) {
      io.stdout(`${loaded.help}\n\nReads one CredentialProviderRequest (credentialprovider.kubelet.k8s.io/v1 or v1beta1) on stdin and writes the response on stdout.\n`);
      return 0;
    }
    config = loaded.config;
    agent = { socket: config.credentialProvider.agentSocket, timeoutMs: config.credentialProvider.agentTimeout };
  }
  const request = parseRequest(await readStdin(io.stdin));
  let why = 'the agent is disabled (credentialProvider.agentSocket is "")';
  if (agent.socket) {
    const reply = await askAgent(agent.socket, JSON.stringify(request), agent.timeoutMs);
    if (reply.kind === 'answer') {
      io.stdout(reply.body.endsWith('\n') ? reply.body : `${reply.body}\n`);
      return 0;
    }
    if (reply.kind === 'failed') throw new PluginFailure(reply.message);
    why = `the agent at ${agent.socket} is not answering (${reply.why})`;
  }
  config ??= loadSettings(argv, io.env).config;
  return mintDirectly(config, request, why, io, overrides);
}

/** The full settings (zod, yaml), loaded only when needed. */
function loadSettings(argv: string[], env: NodeJS.ProcessEnv) {
  const { loadPluginConfig } = require('./settings') as typeof import('./settings');
  return loadPluginConfig(argv, env);
}

/** CredentialError without loading its module (and the AWS error helpers) on the agent path. */
function isCredentialError(err: unknown): boolean {
  return (err as Error | undefined)?.name === 'CredentialError';
}

async function mintDirectly(config: PluginConfig, request: CredentialProviderRequest, why: string, io: PluginIo, overrides: { aws?: AwsOptions }): Promise<number> {
  // kubelet logs the plugin's stderr as the failure reason: keep it to one line, without the SDK's multi-line notice.
  io.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { CredentialProviderService } = require('./service') as typeof import('./service');
  const { createLogger } = require('../log/logger') as typeof import('../log/logger');
  const logger = createLogger({ level: config.logLevel, format: 'text', defaultMeta: { component: 'credential-provider' } });
  logger.info('minting directly', { why });
  const service = new CredentialProviderService({ credentials: config.credentials, settings: config.credentialProvider, aws: overrides.aws, logger });
  try {
    io.stdout(JSON.stringify(await service.answer(request)) + '\n');
    return 0;
  } finally {
    await service.close();
  }
}

/** All of stdin, capped (a byte past the cap is enough to refuse), within STDIN_TIMEOUT_MS. */
function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => finish(new RequestError(`stdin: not closed within ${STDIN_TIMEOUT_MS / 1000}s`)), STDIN_TIMEOUT_MS);
    const onData = (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      size += b.length;
      if (size > MAX_REQUEST_BYTES) return finish(new RequestError(`stdin: request larger than ${MAX_REQUEST_BYTES / 1024} KiB`));
      chunks.push(b);
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(new RequestError(`stdin: ${err.message}`));
    function finish(err?: Error) {
      clearTimeout(timer);
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.removeListener('error', onError);
      if (err) {
        (stdin as NodeJS.ReadStream).destroy?.();
        return reject(err);
      }
      resolve(Buffer.concat(chunks).toString('utf8'));
    }
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.on('error', onError);
  });
}
