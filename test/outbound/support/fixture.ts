import { once } from 'node:events';
import http from 'node:http';
import { Registry } from 'prom-client';
import { silentLogger } from '../../../src/log/logger';
import { startOutboundProxy, type OutboundProxy } from '../../../src/outbound/server';
import { loadSettings } from '../../../src/outbound/settings';
import { createStsTokenSource, type StsTokens } from '../../../src/outbound/tokens';
import { AwsStandIn, standInCredentials } from '../../../testing/aws';
import { JwtCheckingUpstream } from './upstream';

/** A proxy started in-process from settings, with its own registry. */
export interface StartedProxy {
  proxy: OutboundProxy;
  tokens: StsTokens;
  registry: Registry;
  port: number;
  close(): Promise<void>;
}

/**
 * The AWS stand-in (with a clock that tests may set back, to mint tokens that
 * expire soon) and a JWT-checking loopback upstream, shared by a suite.
 */
export class OutboundFixture {
  /** Milliseconds the stand-in's clock runs behind. */
  clockBehindMs = 0;
  aws!: AwsStandIn;
  upstream!: JwtCheckingUpstream;
  private readonly proxies: StartedProxy[] = [];

  async start(): Promise<this> {
    this.aws = await AwsStandIn.start({ now: () => Date.now() - this.clockBehindMs });
    this.upstream = await JwtCheckingUpstream.start({ jwksUrl: this.aws.jwksUrl, issuer: this.aws.issuer });
    return this;
  }

  /** Starts `imagegate outbound-proxy` in-process with the given variables (plus loopback listen and no metrics). */
  async proxy(env: Record<string, string>, argv: string[] = []): Promise<StartedProxy> {
    const loaded = loadSettings(argv, { LISTEN_ADDR: '127.0.0.1:0', METRICS_ENABLED: 'false', UPSTREAM_SCHEME: 'http', ...env });
    if (!('settings' in loaded)) throw new Error('expected settings, got help');
    const { settings } = loaded;
    const registry = new Registry();
    const tokens = createStsTokenSource(settings, {
      registry,
      aws: { region: 'eu-west-1', endpoints: { sts: this.aws.url }, credentials: standInCredentials, maxAttempts: 1 },
    });
    const proxy = await startOutboundProxy(settings, { tokens: tokens.get, metricsRegistry: registry, logger: silentLogger });
    const started: StartedProxy = {
      proxy,
      tokens,
      registry,
      port: proxy.address.port,
      close: async () => {
        await proxy.close(1000);
        await tokens.close();
      },
    };
    this.proxies.push(started);
    return started;
  }

  /** Forgets calls and injected failures between tests. */
  reset(): void {
    this.clockBehindMs = 0;
    this.aws.reset();
    this.upstream.reset();
    this.upstream.authHeader = 'authorization';
    this.upstream.authScheme = 'Bearer';
  }

  stsCalls(): number {
    return this.aws.calls('sts:GetWebIdentityToken');
  }

  async close(): Promise<void> {
    for (const p of this.proxies.splice(0)) await p.close();
    await this.upstream?.close();
    await this.aws?.close();
  }
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request with exactly these headers (fetch forbids hop-by-hop ones); bounded by `timeoutMs`. */
export function send(
  port: number,
  options: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string; agent?: http.Agent } = {},
  timeoutMs = 20_000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/echo', headers: options.headers, agent: options.agent ?? false },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (t: string) => (body += t));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A WebSocket handshake (RFC 6455's sample key) on /socket; resolves with the proxy's first answer. */
export async function webSocketHandshake(port: number): Promise<http.IncomingMessage> {
  const req = http.get({
    host: '127.0.0.1',
    port,
    path: '/socket',
    headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
  });
  const [res] = (await once(req, 'response')) as [http.IncomingMessage];
  return res;
}

/** What /echo answered: the upstream's view of the request. */
export function echoed(answer: Answer): { headers: http.IncomingHttpHeaders; claims: Record<string, unknown>; path: string } {
  if (answer.status !== 200) throw new Error(`expected 200 from the upstream, got ${answer.status}: ${answer.body}`);
  return JSON.parse(answer.body);
}
