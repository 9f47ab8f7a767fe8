import { createHash, timingSafeEqual } from 'node:crypto';
import { hashPool } from '../hash-pool';

/** Compares two strings in time that depends on neither's content (both are hashed first). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

const BCRYPT = /^\$2[abxy]?\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** True when `hash` is a bcrypt hash this build can check (`$2a$`, `$2b$`, `$2y$`). */
export function isBcryptHash(hash: string): boolean {
  return BCRYPT.test(hash);
}

/**
 * Checks a password against a bcrypt hash on the shared worker pool (never on
 * the event loop); bcryptjs compares the digests in constant time.
 */
export async function bcryptMatches(password: string, hash: string): Promise<boolean> {
  return hashPool.compare(password, hash.replace(/^\$2y\$/, '$2b$'));
}

/** Hashes a password with bcrypt at `cost` on the shared worker pool. */
export async function bcryptHash(password: string, cost: number): Promise<string> {
  return hashPool.hash(password, cost);
}
