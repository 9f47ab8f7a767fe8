import { status } from '@grpc/grpc-js';
import type { RegistryAuth } from '../../credentials/registry-auth';
import { CriError } from '../errors';

/** containerd (1.6, as tested) reads username/password, `auth` and identity_token, but not registry_token. */
const REGISTRY_TOKEN_HINT =
  ' (the pull carried only a registry_token, which containerd ignores: give the rule username/password credentials, e.g. sts-jwt with as: password)';

/**
 * Gives a failed PullImage from the runtime the reason the image service acts
 * on (try the next credentials on `credentials-rejected`), reading the
 * runtime's message the way containerd and CRI-O word registry failures.
 * The runtime's own text is kept as the detail, so kubelet shows the same
 * cause it would without imagegate. `auth` is what the pull carried, for a hint
 * when the runtime cannot have used it.
 */
export function classifyPullError(err: CriError, image: string, auth?: RegistryAuth): CriError {
  if (err.code !== status.UNKNOWN && err.code !== status.UNAUTHENTICATED && err.code !== status.NOT_FOUND) return err;
  const text = err.message;
  const registry = registryOf(image);
  if (/\b(401 Unauthorized|403 Forbidden|unauthorized|authentication required|denied: )/i.test(text)) {
    return CriError.credentialsRejected(registry, onlyRegistryToken(auth) ? text + REGISTRY_TOKEN_HINT : text);
  }
  if (/^RegistryUnavailable/.test(text)) return err;
  if (/\b(50[234] [A-Z][A-Za-z ]+|connection refused|no such host|i\/o timeout|connection reset by peer|EOF$)/.test(text)) {
    return CriError.registryUnavailable(registry, text);
  }
  if (/: not found$|manifest unknown|name unknown/i.test(text)) return CriError.notFound(text);
  return err;
}

/** The registry host of an image reference: `127.0.0.1:5000/a/b:1` → `127.0.0.1:5000`; no host → `docker.io`. */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = image.slice(0, slash);
  return /[.:]/.test(first) || first === 'localhost' ? first : 'docker.io';
}

function onlyRegistryToken(auth: RegistryAuth | undefined): boolean {
  return !!auth?.registryToken && !auth.username && !auth.password && !auth.identityToken;
}
