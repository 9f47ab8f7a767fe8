import { untilSignal } from '../cli/lifecycle';
import { ConfigError } from '../config/errors';
import { createLogger } from '../log/logger';
import { CredentialProviderAgent } from './agent';
import { CredentialProviderService } from './service';
import { loadPluginConfig } from './settings';

/**
 * `imagegate credential-provider serve`: the node agent on its own (same
 * settings as the plugin), until SIGTERM/SIGINT.
 */
export async function serveAgent(argv: string[]): Promise<number> {
  const { config, helpRequested, help } = loadPluginConfig(argv);
  if (helpRequested) {
    process.stdout.write(`${help.replace('credential-provider', 'credential-provider serve')}\n`);
    return 0;
  }
  if (!config.credentialProvider.agentSocket) throw new ConfigError('credentialProvider.agentSocket', 'must name a socket to serve on');
  const stop = untilSignal();
  const logger = createLogger({ level: config.logLevel === 'error' ? 'info' : config.logLevel, defaultMeta: { component: 'credential-provider-agent' } });
  const service = new CredentialProviderService({ credentials: config.credentials, settings: config.credentialProvider, logger });
  const agent = await CredentialProviderAgent.start({ socket: config.credentialProvider.agentSocket, service, logger });
  await stop;
  await agent.close();
  await service.close();
  return 0;
}
