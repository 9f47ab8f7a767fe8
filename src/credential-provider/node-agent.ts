import type { Registry } from 'prom-client';
import { ConfigError } from '../config/errors';
import type { CredentialsConfig } from '../credentials/config';
import type { CredentialServices } from '../credentials/services';
import type { Logger } from '../log/logger';
import { CredentialProviderAgent } from './agent';
import { CredentialProviderService } from './service';
import type { CredentialProviderSettings } from './settings';

/** The agent as the image service runs it: its socket, the token services it owns, and one close. */
export interface NodeAgent {
  /** The shared token services; the image service builds its PullCredentials on them. */
  services: CredentialServices;
  close(): Promise<void>;
}

/** Starts the credential provider agent on `settings.agentSocket` (required here). */
export async function startNodeAgent(options: {
  credentials?: CredentialsConfig;
  settings: CredentialProviderSettings;
  logger: Logger;
  metrics?: Registry;
}): Promise<NodeAgent> {
  const service = new CredentialProviderService(options);
  if (!options.settings.agentSocket) {
    await service.close();
    throw new ConfigError('credentialProvider.agentSocket', 'must name a socket for the image service to serve the agent on');
  }
  let agent: CredentialProviderAgent;
  try {
    agent = await CredentialProviderAgent.start({ socket: options.settings.agentSocket, service, logger: options.logger });
  } catch (err) {
    await service.close();
    throw err;
  }
  return {
    services: service.tokenServices,
    async close() {
      await agent.close();
      await service.close();
    },
  };
}
