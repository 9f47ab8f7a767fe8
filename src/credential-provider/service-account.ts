import { decodeJwt } from 'jose';
import { CredentialError } from '../credentials/errors';
import { RequestError } from './api';

/** Who a service-account token names, from its `kubernetes.io` claims. */
export interface ServiceAccount {
  namespace: string;
  name: string;
  uid?: string;
  /** Epoch ms at which the token expires. */
  expiresAt: number;
}

/**
 * Reads the service account from a token kubelet passed (KEP-4412). The
 * signature is not checked here: AWS checks it in AssumeRoleWithWebIdentity
 * before anything is minted as the account's role, and only kubelet runs the
 * plugin. An expired token is refused here, before any AWS call.
 */
export function readServiceAccount(token: string, now = Date.now()): ServiceAccount {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    throw new RequestError('serviceAccountToken: not a JWT');
  }
  const k8s = claims['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown; uid?: unknown } } | undefined;
  let namespace = typeof k8s?.namespace === 'string' ? k8s.namespace : undefined;
  let name = typeof k8s?.serviceaccount?.name === 'string' ? k8s.serviceaccount.name : undefined;
  const sub = typeof claims.sub === 'string' ? /^system:serviceaccount:([^:]+):([^:]+)$/.exec(claims.sub) : null;
  if ((!namespace || !name) && sub) [namespace, name] = [sub[1], sub[2]];
  if (!namespace || !name) throw new RequestError('serviceAccountToken: no kubernetes.io service account claims (not a Kubernetes service-account token)');
  if (typeof claims.exp !== 'number') throw new RequestError('serviceAccountToken: no exp claim');
  const expiresAt = claims.exp * 1000;
  if (now >= expiresAt) {
    throw new CredentialError('service-account', `the token of service account ${namespace}/${name} expired at ${new Date(expiresAt).toISOString()}; nothing was minted`, 'ExpiredToken');
  }
  const uid = typeof k8s?.serviceaccount?.uid === 'string' ? k8s.serviceaccount.uid : undefined;
  return { namespace, name, uid, expiresAt };
}
