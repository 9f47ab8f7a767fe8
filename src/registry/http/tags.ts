import { BodyTooLargeError, readCapped } from '../../lib/read-capped';
import { RegistryError } from '../errors';
import type { UpstreamResponse } from '../upstream/upstream';

/** Largest tag list read from an upstream. */
const MAX_TAGS_BYTES = 8 * 1024 * 1024;

/**
 * Reads an upstream tag list and restates it under the facade's name, in
 * lexical order. `next` is the query (`n`, `last`) for the following page, to
 * be re-issued against the facade's own URL: the upstream's own `Link` when it
 * paginated, or the facade's when the upstream ignored `n`/`last` (distribution
 * 2.x does).
 */
export async function readTags(answer: UpstreamResponse, facadeName: string, page: { n?: string; last?: string }): Promise<{ body: string; next?: string }> {
  const body = answer.body ? await readCapped(answer.body, MAX_TAGS_BYTES).catch((err: unknown) => {
    throw err instanceof BodyTooLargeError ? new RegistryError('UNAVAILABLE', 'upstream tag list too large') : err;
  }) : Buffer.alloc(0);
  let doc: { tags?: unknown };
  try {
    doc = JSON.parse(body.toString('utf8')) as { tags?: unknown };
  } catch {
    throw new RegistryError('UNAVAILABLE', 'upstream sent an unreadable tag list');
  }
  let tags = Array.isArray(doc.tags) ? doc.tags.filter((t): t is string => typeof t === 'string') : [];
  tags = tags.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (page.last !== undefined) tags = tags.filter((t) => t > page.last!);
  const n = page.n === undefined ? undefined : Number(page.n);
  if (n !== undefined && tags.length > n) {
    tags = tags.slice(0, n);
    const next = new URLSearchParams({ n: String(n), last: tags[tags.length - 1] ?? '' }).toString();
    return { body: JSON.stringify({ name: facadeName, tags }), next };
  }
  return { body: JSON.stringify({ name: facadeName, tags }), next: nextQuery(answer.headers.link) };
}

function nextQuery(link: string | undefined): string | undefined {
  const m = link ? /<([^>]*)>\s*;\s*rel="?next"?/.exec(link) : null;
  if (!m) return undefined;
  const upstream = new URL(m[1], 'http://upstream.invalid');
  const query = new URLSearchParams();
  for (const key of ['n', 'last']) {
    const v = upstream.searchParams.get(key);
    if (v !== null) query.set(key, v);
  }
  return query.toString();
}
