import type { RegistryAuth } from './registry-auth';

/** What a pull is for: the image and, when kubelet sent it, the pod that asked. */
export interface PullTarget {
  /** Fully-qualified reference, e.g. `docker.io/library/busybox:latest`. */
  image: string;
  /** Registry host as in the reference, e.g. `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path inside the registry, e.g. `library/busybox`. */
  repository: string;
  /** From `PullImageRequest.sandbox_config.metadata`, when sent. */
  namespace?: string;
  podName?: string;
  /** From `PullImageRequest.sandbox_config.labels`; empty when not sent. */
  labels: Record<string, string>;
  /** The pod's service account name (kubelet credential provider requests with a token only). */
  serviceAccount?: string;
  /** The service account's annotations kubelet passed (credential provider requests only). */
  serviceAccountAnnotations?: Record<string, string>;
}

/** One set of credentials to try, and where it came from (for the pull's log line; never the secret). */
export interface PullCandidate {
  /** Undefined means an anonymous pull. */
  auth?: RegistryAuth;
  /** `kubelet`, or the provider that minted it (`ecr`, `sts-jwt`, `static`). */
  source: string;
}

export interface PullPlan {
  /** Tried in order until one pull succeeds; at least one entry. */
  candidates: PullCandidate[];
  /** Name of the rule that matched, when one did. */
  rule?: string;
}

/**
 * Decides which credentials a pull uses. The image service asks once per
 * PullImage and tries the candidates in order, moving on only when the
 * registry rejects credentials.
 *
 * Errors: a rejection means no credentials could be had (for example AWS
 * refused); the message is shown to kubelet and must name the cause, never a
 * secret. Safe under concurrency. `close()` stops background refreshes.
 */
export interface PullCredentials {
  plan(target: PullTarget, kubeletAuth: RegistryAuth | undefined): Promise<PullPlan>;
  close(): Promise<void>;
}

/** The behaviour with no rules configured: use what kubelet sent, or pull anonymously. */
export const kubeletOnly: PullCredentials = {
  plan: async (_target, kubeletAuth) => ({ candidates: [{ auth: kubeletAuth, source: 'kubelet' }] }),
  close: async () => undefined,
};
