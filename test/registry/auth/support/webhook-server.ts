import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the test webhook saw: every JSON body POSTed to it. */
export interface WebhookServer {
  url: string;
  seen: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * A loopback webhook: user `alice` / `alice-hook-pw` (or bearer `hook-token`)
 * → 200 with identity and groups; path `/slow` never answers; `/garbage`
 * answers 200 with no identity; everything else → 403.
 */
export async function startWebhookServer(): Promise<WebhookServer> {
  const seen: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      seen.push({ ...body, path: req.url, contentType: req.headers['content-type'], authorization: req.headers.authorization });
      if (req.url === '/slow') return;
      if (req.url === '/garbage') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"groups":"x"}');
      const ok = (body.username === 'alice' && body.password === 'alice-hook-pw') || body.token === 'hook-token-abcdef';
      if (!ok) return void res.writeHead(403).end('{"error":"no"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ identity: 'alice', groups: ['hooked'], claims: { team: 'a' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
