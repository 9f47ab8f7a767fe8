/**
 * kubelet's credential provider exec API, written down from kubelet's API
 * reference (kubernetes.io/docs/reference/config-api/kubelet-credentialprovider.v1/
 * and .v1beta1/, types in staging/src/k8s.io/kubelet/pkg/apis/credentialprovider),
 * independently of src/credential-provider/api.ts, to check the plugin's
 * responses field by field as kubelet would read them.
 */
import assert from 'node:assert/strict';

export const V1 = 'credentialprovider.kubelet.k8s.io/v1';
export const V1BETA1 = 'credentialprovider.kubelet.k8s.io/v1beta1';

/** CredentialProviderResponse fields (json names) per version. */
const RESPONSE_FIELDS: Record<string, string[]> = {
  [V1]: ['apiVersion', 'kind', 'cacheKeyType', 'cacheDuration', 'serviceAccountTokenCacheType', 'auth'],
  [V1BETA1]: ['apiVersion', 'kind', 'cacheKeyType', 'cacheDuration', 'auth'],
};
/** PluginCacheKeyType: any other value makes kubelet ignore the response. */
const CACHE_KEY_TYPES = ['Image', 'Registry', 'Global'];
/** ServiceAccountTokenCacheType (v1, KEP-4412): required when the request carried a token. */
const SA_TOKEN_CACHE_TYPES = ['ServiceAccount', 'Pod'];
/** metav1.Duration marshals as Go's time.Duration.String(). */
const GO_DURATION = /^(?:0s|(?:\d+h)?(?:\d+m)?(?:\d+(?:\.\d+)?s)|\d+(?:\.\d+)?(?:ms|µs|us|ns))$/;
/** An auth key: host (globs allowed in labels), optional port, optional path. */
const AUTH_KEY = /^(?:[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?)(?:\.[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?)*(?::\d+)?(?:\/[^\s]*)?$/i;

export interface CheckedResponse {
  apiVersion: string;
  kind: 'CredentialProviderResponse';
  cacheKeyType: 'Image' | 'Registry' | 'Global';
  cacheDuration?: string;
  serviceAccountTokenCacheType?: 'ServiceAccount' | 'Pod';
  auth: Record<string, { username: string; password: string }>;
}

/** Parses stdout as kubelet does and checks every field against the API types; returns the typed response. */
export function checkResponse(stdout: string, request: { apiVersion: string; serviceAccountToken?: string }): CheckedResponse {
  const doc = JSON.parse(stdout) as Record<string, unknown>;
  assert.equal(doc.apiVersion, request.apiVersion, 'answers in the apiVersion it was asked in');
  assert.equal(doc.kind, 'CredentialProviderResponse');
  for (const key of Object.keys(doc)) assert.ok(RESPONSE_FIELDS[request.apiVersion].includes(key), `unknown field ${key} for ${request.apiVersion}`);
  assert.ok(CACHE_KEY_TYPES.includes(doc.cacheKeyType as string), `cacheKeyType ${String(doc.cacheKeyType)}`);
  if (doc.cacheDuration !== undefined) assert.match(String(doc.cacheDuration), GO_DURATION, 'cacheDuration is a Go duration');
  if (request.serviceAccountToken) assert.ok(SA_TOKEN_CACHE_TYPES.includes(doc.serviceAccountTokenCacheType as string), 'serviceAccountTokenCacheType is required with a token');
  else assert.equal(doc.serviceAccountTokenCacheType, undefined);
  if (doc.auth !== undefined && doc.auth !== null) {
    assert.equal(typeof doc.auth, 'object');
    for (const [key, value] of Object.entries(doc.auth as Record<string, unknown>)) {
      assert.match(key, AUTH_KEY, `auth key ${key}`);
      const entry = value as Record<string, unknown>;
      assert.deepEqual(Object.keys(entry).sort(), ['password', 'username'], 'AuthConfig has username and password only');
      assert.equal(typeof entry.username, 'string');
      assert.equal(typeof entry.password, 'string');
    }
  }
  return { ...(doc as unknown as CheckedResponse), auth: (doc.auth ?? {}) as CheckedResponse['auth'] };
}

/** A Go duration string in milliseconds (h, m, s only). */
export function durationMs(text: string): number {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  assert.ok(m, `not an h/m/s duration: ${text}`);
  return ((Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0)) * 60 + Number(m[3] ?? 0)) * 1000;
}
