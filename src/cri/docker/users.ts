import type Docker from 'dockerode';
import { BoundedCache } from '../../lib/bounded-cache';

/** Most image IDs remembered; beyond it the least recently used are forgotten. */
const MAX_ENTRIES = 10_000;
/** Inspects run at once when filling the cache. */
const CONCURRENCY = 8;

/**
 * The `Config.User` of each image ID. Docker's image list lacks it, and an
 * image's config never changes for one ID, so it is inspected once per ID and
 * remembered (bounded). This keeps ListImages close to the cost of Docker's
 * own list once warm.
 */
export class ImageUsers {
  readonly #users = new BoundedCache<string, string>({ max: MAX_ENTRIES });

  constructor(private readonly docker: Docker) {}

  remember(id: string, user: string): void {
    if (!this.#users.has(id)) this.#users.set(id, user);
  }

  /** Users for the IDs; an ID that vanished meanwhile is left out. */
  async forIds(ids: string[], signal: AbortSignal): Promise<{ get(id: string): string | undefined }> {
    const missing = [...new Set(ids.filter((id) => !this.#users.has(id)))];
    let next = 0;
    const worker = async () => {
      while (next < missing.length) {
        const id = missing[next++];
        try {
          const inspect = await this.docker.getImage(id).inspect();
          this.remember(id, inspect.Config?.User ?? '');
        } catch (err) {
          if (signal.aborted) throw err;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, missing.length) }, worker));
    return this.#users;
  }
}
