/**
 * The kubelet credential provider exec API (`credentialprovider.kubelet.k8s.io`
 * v1 and v1beta1), written from kubelet's published types
 * (staging/src/k8s.io/kubelet/pkg/apis/credentialprovider/v1/types.go). This
 * file has no dependencies, so the plugin can check its input before loading
 * anything else.
 */

export const API_V1 = 'credentialprovider.kubelet.k8s.io/v1';
export const API_V1BETA1 = 'credentialprovider.kubelet.k8s.io/v1beta1';
export const API_VERSIONS = [API_V1, API_V1BETA1] as const;
export type ApiVersion = (typeof API_VERSIONS)[number];

/** How kubelet keys its cache of a response. `Global` is never answered (see cacheFor). */
export type CacheKeyType = 'Image' | 'Registry' | 'Global';
/** KEP-4412: how kubelet caches a response to a request that carried a service-account token. */
export type ServiceAccountTokenCacheType = 'ServiceAccount' | 'Pod';

/** What kubelet writes on the plugin's stdin. */
export interface CredentialProviderRequest {
  apiVersion: ApiVersion;
  kind: 'CredentialProviderRequest';
  image: string;
  /** KEP-4412 (v1 only): the pod's service-account token, for the configured audience. */
  serviceAccountToken?: string;
  /** KEP-4412 (v1 only): the configured annotations of the pod's service account. */
  serviceAccountAnnotations?: Record<string, string>;
}

/** One entry of `auth`: kubelet only takes username/password. */
export interface AuthConfig {
  username: string;
  password: string;
}

/** What the plugin writes on stdout. */
export interface CredentialProviderResponse {
  apiVersion: ApiVersion;
  kind: 'CredentialProviderResponse';
  cacheKeyType: CacheKeyType;
  /** A Go duration (`11h55m0s`); `0s` means kubelet must not cache. */
  cacheDuration?: string;
  /** Required by kubelet when the request carried a service-account token. */
  serviceAccountTokenCacheType?: ServiceAccountTokenCacheType;
  auth: Record<string, AuthConfig>;
}

/** The node agent's one route: POST a CredentialProviderRequest, get a CredentialProviderResponse. */
export const AGENT_PATH = '/v1/credential-provider';

/** Bad input from kubelet: the plugin prints the message as one line and exits 1. Never holds a secret. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
}

/** Largest request accepted on stdin. A service-account token is 1–2 KiB; images are at most 512 characters. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** Longest image reference considered (the image grammar's own limit). */
export const MAX_IMAGE_CHARS = 512;
/** Longest service-account token accepted. */
export const MAX_TOKEN_CHARS = 16 * 1024;
const MAX_ANNOTATIONS = 64;

/**
 * Parses and checks a request. Every problem is a RequestError naming the
 * field; nothing from the token ever reaches the message.
 */
export function parseRequest(text: string): CredentialProviderRequest {
  if (text.trim() === '') throw new RequestError('stdin: empty; kubelet sends one CredentialProviderRequest as JSON');
  if (Buffer.byteLength(text) > MAX_REQUEST_BYTES) throw new RequestError(`stdin: request larger than ${MAX_REQUEST_BYTES / 1024} KiB`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new RequestError(`stdin: not JSON (${(err as Error).message.split('\n')[0].slice(0, 120)})`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new RequestError('stdin: not a JSON object');
  const r = doc as Record<string, unknown>;
  if (!API_VERSIONS.includes(r.apiVersion as ApiVersion)) {
    throw new RequestError(`apiVersion: ${describe(r.apiVersion)} is not supported (use ${API_VERSIONS.join(' or ')})`);
  }
  if (r.kind !== 'CredentialProviderRequest') throw new RequestError(`kind: ${describe(r.kind)}, expected CredentialProviderRequest`);
  if (typeof r.image !== 'string' || r.image === '') throw new RequestError('image: missing or empty');
  if (r.image.length > MAX_IMAGE_CHARS) throw new RequestError(`image: ${r.image.length} characters, longer than ${MAX_IMAGE_CHARS}`);
  const out: CredentialProviderRequest = { apiVersion: r.apiVersion as ApiVersion, kind: 'CredentialProviderRequest', image: r.image };
  if (r.serviceAccountToken !== undefined && r.serviceAccountToken !== '') {
    if (typeof r.serviceAccountToken !== 'string') throw new RequestError('serviceAccountToken: must be a string');
    if (r.serviceAccountToken.length > MAX_TOKEN_CHARS) {
      throw new RequestError(`serviceAccountToken: ${r.serviceAccountToken.length} characters, longer than ${MAX_TOKEN_CHARS}`);
    }
    out.serviceAccountToken = r.serviceAccountToken;
  }
  if (r.serviceAccountAnnotations !== undefined && r.serviceAccountAnnotations !== null) {
    const a = r.serviceAccountAnnotations;
    if (typeof a !== 'object' || Array.isArray(a)) throw new RequestError('serviceAccountAnnotations: must be an object of strings');
    const entries = Object.entries(a as Record<string, unknown>);
    if (entries.length > MAX_ANNOTATIONS) throw new RequestError(`serviceAccountAnnotations: more than ${MAX_ANNOTATIONS} entries`);
    for (const [k, v] of entries) {
      if (typeof v !== 'string' || k.length > 317 || v.length > 4096) throw new RequestError(`serviceAccountAnnotations: ${JSON.stringify(k.slice(0, 80))} must be a string of at most 4096 characters`);
    }
    out.serviceAccountAnnotations = a as Record<string, string>;
  }
  return out;
}

/** A Go `time.Duration` string as metav1.Duration marshals it: `0s`, `5m0s`, `11h55m0s`. Whole seconds. */
export function goDuration(ms: number): string {
  let s = Math.max(0, Math.floor(ms / 1000));
  if (s === 0) return '0s';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : typeof value;
  return text;
}
