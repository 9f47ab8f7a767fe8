import { isIP } from 'node:net';
import { getDomain } from 'tldts';

/**
 * Shared-hosting suffixes that the Public Suffix List does not mark but whose
 * names belong to different customers (`<registry>.azurecr.io`,
 * `<region>-docker.pkg.dev`, `<account>.dkr.ecr.<region>.amazonaws.com`): under
 * them, only the registry's own host counts as its own.
 */
const TENANT_SUFFIXES = ['azurecr.io', 'azurecr.cn', 'azurecr.us', 'pkg.dev', 'amazonaws.com', 'amazonaws.com.cn', 'on.aws', 'ocir.io', 'jfrog.io'];

const defaultPort = (url: URL) => url.port || (url.protocol === 'https:' ? '443' : '80');

/**
 * Whether an upstream's token realm may receive its credentials, the way
 * distribution's `realmAllowed` meant it, done with the Public Suffix List:
 *
 * - never over plain HTTP when the registry is HTTPS (a downgrade);
 * - a host listed in `realmHosts` (`host` or `host:port`, as written), yes;
 * - otherwise the realm must be on the registry's port, and on its host, or on
 *   the same registrable domain by the Public Suffix List (private domains
 *   included: `s3.amazonaws.com`, `github.io`…) and not under one of the
 *   shared-hosting suffixes above. IP addresses match only themselves.
 *
 * `auth.docker.io` for `registry-1.docker.io`: yes. `attacker.co.uk` for
 * `registry.example.co.uk`, `evil.azurecr.io` for `myreg.azurecr.io`: no.
 */
export function realmMayReceiveCredentials(realm: URL, registry: URL, realmHosts: readonly string[]): boolean {
  if (registry.protocol === 'https:' && realm.protocol !== 'https:') return false;
  if (realmHosts.some((h) => h.toLowerCase() === realm.host || h.toLowerCase() === `${realm.hostname}:${defaultPort(realm)}`)) return true;
  if (defaultPort(realm) !== defaultPort(registry)) return false;
  const own = registry.hostname;
  if (realm.hostname === own) return true;
  if (isIP(realm.hostname.replace(/^\[|\]$/g, '')) || isIP(own.replace(/^\[|\]$/g, ''))) return false;
  if (TENANT_SUFFIXES.some((s) => realm.hostname === s || realm.hostname.endsWith(`.${s}`) || own.endsWith(`.${s}`))) return false;
  const domain = getDomain(realm.hostname, { allowPrivateDomains: true });
  return domain !== null && domain === getDomain(own, { allowPrivateDomains: true });
}
