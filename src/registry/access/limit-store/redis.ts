import { createHash } from 'node:crypto';
import Redis from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../../log/logger';
import type { Secret } from '../../../log/secret';
import { MemoryLimitStore } from './memory';
import type { LimitWindows, LoginLimitStore, Reservation } from './store';

/**
 * Reserve one attempt in both windows, atomically. Windows are aligned to
 * Redis's own clock (`TIME`), so every replica agrees on them whatever its
 * own clock says; a window's keys expire one second after it ends.
 * KEYS: pair key, client key (without the window suffix).
 * ARGV: windowMs, perClientAndUser, perClient.
 * Returns {1, window} when reserved, {0, msUntilWindowEnds} when over.
 */
const RESERVE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = tonumber(ARGV[1])
local window = math.floor(now / w)
local left = (window + 1) * w - now
local pk = KEYS[1] .. ':' .. window
local ck = KEYS[2] .. ':' .. window
local p = tonumber(redis.call('GET', pk) or '0')
local c = tonumber(redis.call('GET', ck) or '0')
if p >= tonumber(ARGV[2]) or c >= tonumber(ARGV[3]) then return {0, left} end
redis.call('INCR', pk)
redis.call('PEXPIRE', pk, left + 1000)
redis.call('INCR', ck)
redis.call('PEXPIRE', ck, left + 1000)
return {1, window}
`;

/** Give a reservation back: clear the pair's window, lower the client's by one. KEYS as RESERVE; ARGV: window. */
const RELEASE = `
redis.call('DEL', KEYS[1] .. ':' .. ARGV[1])
local ck = KEYS[2] .. ':' .. ARGV[1]
local c = tonumber(redis.call('GET', ck) or '0')
if c > 0 then redis.call('DECR', ck) end
return 1
`;

export interface RedisLimitStoreOptions {
  /** `redis://[user@]host:port[/db]` or `rediss://…`. A password in the URL is allowed but `password` is better. */
  url: string;
  password?: Secret;
  /** Key prefix, e.g. `imagegate:<service>:login:`. */
  prefix: string;
  /** How long a Redis call may take before the attempt is counted locally instead. */
  timeoutMs: number;
  limits: LimitWindows & { maxKeys?: number };
  logger: Logger;
  /** Where `imagegate_registry_login_store_up` and `…_fallbacks_total` go. */
  registry?: Registry;
}

interface LimitCommands {
  imagegateReserve(pair: string, client: string, windowMs: number, perPair: number, perClient: number): Promise<[number, number]>;
  imagegateRelease(pair: string, client: string, window: number): Promise<number>;
}

/**
 * Login windows shared by every replica through Redis (one Lua script per
 * attempt, so a reservation is atomic across replicas). When Redis cannot be
 * reached or does not answer within `timeoutMs`, the attempt is counted in a
 * local MemoryLimitStore instead, with the same budgets: logins keep being
 * answered and keep being limited (per replica) — never let through
 * uncounted, never refused for want of Redis. The switch is logged once each
 * way and shown by `imagegate_registry_login_store_up` (1 shared, 0 local).
 */
export class RedisLimitStore implements LoginLimitStore {
  readonly kind = 'redis';
  readonly #redis: Redis & LimitCommands;
  readonly #local: MemoryLimitStore;
  readonly #up?: Gauge;
  readonly #fallbacks?: Counter;
  #shared = true;
  #closed = false;

  constructor(private readonly options: RedisLimitStoreOptions) {
    this.#local = new MemoryLimitStore(options.limits);
    this.#redis = new Redis(options.url, {
      password: options.password?.reveal(),
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.timeoutMs,
      connectTimeout: Math.max(1000, options.timeoutMs),
      retryStrategy: (times) => Math.min(100 * times, 2000),
      lazyConnect: false,
    }) as Redis & LimitCommands;
    this.#redis.defineCommand('imagegateReserve', { numberOfKeys: 2, lua: RESERVE });
    this.#redis.defineCommand('imagegateRelease', { numberOfKeys: 2, lua: RELEASE });
    this.#redis.on('error', (err: Error) => this.#down(err));
    this.#redis.on('ready', () => this.#back());
    const registers = options.registry ? [options.registry] : [];
    if (options.registry) {
      this.#up = new Gauge({ name: 'imagegate_registry_login_store_up', help: 'Login limits shared through the configured store (1), or counted per replica because it is unreachable (0)', registers });
      this.#fallbacks = new Counter({ name: 'imagegate_registry_login_store_fallbacks_total', help: 'Login attempts counted locally because the shared store did not answer', registers });
      this.#up.set(1);
    }
  }

  async reserve(client: string, user: string): Promise<Reservation> {
    const pair = `${this.options.prefix}{${client}}:${createHash('sha256').update(user).digest('base64url')}`;
    const whole = `${this.options.prefix}{${client}}`;
    const { windowMs, perClientAndUser, perClient } = this.options.limits;
    try {
      if (this.#redis.status !== 'ready') throw new Error(`not connected (${this.#redis.status})`);
      const [ok, n] = await this.#redis.imagegateReserve(pair, whole, windowMs, perClientAndUser, perClient);
      this.#back();
      if (ok !== 1) return { kind: 'over', retryAfterMs: Math.max(1, n) };
      return {
        kind: 'reserved',
        release: () => {
          this.#redis.imagegateRelease(pair, whole, n).catch((err: Error) => this.options.logger.debug('could not give a login reservation back to the store', { error: err.message }));
        },
      };
    } catch (err) {
      this.#down(err as Error);
      this.#fallbacks?.inc();
      return this.#local.reserveNow(client, user);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#redis.disconnect();
  }

  #down(err: Error): void {
    if (this.#closed || !this.#shared) return;
    this.#shared = false;
    this.#up?.set(0);
    this.options.logger.warn('login limit store unreachable; counting login attempts per replica until it answers again', { store: redactedUrl(this.options.url), error: err.message });
  }

  #back(): void {
    if (this.#shared || this.#closed) return;
    this.#shared = true;
    this.#up?.set(1);
    this.options.logger.info('login limit store answers again; login limits are shared', { store: redactedUrl(this.options.url) });
  }
}

/** The store URL without user name or password, for logs. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'redis';
  }
}
