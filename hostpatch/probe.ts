import http from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { criProto } from '../src/cri/proto';
import { readCapped } from '../src/lib/read-capped';

/** Largest healthz answer read (kubelet's is `ok`, or a short list of failed checks). */
export const MAX_HEALTHZ_BYTES = 64 * 1024;

/**
 * Asks the image service at a Unix socket for ImageFsInfo, the call kubelet
 * makes at start-up to validate its image endpoint, in the form kubelet ≤ 1.30
 * sends it: with the socket's path as kubelet knows it (`kubeletPath`, the
 * host's path) for `:authority`. That is the strictest form a kubelet sends
 * (≥ 1.31 sends `localhost`), so a service that an older kubelet could not
 * reach fails the probe. Resolves true only on a successful answer within
 * `timeoutMs`.
 */
export async function imageFsInfoAnswers(socketPath: string, kubeletPath = socketPath, timeoutMs = 3000): Promise<boolean> {
  const Client = criProto().runtime.v1.ImageService;
  const client = new Client(`unix://${socketPath}`, grpc.credentials.createInsecure(), { 'grpc.default_authority': kubeletPath });
  try {
    return await new Promise<boolean>((resolve) => {
      client.imageFsInfo({}, { deadline: Date.now() + timeoutMs }, (err) => resolve(!err));
    });
  } finally {
    client.close();
  }
}

/** GETs a kubelet healthz URL; true on `200 ok`. */
export function healthzOk(url: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      readCapped(res, MAX_HEALTHZ_BYTES).then(
        (body) => resolve(res.statusCode === 200 && body.toString('utf8').trim() === 'ok'),
        () => resolve(false),
      );
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

/** Calls `check` every `everyMs` until it resolves true or `timeoutMs` passes; resolves whether it did. */
export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, everyMs = 500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() + everyMs > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
