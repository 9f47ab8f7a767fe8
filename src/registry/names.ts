import { RegistryError } from './errors';

/** One path component of a repository name (distribution's reference grammar). */
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const SHA512 = /^sha512:[a-f0-9]{128}$/;

/** Longest repository name accepted (distribution's limit). */
export const MAX_NAME_LENGTH = 255;

/**
 * Checks a repository name against the distribution grammar and throws
 * NAME_INVALID otherwise: lowercase components, no empty or `..` segments,
 * nothing percent-encoded, at most 255 characters.
 */
export function checkName(name: string): string {
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw new RegistryError('NAME_INVALID', 'invalid repository name', { reason: `length must be 1..${MAX_NAME_LENGTH}` });
  }
  if (!name.split('/').every((c) => COMPONENT.test(c))) {
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
  if (!DIGEST.test(digest) || !(SHA256.test(digest) || SHA512.test(digest))) {
    throw new RegistryError('DIGEST_INVALID', 'invalid digest', { digest: printable(digest) });
  }
  return digest;
}

/** Checks a manifest reference: a tag or a digest. */
export function checkReference(reference: string): string {
  if (isDigest(reference)) return checkDigest(reference);
  if (!TAG.test(reference)) throw new RegistryError('MANIFEST_UNKNOWN', 'invalid tag', { tag: printable(reference) });
  return reference;
}

/** A short, safe rendering of client input for error details. */
function printable(text: string): string {
  return text.slice(0, 300).replace(/[^\x20-\x7e]/g, '?');
}
