import { statfs } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { FilesystemUsage } from '../../generated/runtime/v1/FilesystemUsage';
import type { ImageFsInfoResponse } from '../../generated/runtime/v1/ImageFsInfoResponse';
import { BoundedCache } from '../../lib/bounded-cache';
import { untilAborted } from '../../lib/single-flight';

/**
 * ImageFsInfo for Docker Engine: the mountpoint is Docker's root dir (a real
 * host path, so kubelet can find its capacity), bytes used are the sizes of
 * all images (each ID once), inodes used are the filesystem's. Answers are
 * cached for `ttlMs` and concurrent callers share one computation.
 */
export class DockerFsInfo {
  readonly #cached: BoundedCache<'fs', ImageFsInfoResponse>;

  constructor(
    private readonly docker: Docker,
    ttlMs = 5000,
  ) {
    this.#cached = new BoundedCache({ max: 1, ttlMs });
  }

  /** The cached answer, or a fresh one; the caller's signal only stops the caller's wait. */
  get(signal: AbortSignal): Promise<ImageFsInfoResponse> {
    return untilAborted(this.#cached.load('fs', () => this.#compute()) as Promise<ImageFsInfoResponse>, signal);
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
