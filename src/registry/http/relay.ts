import type { Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { RegistryMetrics } from '../metrics';
import type { UpstreamResponse } from '../upstream/upstream';

/**
 * Writes an upstream response to the client: status, relayed headers, and
 * the body streamed with backpressure (never held whole). A redirect is
 * passed on as is. Resolves when the body is written; rejects when either
 * side breaks, after both are torn down.
 */
export async function relay(res: Response, upstream: UpstreamResponse, kind: string, upstreamName: string, metrics?: RegistryMetrics): Promise<void> {
  if (upstream.location) {
    upstream.body?.destroy();
    res.status(upstream.status).setHeader('location', upstream.location);
    res.setHeader('content-length', '0');
    res.end();
    return;
  }
  res.status(upstream.status);
  for (const [name, value] of Object.entries(upstream.headers)) res.setHeader(name, value);
  if (!upstream.body) {
    res.end();
    return;
  }
  // Counted from the client socket, not with a 'data' listener: a second listener on a piped
  // stream halves parallel blob throughput.
  const socket = res.socket;
  const before = socket?.bytesWritten ?? 0;
  try {
    await pipeline(upstream.body, res);
  } finally {
    metrics?.bytes.inc({ upstream: upstreamName, kind }, Math.max(0, (socket?.bytesWritten ?? 0) - before));
  }
}
