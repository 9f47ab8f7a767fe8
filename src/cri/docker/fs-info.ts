import { statfs } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { FilesystemUsage } from '../../generated/runtime/v1/FilesystemUsage';
import type { ImageFsInfoResponse } from '../../generated/runtime/v1/ImageFsInfoResponse';

/**
 * ImageFsInfo for Docker Engine: the mountpoint is Docker's root dir (a real
 * host path, so kubelet can find its capacity), bytes used are the sizes of
 * all images (each ID once), inodes used are the filesystem's. Answers are
 * cached for `ttlMs` and concurrent callers share one computation.
 */
export class DockerFsInfo {
  #cached?: { at: number; value: Promise<ImageFsInfoResponse> };

  constructor(
    private readonly docker: Docker,
    private readonly ttlMs = 5000,
  ) {}

  /** The cached answer, or a fresh one; the caller's signal only stops the caller's wait. */
  get(signal: AbortSignal): Promise<ImageFsInfoResponse> {
    const now = Date.now();
    if (!this.#cached || now - this.#cached.at > this.ttlMs) {
      const value = this.#compute();
      const entry = { at: now, value };
      this.#cached = entry;
      value.catch(() => {
        if (this.#cached === entry) this.#cached = undefined;
      });
    }
    return untilAborted(this.#cached.value, signal);
  }

  async #compute(): Promise<ImageFsInfoResponse> {
    const [info, images] = await Promise.all([
      this.docker.info() as Promise<{ DockerRootDir: string }>,
      this.docker.listImages(),
    ]);
    const fs = await statfs(info.DockerRootDir);
    const sizes = new Map(images.map((image) => [image.Id, image.Size]));
    const usedBytes = [...sizes.values()].reduce((sum, size) => sum + size, 0);
    const usage: FilesystemUsage = {
      timestamp: String(BigInt(Date.now()) * 1_000_000n),
      fsId: { mountpoint: info.DockerRootDir },
      usedBytes: { value: String(usedBytes) },
      inodesUsed: { value: String(Math.max(0, fs.files - fs.ffree)) },
    };
    return { imageFilesystems: [usage], containerFilesystems: [usage] };
  }
}

/** Resolves or rejects as `promise` does, or rejects with the signal's reason as soon as it aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
