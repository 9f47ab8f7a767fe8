import { isAnonymous, type RegistryAuth } from '../../credentials/registry-auth';
import { lengthDelimited, withoutField } from './wire';

/** Field numbers of runtime.v1 AuthConfig and PullImageRequest (kubernetes/cri-api api.proto). */
const AuthConfigField = { username: 1, password: 2, serverAddress: 4, identityToken: 5, registryToken: 6 } as const;
const PULL_IMAGE_AUTH_FIELD = 2;

/**
 * Encodes credentials as a runtime.v1 AuthConfig message. The secrets are
 * revealed here because this is where they leave the process, to the runtime.
 *
 * `server_address` is sent only when it is a URL (`https://host`): containerd
 * parses it as one and compares its host with the registry's, so a bare
 * `host:port` fails the pull ("first path segment in URL cannot contain
 * colon") and a bare `host` silently drops the credentials. The credentials
 * were chosen for this pull's registry already, so nothing is lost.
 */
export function encodeAuthConfig(auth: RegistryAuth): Buffer {
  const parts: Buffer[] = [];
  const put = (field: number, value: string | undefined) => {
    if (value) parts.push(lengthDelimited(field, value));
  };
  put(AuthConfigField.username, auth.username);
  put(AuthConfigField.password, auth.password?.reveal());
  put(AuthConfigField.serverAddress, auth.serverAddress?.includes('://') ? auth.serverAddress : undefined);
  put(AuthConfigField.identityToken, auth.identityToken?.reveal());
  put(AuthConfigField.registryToken, auth.registryToken?.reveal());
  return Buffer.concat(parts);
}

/**
 * The PullImageRequest to send to the runtime: kubelet's bytes exactly as they
 * arrived, with field 2 (`auth`) taken out and, unless the pull is anonymous,
 * the chosen credentials appended as a new field 2. Every other field — the
 * whole `sandbox_config` included, even the parts imagegate's proto does not
 * model — reaches the runtime byte for byte. Throws WireFormatError when `raw`
 * is not a well-formed message.
 */
export function pullRequestBytes(raw: Uint8Array, auth: RegistryAuth | undefined): Buffer {
  const rest = withoutField(raw, PULL_IMAGE_AUTH_FIELD);
  if (!auth || isAnonymous(auth)) return rest;
  return Buffer.concat([rest, lengthDelimited(PULL_IMAGE_AUTH_FIELD, encodeAuthConfig(auth))]);
}
