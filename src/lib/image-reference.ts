/**
 * distribution's reference grammar (github.com/distribution/reference,
 * `regexp.go`), written once for the image service and the facade:
 *
 *     reference        := name [ ":" tag ] [ "@" digest ]
 *     name             := [domain '/'] remote-name
 *     domain           := host [':' port-number]
 *     host             := domain-name | IPv4address | \[ IPv6address \]
 *     remote-name      := path-component ['/' path-component]*
 *     path-component   := alpha-numeric [separator alpha-numeric]*
 *     alpha-numeric    := /[a-z0-9]+/
 *     separator        := /[_.]|__|[-]+/
 *     tag              := /[\w][\w.-]{0,127}/
 *     digest           := algorithm ":" hex
 *     algorithm        := /[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*\/
 *     hex              := /[0-9a-fA-F]{32,}/
 *
 * and its limits: a name (domain included) of at most 255 characters.
 */

/** Longest repository name (distribution's NameTotalLengthMax). */
export const NAME_MAX = 255;

const ALNUM = '[a-z0-9]+';
const COMPONENT_SOURCE = `${ALNUM}(?:(?:[._]|__|-+)${ALNUM})*`;
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';

/** One path component: `library`, `my_app`, `a.b-c`. */
export const PATH_COMPONENT = new RegExp(`^${COMPONENT_SOURCE}$`);
/** A remote name (path components joined by `/`), without a domain: `library/busybox`. */
export const REMOTE_NAME = new RegExp(`^${COMPONENT_SOURCE}(?:/${COMPONENT_SOURCE})*$`);
/** A registry domain with an optional port: `docker.io`, `127.0.0.1:5000`, `[::1]:5000`. */
export const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
/** A tag: up to 128 word characters, dots and dashes, not starting with either. */
export const TAG = /^[\w][\w.-]{0,127}$/;
/** A digest in the grammar (any algorithm, at least 32 hex digits). */
export const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
/** The digests a registry verifies: sha256 with 64, sha512 with 128 lowercase hex digits. */
const VERIFIABLE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** True for a path component of a repository name. */
export function isPathComponent(text: string): boolean {
  return PATH_COMPONENT.test(text);
}

/** True for a remote name (no domain) within NAME_MAX. */
export function isRemoteName(text: string): boolean {
  return text.length > 0 && text.length <= NAME_MAX && REMOTE_NAME.test(text);
}

export function isTag(text: string): boolean {
  return TAG.test(text);
}

/** True for a digest in the grammar; `verifiable` also requires sha256/64 or sha512/128 lowercase hex. */
export function isDigest(text: string, verifiable = false): boolean {
  return DIGEST.test(text) && (!verifiable || VERIFIABLE.test(text));
}

/** A reference cut at its separators, nothing checked yet: `name[:tag][@digest]`. */
export interface ReferenceParts {
  name: string;
  tag?: string;
  digest?: string;
}

/** Cuts `name[:tag][@digest]`: the digest after the first `@`, the tag after the last `:` that follows the last `/`. */
export function splitReference(text: string): ReferenceParts {
  let name = text;
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  let tag: string | undefined;
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  return { name, tag, digest };
}

/**
 * Splits a name into its domain and remote name as Docker does: the first
 * component is a domain when it holds a `.` or a `:`, is `localhost`, or has
 * upper-case letters; otherwise the domain is absent (`docker.io` implied).
 */
export function splitDomain(name: string): { domain?: string; remote: string } {
  const slash = name.indexOf('/');
  const first = slash < 0 ? '' : name.slice(0, slash);
  const hasDomain = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first.toLowerCase() !== first);
  return hasDomain ? { domain: first, remote: name.slice(slash + 1) } : { remote: name };
}
