import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { ConfigError } from '../config/errors';
import { OutboundError } from './errors';
import type { RawHeaders } from './headers';
import type { Route } from './route';

/** Time allowed to open a TCP (and TLS) connection upstream, as in aws-outbound-jwt-proxy. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** Connection pools for upstream requests, with the custom CA bundle when one is configured. */
export class UpstreamAgents {
  readonly http: http.Agent;
  readonly https: https.Agent;
  readonly #ca?: string[];

  constructor(caFile?: string) {
    if (caFile) {
      let pem: string;
      try {
        pem = readFileSync(caFile, 'utf8');
      } catch (err) {
        throw new ConfigError('UPSTREAM_CA_FILE', `cannot read ${caFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('UPSTREAM_CA_FILE', `${caFile} holds no PEM certificate`);
      this.#ca = [...rootCertificates, pem];
    }
    this.http = new http.Agent({ keepAlive: true, maxFreeSockets: 256 });
    this.https = new https.Agent({ keepAlive: true, maxFreeSockets: 256, ca: this.#ca });
  }

  /**
   * Starts a request to the route's upstream. `fresh` asks for a connection of
   * its own (WebSocket upgrades). A connection not open within
   * CONNECT_TIMEOUT_MS fails the request with a timeout.
   */
  request(route: Route, method: string | undefined, path: string, headers: RawHeaders, fresh = false): http.ClientRequest {
    const req =
      route.scheme === 'https'
        ? https.request({
            method, path, headers, host: route.target.host, port: route.port, servername: serverName(route),
            agent: fresh ? false : this.https, ca: fresh ? this.#ca : undefined,
          })
        : http.request({ method, path, headers, host: route.target.host, port: route.port, agent: fresh ? false : this.http });
    req.once('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(() => req.destroy(new OutboundError('timeout', `no connection to ${route.target.authority} within ${CONNECT_TIMEOUT_MS} ms`)), CONNECT_TIMEOUT_MS);
      socket.once(route.scheme === 'https' ? 'secureConnect' : 'connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    return req;
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }
}

/** SNI name: the host, unless it is an IP address (TLS forbids IP literals in SNI). */
function serverName(route: Route): string | undefined {
  const host = route.target.host;
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}
