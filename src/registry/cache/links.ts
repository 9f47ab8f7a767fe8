import { appendFile, readFile, rename, writeFile } from 'node:fs/promises';

/**
 * Which repositories a cached digest may be served for: a link
 * (upstream, repository, digest) exists once that upstream served the blob
 * for that repository, or a manifest it served for that repository named the
 * digest. Kept in memory and appended to a log file so that links survive a
 * restart; the log is compacted at start (links of digests no longer cached
 * are dropped). A failed write only costs a link after a restart.
 */
export class Links {
  readonly #byDigest = new Map<string, Set<string>>();
  #writes: Promise<void> = Promise.resolve();

  constructor(private readonly file: string | undefined) {}

  /** Loads the log, keeping links whose digest `keep` accepts, and rewrites it compacted. */
  async load(keep: (digest: string) => boolean): Promise<void> {
    if (!this.file) return;
    let text = '';
    try {
      text = await readFile(this.file, 'utf8');
    } catch {
      return;
    }
    for (const line of text.split('\n')) {
      const [upstream, repository, digest] = line.split('\t');
      if (digest && keep(digest)) this.#remember(upstream, repository, digest);
    }
    const lines = [...this.#byDigest].flatMap(([digest, keys]) => [...keys].map((k) => `${k}\t${digest}\n`));
    try {
      await writeFile(`${this.file}.new`, lines.join(''), { mode: 0o600 });
      await rename(`${this.file}.new`, this.file);
    } catch {
      // read-only: keep the old log
    }
  }

  has(upstream: string, repository: string, digest: string): boolean {
    return this.#byDigest.get(digest)?.has(`${upstream}\t${repository}`) ?? false;
  }

  add(upstream: string, repository: string, digest: string): void {
    if (!this.#remember(upstream, repository, digest) || !this.file) return;
    const file = this.file;
    this.#writes = this.#writes.then(() => appendFile(file, `${upstream}\t${repository}\t${digest}\n`, { mode: 0o600 }).catch(() => undefined));
  }

  /** Drops every link of a digest (evicted). The log keeps them until the next compaction. */
  drop(digest: string): void {
    this.#byDigest.delete(digest);
  }

  /** Resolves once pending log writes are done. */
  flush(): Promise<void> {
    return this.#writes;
  }

  #remember(upstream: string, repository: string, digest: string): boolean {
    let keys = this.#byDigest.get(digest);
    if (!keys) this.#byDigest.set(digest, (keys = new Set()));
    const key = `${upstream}\t${repository}`;
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  }
}
