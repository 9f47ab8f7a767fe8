import { isDigest as isDigestInGrammar, isPathComponent, isTag, NAME_MAX } from '../lib/image-reference';
import { RegistryError } from './errors';

/** Longest repository name accepted (distribution's limit). */
export const MAX_NAME_LENGTH = NAME_MAX;

/**
 * Checks a repository name against the distribution grammar and throws
 * NAME_INVALID otherwise: lowercase components, no empty or `..` segments,
 * nothing percent-encoded, at most 255 characters.
 */
export function checkName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { reason: `length must be 1..${MAX_NAME_LENGTH}` });
  }
  if (!name.split('/').every(isPathComponent)) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { name: printable(name) });
  }
  return name;
}

/** True for a digest reference (`algorithm:hex`). */
export function isDigest(reference: string): boolean {
  return reference.includes(':');
}

/** Checks a digest; unknown algorithms or malformed hex → DIGEST_INVALID. */
export function checkDigest(digest: string): string {
  if (!isDigestInGrammar(digest, true)) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: printable(digest) });
  }
  return digest;
}

/** Checks a manifest reference: a tag or a digest. */
export function checkReference(reference: string): string {
  if (isDigest(reference)) return checkDigest(reference);
  if (!isTag(reference)) throw new RegistryError('MANIFEST_UNKNOWN', 'invalid tag', { tag: printable(reference) });
  return reference;
}

/** A short, safe rendering of client input for error details. */
function printable(text: string): string {
  return text.slice(0, 300).replace(/[^\x20-\x7e]/g, '?');
}
