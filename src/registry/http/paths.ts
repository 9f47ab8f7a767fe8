import { RegistryError } from '../errors';
import { checkDigest, checkName, checkReference } from '../names';

/** A parsed `/v2/…` request path. */
export type V2Path =
  | { route: 'base' }
  | { route: 'manifest'; name: string; reference: string }
  | { route: 'blob'; name: string; digest: string }
  | { route: 'tags'; name: string }
  | { route: 'referrers'; name: string; digest: string }
  | { route: 'write' };

const ITEM = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/;
const TAGS = /^\/v2\/(.+)\/tags\/list$/;
const UPLOADS = /^\/v2\/.+\/blobs\/uploads(\/.*)?$/;

/**
 * Parses and checks a raw (still percent-encoded) `/v2/` path. Anything
 * percent-encoded, `..`, or empty components are NAME_INVALID: names and
 * references never need them, and decoding them would let `%2F` or `%2e%2e`
 * smuggle a different path to an upstream.
 */
export function parseV2Path(rawPath: string): V2Path {
  if (rawPath === '/v2/' || rawPath === '/v2') return { route: 'base' };
  if (rawPath.includes('%') || rawPath.includes('\\') || /(^|\/)\.\.?(\/|$)/.test(rawPath) || rawPath.includes('//')) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name');
  }
  if (UPLOADS.test(rawPath)) return { route: 'write' };
  const tags = TAGS.exec(rawPath);
  if (tags) return { route: 'tags', name: checkName(tags[1]) };
  const item = ITEM.exec(rawPath);
  if (!item) throw new RegistryError('NAME_UNKNOWN', 'not found');
  const name = checkName(item[1]);
  if (item[2] === 'manifests') return { route: 'manifest', name, reference: checkReference(item[3]) };
  if (item[2] === 'blobs') return { route: 'blob', name, digest: checkDigest(item[3]) };
  return { route: 'referrers', name, digest: checkDigest(item[3]) };
}
