import { dirname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import { RefusalError } from './errors';

/**
 * KubeletConfiguration fields that hold file paths; kubelet resolves a
 * relative one against the config file's directory, so a copy elsewhere
 * must make them absolute (kubelet `KubeletConfigurationPathRefs`).
 */
const PATH_FIELDS: string[][] = [
  ['staticPodPath'], ['authentication', 'x509', 'clientCAFile'], ['tlsCertFile'], ['tlsPrivateKeyFile'], ['resolvConf'], ['podLogsDir'],
];

/**
 * Returns the text of a copy of kubelet's config file with
 * `imageServiceEndpoint` set, in the original's format (JSON for `.json`,
 * YAML otherwise). Refuses when the node already sets a different image
 * endpoint (e.g. SOCI on AL2023), which the copy would silently replace.
 */
export function patchedKubeletConfig(text: string, hostPath: string, endpoint: string): string {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new RefusalError(`cannot parse kubelet config ${hostPath}: ${(err as Error).message.split('\n')[0]}; nothing was changed`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new RefusalError(`kubelet config ${hostPath} is not a KubeletConfiguration mapping; nothing was changed`);
  }
  const config = doc as Record<string, unknown>;
  const current = config.imageServiceEndpoint;
  if (typeof current === 'string' && current !== '' && current !== endpoint) {
    throw new RefusalError(
      `${hostPath} already sets imageServiceEndpoint to ${current} (e.g. SOCI on EKS AL2023); imagegate would replace it — refusing, nothing was changed`,
    );
  }
  for (const path of PATH_FIELDS) absolutize(config, path, dirname(hostPath));
  config.imageServiceEndpoint = endpoint;
  return hostPath.endsWith('.json') ? JSON.stringify(config, null, 2) + '\n' : YAML.stringify(config);
}

function absolutize(obj: Record<string, unknown>, path: string[], base: string): void {
  let cur: unknown = obj;
  for (const key of path.slice(0, -1)) {
    cur = (cur as Record<string, unknown> | undefined)?.[key];
    if (typeof cur !== 'object' || cur === null) return;
  }
  const holder = cur as Record<string, unknown>;
  const last = path[path.length - 1];
  const value = holder[last];
  if (typeof value === 'string' && value !== '' && !isAbsolute(value)) holder[last] = resolve(base, value);
}

/** `v1.29.3-eks-…`, `1.29` → `{major: 1, minor: 29}`; undefined when it is not a version. */
export function parseKubeletVersion(text: string): { major: number; minor: number } | undefined {
  const m = /^v?(\d+)\.(\d+)/.exec(text.trim());
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** Kubelet reads `imageServiceEndpoint` from its config file from 1.27 on; before that only the flag works. */
export function endpointMode(version: { major: number; minor: number }): 'config' | 'flag' {
  return version.major > 1 || version.minor >= 27 ? 'config' : 'flag';
}
