import { DOMAIN, isDigest, isTag, NAME_MAX, REMOTE_NAME, splitDomain as splitName, splitReference } from '../lib/image-reference';
import { CriError } from './errors';

/** An image named by its ID: `sha256:<64 hex>`. */
export interface ImageIdRef {
  kind: 'id';
  /** Always `sha256:<64 lowercase hex>`. */
  id: string;
}

/** An image named by repository, with a tag and/or a digest. */
export interface ImageNameRef {
  kind: 'name';
  /** Registry host, e.g. `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  path: string;
  /** `latest` when neither a tag nor a digest was given. */
  tag?: string;
  /** True when the tag is the implied `latest`. */
  implicitTag?: boolean;
  /** `sha256:<hex>`. */
  digest?: string;
}

/** A parsed reference: an image ID or a name. */
export type ImageRef = ImageIdRef | ImageNameRef;

/** Longest whole reference considered: a maximal name, tag (128) and sha512 digest fit well within it. */
const REFERENCE_MAX = 512;
const HEX64 = /^[a-f0-9]{64}$/;

/**
 * Parses a reference the way Docker normalises it: `busybox` is
 * `docker.io/library/busybox:latest`; `sha256:<64 hex>` and a bare 64-hex
 * string are image IDs. Anything else that is not a valid reference throws
 * CriError INVALID_ARGUMENT saying what is wrong.
 */
export function parseReference(text: string): ImageRef {
  if (text === '') throw invalid(text, 'the image reference is empty');
  if (text.length > REFERENCE_MAX) throw invalid(text, `longer than ${REFERENCE_MAX} characters`);
  if (HEX64.test(text)) return { kind: 'id', id: `sha256:${text}` };
  if (text.startsWith('sha256:')) {
    if (!HEX64.test(text.slice(7))) throw invalid(text, 'an image ID is sha256: followed by 64 lowercase hex digits');
    return { kind: 'id', id: text };
  }

  const { name: rest, tag, digest } = splitReference(text);
  if (digest !== undefined) validateDigest(text, digest);
  if (tag !== undefined && !isTag(tag)) throw invalid(text, `invalid tag "${clip(tag)}"`);
  const { domain, path } = splitDomain(text, rest);
  if (`${domain}/${path}`.length > NAME_MAX) throw invalid(text, `repository name longer than ${NAME_MAX} characters`);
  const implicitTag = tag === undefined && digest === undefined;
  return { kind: 'name', domain, path, tag: implicitTag ? 'latest' : tag, digest, ...(implicitTag ? { implicitTag } : {}) };
}

function splitDomain(text: string, name: string): { domain: string; path: string } {
  const split = splitName(name);
  let domain = split.domain ?? 'docker.io';
  let path = split.remote;
  if (split.domain !== undefined && !DOMAIN.test(domain)) throw invalid(text, `invalid registry host "${clip(domain)}"`);
  if (domain === 'index.docker.io') domain = 'docker.io';
  if (path.toLowerCase() !== path) throw invalid(text, 'repository name must be lowercase');
  if (!REMOTE_NAME.test(path)) throw invalid(text, 'invalid repository name');
  if (domain === 'docker.io' && !path.includes('/')) path = `library/${path}`;
  return { domain, path };
}

function validateDigest(text: string, digest: string): void {
  if (!isDigest(digest)) throw invalid(text, `invalid digest "${clip(digest)}"`);
  const [algorithm, hex] = digest.split(':');
  if (algorithm === 'sha256' && !HEX64.test(hex)) throw invalid(text, 'a sha256 digest has 64 lowercase hex digits');
}

/** `domain/path` of a name reference, e.g. `docker.io/library/busybox`. */
export function repositoryOf(ref: ImageNameRef): string {
  return `${ref.domain}/${ref.path}`;
}

/** The fully-qualified text: `docker.io/library/busybox:latest`, `…@sha256:…`, `sha256:…` for an ID. */
export function formatReference(ref: ImageRef): string {
  if (ref.kind === 'id') return ref.id;
  return `${repositoryOf(ref)}${ref.tag ? `:${ref.tag}` : ''}${ref.digest ? `@${ref.digest}` : ''}`;
}

/** Parses and formats in one step: the key under which two spellings of one reference compare equal. */
export function normaliseReference(text: string): string {
  return formatReference(parseReference(text));
}

function invalid(text: string, problem: string): CriError {
  return CriError.invalidArgument(text === '' ? problem : `invalid image reference "${clip(text)}": ${problem}`);
}

/** Shortens text echoed in a message, so a 10,000-character reference does not fill the log. */
/** The text as it may appear in a message: at most `max` characters, control characters escaped (no CR/LF reaches a log line or a client). */
function clip(text: string, max = 80): string {
  const shown = JSON.stringify(text.slice(0, max)).slice(1, -1);
  return text.length > max ? `${shown}…(${text.length} characters)` : shown;
}

/**
 * Whether an image (its ID, fully-qualified tags and digests) matches a
 * ListImages filter: an ID matches the ID; a name with a tag or digest matches
 * exactly; a bare name matches every tag and digest of that repository.
 */
export function matchesFilter(image: { id?: string; repoTags?: string[]; repoDigests?: string[] }, filter: ImageRef): boolean {
  if (filter.kind === 'id') return image.id === filter.id;
  if (filter.implicitTag) {
    const repository = repositoryOf(filter);
    return [...(image.repoTags ?? []), ...(image.repoDigests ?? [])].some((name) => name.startsWith(`${repository}:`) || name.startsWith(`${repository}@`));
  }
  const wanted = formatReference(filter);
  const names = filter.digest ? image.repoDigests : image.repoTags;
  return (names ?? []).some((name) => name === wanted || (filter.digest !== undefined && name === `${repositoryOf(filter)}@${filter.digest}`));
}
