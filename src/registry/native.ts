import { join, resolve } from 'node:path';

/**
 * The facade's native add-on (`http/splice/splice.c`, built by `npm install`
 * with node-gyp), loaded once: the blob relay's threads (`start`,
 * `sendFile`; see ../http/zero-copy) and `idleThread`, which the bcrypt
 * workers call to give way to the event loop. Linux only; without it the
 * facade streams blobs and the workers fall back to nice 10.
 */
export interface NativeAddon {
  start(fromFd: number, toFd: number, length: number, stallMs: number, done: (error: string | null, moved: number) => void): () => void;
  sendFile(fileFd: number, toFd: number, offset: number, length: number, done: (error: string | null, moved: number) => void, background?: boolean): () => void;
  /** Puts the calling thread in SCHED_IDLE; true, or why not ("errno N: message"). */
  idleThread(): true | string;
}

/** The add-on and the path it loaded from (a worker thread loads it again there), or why it cannot be used. */
export const native: { available: true; addon: NativeAddon; path: string } | { available: false; reason: string } = load();

function load(): typeof native {
  if (process.platform !== 'linux') return { available: false, reason: 'splice(2) is Linux only' };
  const candidates = [join(__dirname, 'http/splice/build/Release/splice.node'), resolve(__dirname, '../../../src/registry/http/splice/build/Release/splice.node')];
  let reason = 'the native add-on is not built (npm install runs node-gyp; it needs python3, make and a C compiler)';
  for (const path of candidates) {
    try {
      return { available: true, addon: require(path) as NativeAddon, path };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') reason = `the native add-on does not load: ${(err as Error).message}`;
    }
  }
  return { available: false, reason };
}
