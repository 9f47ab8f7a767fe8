import { secretOf } from '../../log/secret';
import type { RegistryAuth } from '../registry-auth';

/** One `auths` entry of a Docker config.json / Kubernetes .dockerconfigjson. */
interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/**
 * Parses a Docker `config.json`, a Kubernetes `.dockerconfigjson` (both
 * `{"auths": {...}}`) or a legacy `.dockercfg` (the map itself) into
 * credentials per normalised registry host. Throws on malformed JSON.
 */
export function parseDockerConfig(text: string): Map<string, RegistryAuth> {
  const doc = JSON.parse(text) as { auths?: Record<string, AuthEntry> } & Record<string, AuthEntry>;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error('not a JSON object');
  const auths = doc.auths && typeof doc.auths === 'object' ? doc.auths : doc;
  const out = new Map<string, RegistryAuth>();
  for (const [key, entry] of Object.entries(auths)) {
    if (typeof entry !== 'object' || entry === null) continue;
    let { username, password } = entry;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) [username, password] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    }
    const host = normaliseHost(key);
    out.set(host, {
      username, password: secretOf(password), serverAddress: host,
      identityToken: secretOf(entry.identitytoken), registryToken: secretOf(entry.registrytoken),
    });
  }
  return out;
}

/** `https://index.docker.io/v1/` → `docker.io`; `HOST:PORT/path` → `host:port`. */
export function normaliseHost(key: string): string {
  const host = key.trim().toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/\/.*$/, '');
  return host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
}
