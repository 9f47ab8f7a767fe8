import type { Response } from 'express';
import { pipeline } from 'node:stream/promises';
import type { RegistryMetrics } from '../metrics';
import type { UpstreamResponse } from '../upstream/upstream';
import { FileBody } from '../cache/file-body';
import { FillReader } from '../cache/fill';
import { BufferBody } from '../upstream/buffer-body';
import { spliceBody } from './zero-copy';

export interface RelayOptions {
  /** What is relayed, for metrics: manifest, blob, referrers. */
  kind: string;
  /** The upstream's configured name, for metrics. */
  upstream: string;
  metrics?: RegistryMetrics;
  /** Hand large blob bodies to the native zero-copy relay when it applies (see zero-copy.ts). */
  zeroCopy?: boolean;
}

/**
 * Writes an upstream response to the client: status, relayed headers, and
 * the body streamed with backpressure (never held whole; a body already in
 * memory, a BufferBody, goes out with the headers in one write). A redirect is
 * passed on as is. Resolves when the body is written; rejects when either
 * side breaks, after both are torn down.
 */
export async function relay(res: Response, upstream: UpstreamResponse, options: RelayOptions): Promise<void> {
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
  const count = (bytes: number, relay: 'splice' | 'file' | 'stream') =>
    options.metrics?.bytes.inc({ upstream: options.upstream, kind: options.kind, relay }, Math.max(0, bytes));
  if (upstream.body instanceof BufferBody) {
    const { bytes } = upstream.body;
    await new Promise<void>((done, fail) => {
      const gone = () => fail(new Error('client went away'));
      res.once('close', gone);
      res.end(bytes, () => {
        res.off('close', gone);
        done();
      });
    });
    count(bytes.length, 'stream');
    return;
  }
  const sent = options.zeroCopy && (upstream.body instanceof FileBody || upstream.body instanceof FillReader) ? upstream.body.sendTo(res) : undefined;
  if (sent) {
    count(await sent, 'file');
    return;
  }
  const spliced = options.zeroCopy && options.kind === 'blob' ? spliceBody(res, upstream.body, upstream.stallMs ?? 60_000) : undefined;
  if (spliced) {
    let moved = 0;
    try {
      moved = await spliced;
    } finally {
      count(moved, 'splice');
    }
    return;
  }
  // Counted from the client socket, not with a 'data' listener: a second listener on a piped
  // stream halves parallel blob throughput.
  const socket = res.socket;
  const before = socket?.bytesWritten ?? 0;
  try {
    await pipeline(upstream.body, res);
  } finally {
    count((socket?.bytesWritten ?? 0) - before, 'stream');
  }
}
