import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON, or undefined. */
  json: any;
}

/**
 * One HTTP request with the path sent exactly as given (no URL normalisation,
 * so `..` and `%2F` reach the server), no redirects followed.
 */
export function raw(base: string, path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        let json: unknown;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Reads a manifest straight from an upstream with Basic credentials. */
export async function upstreamManifest(hostPort: string, repo: string, ref: string, accept: string, auth: string): Promise<{ digest: string; body: any }> {
  const res = await raw(`http://${hostPort}`, `/v2/${repo}/manifests/${ref}`, { headers: { accept, authorization: auth } });
  if (res.status !== 200) throw new Error(`upstream ${hostPort} answered ${res.status} for ${repo}:${ref}`);
  return { digest: String(res.headers['docker-content-digest']), body: res.json };
}
