import type { Registry } from 'prom-client';
import type { Logger } from '../log/logger';
import type { Secret } from '../log/secret';
import type { OutboundSettings } from './settings';
import type { TokenSource } from './token-source';

/** The proxy's token source and its lifecycle. */
export interface StsTokens {
  get: TokenSource;
  /** Stops background refreshes. */
  close(): Promise<void>;
}

/** PLACEHOLDER until the credentials sts-jwt provider and cache land. */
export function createStsTokenSource(_settings: OutboundSettings, _deps: { registry: Registry; logger: Logger }): StsTokens {
  return {
    get: async (): Promise<Secret> => {
      throw new Error('sts-jwt provider not wired yet');
    },
    close: async () => undefined,
  };
}
