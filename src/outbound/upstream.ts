import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import type { Agent as AgentType, Dispatcher } from 'undici';
import { ConfigError } from '../config/errors';
import type { RawHeaders } from './headers';
import type { Route } from './route';

/**
 * undici's Agent alone: `require('undici')` loads fetch, WebSocket, caches and
 * mocks as well, 8 MiB more RSS (58.6 against 50.4 MiB in a bare `node`), and
 * the proxy's streaming bound is 100 MB.
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Agent = require('undici/lib/dispatcher/agent') as typeof AgentType;

/** Time allowed to open a TCP (and TLS) connection upstream, as in aws-outbound-jwt-proxy. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * The proxy's HTTP/1.1 client: one undici `Agent`, a keep-alive connection
 * pool per upstream origin (as many connections as requests in flight, reused
 * for as long as the upstream's `Keep-Alive` hint allows, else 4 s idle), with
 * the custom CA bundle when one is configured. undici's own response timeouts
 * are off: the forwarder times the response headers itself, from the end of
 * the request body (undici's headers timer runs while a slow upload is still
 * being sent), and a response body may take as long as it takes, as with
 * node:http and aws-outbound-jwt-proxy.
 */
export class Upstream {
  readonly #agent: AgentType;

  constructor(caFile?: string) {
    let ca: string[] | undefined;
    if (caFile) {
      let pem: string;
      try {
        pem = readFileSync(caFile, 'utf8');
      } catch (err) {
        throw new ConfigError('UPSTREAM_CA_FILE', `cannot read ${caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('UPSTREAM_CA_FILE', `${caFile} holds no PEM certificate`);
      ca = [...rootCertificates, pem];
    }
    this.#agent = new Agent({ connect: { timeout: CONNECT_TIMEOUT_MS, ca }, headersTimeout: 0, bodyTimeout: 0 });
  }

  /**
   * Sends a request to the route's upstream; `handler` gets the response (or
   * the failure) through undici's handler callbacks. `headers` must hold no
   * hop-by-hop header (undici refuses them); `upgrade` asks for that protocol
   * (undici writes the Connection/Upgrade pair and hands over the socket on 101).
   * A connection not open within CONNECT_TIMEOUT_MS fails with
   * `UND_ERR_CONNECT_TIMEOUT`.
   */
  dispatch(route: Route, method: string, path: string, headers: RawHeaders, body: NodeJS.ReadableStream | null, handler: Dispatcher.DispatchHandler, upgrade?: string): void {
    this.#agent.dispatch({ origin: route.origin, method: method as Dispatcher.HttpMethod, path, headers, body: body as Dispatcher.DispatchOptions['body'], upgrade }, handler);
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    await this.#agent.destroy();
  }
}
