import { AsyncLocalStorage } from 'node:async_hooks';
import { BoundedCache } from '../lib/bounded-cache';
import { SingleFlight } from '../lib/single-flight';
import { systemClock, type Clock, type Timer } from './clock';

/** A minted token and when it stops being valid. */
export interface Minted<T> {
  value: T;
  /** Epoch ms. The cache never hands the value out at or after this instant. */
  expiresAt: number;
}

/** How early one kind of token is refreshed. */
export interface RefreshPolicy {
  /** Refresh this many ms before expiry; never more than half the lifetime. Default half the lifetime. */
  skewMs?: number;
}

/** What the cache reports, for metrics. `key` never holds a secret. */
export interface CacheObserver {
  hit(key: string): void;
  miss(key: string): void;
  minted(key: string): void;
  failed(key: string, err: unknown): void;
  evicted(key: string): void;
  /** A caller found no valid token while the key was held back after a failed mint, and got that failure again without a call to AWS. */
  held?(key: string): void;
}

export interface TokenCacheOptions {
  clock?: Clock;
  /** Most keys held; the least recently used goes first. Default 1000. */
  maxEntries?: number;
  /** Refresh up to this fraction of the skew earlier still, at random, so keys do not refresh in lockstep. Default 0.2. */
  jitter?: number;
  /** First retry delay after a failed refresh. Default 1 s. */
  backoffInitialMs?: number;
  /** Longest retry delay. Default 5 min. */
  backoffMaxMs?: number;
  /**
   * Longest time callers of a key with no valid token are answered with its
   * last failure instead of a new mint (the same backoff series, capped here,
   * so that a recovered AWS is noticed soon). Default 30 s.
   */
  holdMaxMs?: number;
  /** Default Math.random. */
  random?: () => number;
  observer?: CacheObserver;
}

interface Entry {
  token?: Minted<unknown>;
  refreshAt: number;
  mint: () => Promise<Minted<unknown>>;
  policy: RefreshPolicy;
  /** A caller asked since the last successful mint: worth refreshing. */
  used: boolean;
  failures: number;
  retryAt: number;
  /** The last mint's failure and until when callers without a valid token get it again instead of a new mint. */
  lastError?: unknown;
  holdUntil: number;
  timer?: Timer;
}

/** Set while a `retryNow` callback runs: its gets ignore the hold. */
const retrying = new AsyncLocalStorage<true>();

/**
 * The one cache in front of every token source (ECR tokens, STS JWTs, assumed
 * role sessions). Per key it refreshes ahead of expiry in the background, with
 * jitter, so that after warm-up no caller waits on AWS; concurrent misses share
 * one mint; when a refresh fails the still-valid token keeps being served and
 * the refresh is retried with capped exponential backoff; an expired token is
 * never served. When a key has no valid token and its last mint failed, callers
 * get that failure again, without a call to AWS, until the backoff period ends
 * (negative caching: one mint per period per key however the callers arrive,
 * concurrently or one after another). Keys the callers stop asking for are not
 * refreshed again and are forgotten when their token expires; the number of
 * keys is bounded.
 */
export class TokenCache {
  private readonly entries: BoundedCache<string, Entry>;
  /** One mint at a time per entry, shared by the callers that need it. */
  private readonly mints = new SingleFlight<Minted<unknown>, Entry>();
  private readonly clock: Clock;
  private closed = false;

  constructor(private readonly options: TokenCacheOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.entries = new BoundedCache({
      max: options.maxEntries ?? 1000,
      onEvict: (key, entry) => {
        entry.timer?.cancel();
        this.options.observer?.evicted(key);
      },
    });
  }

  /**
   * The token for `key`: from the cache when valid, else from `mint` (shared by
   * concurrent callers). Rejects only when no valid token exists and `mint` fails.
   */
  async get<T>(key: string, mint: () => Promise<Minted<T>>, policy: RefreshPolicy = {}): Promise<T> {
    const now = this.clock.now();
    let entry = this.entries.get(key);
    if (entry?.token && now < entry.token.expiresAt) {
      entry.used = true;
      this.options.observer?.hit(key);
      if (now >= entry.refreshAt && now >= entry.retryAt && !this.mints.has(entry)) this.refresh(key, entry).catch(() => undefined);
      return entry.token.value as T;
    }
    this.options.observer?.miss(key);
    if (!entry) {
      entry = { refreshAt: 0, mint, policy, used: true, failures: 0, retryAt: 0, holdUntil: 0 };
      this.entries.set(key, entry);
    }
    if (!this.mints.has(entry) && entry.lastError !== undefined && now < entry.holdUntil && !retrying.getStore()) {
      this.options.observer?.held?.(key);
      throw entry.lastError;
    }
    entry.mint = mint;
    entry.policy = policy;
    entry.used = true;
    const minted = await this.refresh(key, entry);
    return minted.value as T;
  }

