import { silentLogger, type Logger } from '../log/logger';
import type { ImageBackend } from './image-backend';

/** How long one check may take, and how long its answer is reused (probes come every few seconds). */
const CHECK_TIMEOUT_MS = 2000;
const REUSE_MS = 5000;

/**
 * Whether the image backend answers (ImageFsInfo, the call kubelet validates
 * an endpoint with), for `/readyz` and the start-up log. One check at a time;
 * an answer is reused for 5 s, so probes cost the backend nothing extra. The
 * first failure, and the recovery after it, are logged at warn and info.
 */
export class BackendReadiness {
  #checked = 0;
  #ready = false;
  #running: Promise<boolean> | undefined;
  #logged: boolean | undefined;

  constructor(
    private readonly backend: ImageBackend,
    private readonly logger: Logger = silentLogger,
  ) {}

  /** Resolves true when the backend answered within 2 s (reusing an answer younger than 5 s). */
  ready(): Promise<boolean> {
    if (Date.now() - this.#checked < REUSE_MS) return Promise.resolve(this.#ready);
    this.#running ??= this.#check().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #check(): Promise<boolean> {
    let error: string | undefined;
    try {
      await this.backend.imageFsInfo({ signal: AbortSignal.timeout(CHECK_TIMEOUT_MS) });
    } catch (err) {
      error = (err as Error).message;
    }
    this.#ready = error === undefined;
    this.#checked = Date.now();
    if (this.#logged !== this.#ready) {
      if (error !== undefined) this.logger.warn('image backend unreachable; /readyz answers 503 until it answers', { backend: this.backend.name, error });
      else if (this.#logged === false) this.logger.info('image backend answers again', { backend: this.backend.name });
      this.#logged = this.#ready;
    }
    return this.#ready;
  }
}
