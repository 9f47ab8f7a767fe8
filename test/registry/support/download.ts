import { createHash } from 'node:crypto';
import http from 'node:http';

export interface Download {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Bytes received. */
  bytes: number;
  /** `sha256:<hex>` of the bytes received. */
  digest: string;
  /** Set when the transfer broke before the announced length. */
  error?: string;
}

/**
 * GETs a URL and hashes the body as it streams (nothing held in memory).
 * `pauseMs` waits that long after the headers before reading the body (a slow
 * client). Resolves, never rejects, on a cut transfer: `error` says why.
 */
export function download(base: string, path: string, headers: Record<string, string>, pauseMs = 0): Promise<Download> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.get({ host: url.hostname, port: url.port, path, headers, agent: false }, (res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      let settled = false;
      const finish = (error?: string) => {
        if (settled) return;
        settled = true;
        const length = Number(res.headers['content-length']);
        if (!error && Number.isFinite(length) && bytes !== length) error = `short body: ${bytes} of ${length}`;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, digest: `sha256:${hash.digest('hex')}`, error });
      };
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        hash.update(chunk);
      });
      res.on('end', () => finish());
      res.on('aborted', () => finish('aborted'));
      res.on('error', (err) => finish(err.message));
      res.on('close', () => finish(res.complete ? undefined : 'connection closed'));
      if (pauseMs > 0) {
        res.pause();
        setTimeout(() => res.resume(), pauseMs);
      }
    });
    req.on('error', reject);
  });
}