  /**
   * Runs `fn` with the hold lifted for the gets it makes: a key with no valid
   * token is minted now even inside its backoff period. For probes whose rate
   * is bounded by their caller (a readiness check), never for request traffic.
   */
  retryNow<T>(fn: () => Promise<T>): Promise<T> {
    return retrying.run(true, fn);
  }

  /** When the token for each key expires (epoch ms), for the expiry gauge. */
  expiries(): [string, number][] {
    return [...this.entries.entries()].flatMap(([k, e]) => (e.token ? [[k, e.token.expiresAt] as [string, number]] : []));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Stops every background refresh and forgets every token. */
  close(): void {
    this.closed = true;
    for (const [, e] of this.entries.entries()) e.timer?.cancel();
    this.entries.clear();
  }

  private refresh(key: string, entry: Entry): Promise<Minted<unknown>> {
    return this.mints.run(entry, () => this.mintOnce(key, entry));
  }

  private async mintOnce(key: string, entry: Entry): Promise<Minted<unknown>> {
    const started = this.clock.now();
    try {
      const minted = await entry.mint();
      if (!(minted.expiresAt > this.clock.now())) throw new Error(`${key}: AWS returned a token that has already expired`);
      this.minted(key, entry, minted, started);
      return minted;
    } catch (err) {
      this.failed(key, entry, err);
      throw err;
    }
  }

  private minted(key: string, entry: Entry, minted: Minted<unknown>, started: number): void {
    const lifetime = minted.expiresAt - started;
    const skew = Math.min(entry.policy.skewMs ?? lifetime / 2, lifetime / 2);
    const jitter = (this.options.random ?? Math.random)() * (this.options.jitter ?? 0.2) * skew;
    entry.token = minted;
    entry.refreshAt = minted.expiresAt - skew - jitter;
    entry.failures = 0;
    entry.retryAt = 0;
    entry.lastError = undefined;
    entry.holdUntil = 0;
    entry.used = false;
    this.options.observer?.minted(key);
    this.schedule(key, entry, entry.refreshAt);
  }

  private failed(key: string, entry: Entry, err: unknown): void {
    entry.failures += 1;
    const initial = this.options.backoffInitialMs ?? 1000;
    const backoff = Math.min(this.options.backoffMaxMs ?? 300_000, initial * 2 ** Math.min(entry.failures - 1, 30));
    const jitter = (this.options.random ?? Math.random)() * (this.options.jitter ?? 0.2) * backoff;
    entry.retryAt = this.clock.now() + backoff - jitter;
    entry.lastError = err;
    entry.holdUntil = this.clock.now() + Math.min(backoff - jitter, this.options.holdMaxMs ?? 30_000);
    this.options.observer?.failed(key, err);
    if (entry.token && entry.token.expiresAt > this.clock.now()) this.schedule(key, entry, Math.min(entry.retryAt, entry.token.expiresAt));
  }

  /**
   * At `at`: refresh in the background if the key was asked for since its last
   * mint; otherwise wait for expiry and then forget the key.
   */
  private schedule(key: string, entry: Entry, at: number): void {
    entry.timer?.cancel();
    if (this.closed || this.entries.peek(key) !== entry) return;
    entry.timer = this.clock.setTimer(() => {
      entry.timer = undefined;
      const token = entry.token;
      if (this.entries.peek(key) !== entry || !token || this.mints.has(entry)) return;
      if (this.clock.now() >= token.expiresAt) return this.drop(key, entry);
      if (!entry.used) return this.schedule(key, entry, token.expiresAt);
      this.refresh(key, entry).catch(() => undefined);
    }, at - this.clock.now());
  }

  private drop(key: string, entry: Entry): void {
    entry.timer?.cancel();
    this.entries.delete(key);
    this.options.observer?.evicted(key);
  }
}
