import { readFileSync } from 'node:fs';
import https from 'node:https';
import { readCapped } from '../src/lib/read-capped';
import type { Logger } from '../src/log/logger';
import { Secret } from '../src/log/secret';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** Largest API answer read: well above the largest object etcd stores (1.5 MiB by default). */
export const MAX_ANSWER_BYTES = 4 * 1024 * 1024;

/** The label and annotation the patcher sets on its node. */
export const NODE_LABEL = 'imagegate.dev/hostpatch';
export const NODE_ANNOTATION = 'imagegate.dev/hostpatch-detail';

/** The fields of a DaemonSet imagegate reads. */
export interface DaemonSet {
  metadata?: { deletionTimestamp?: string };
  spec?: { template?: { spec?: { containers?: Container[]; initContainers?: Container[] } } };
}
export type Container = { name?: string; image?: string; args?: string[] };

/** Every container of a DaemonSet's pod template, init containers (native sidecars) first. */
export function templateContainers(ds: DaemonSet): Container[] {
  const pod = ds.spec?.template?.spec;
  return [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
}

/** An answer of the API server other than 2xx. */
export class KubeApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

/**
 * The Kubernetes API as seen from a pod with a service account; undefined
 * outside a cluster. Used for three things only: reading the node's kubelet
 * version, labelling the node with the patch state, and reading the images of
 * the pod's own DaemonSet (to pull a successor's image before the pod stops).
 */
export class KubeApi {
  private constructor(private readonly host: string, private readonly token: Secret, private readonly ca: Buffer, readonly namespace: string | undefined) {}

  /** The in-cluster API, or undefined (no KUBERNETES_SERVICE_HOST or no service-account token). `saDir` is the service account's mount. */
  static inCluster(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): KubeApi | undefined {
    const host = env.KUBERNETES_SERVICE_HOST;
    if (!host) return undefined;
    try {
      const token = new Secret(readFileSync(`${saDir}/token`, 'utf8').trim());
      const ca = readFileSync(`${saDir}/ca.crt`);
      const namespace = readOptional(`${saDir}/namespace`);
      const hostPort = `${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
      return new KubeApi(hostPort, token, ca, namespace);
    } catch {
      return undefined;
    }
  }

  /** A DaemonSet as the API returns it, or undefined when it does not exist. */
  async daemonSet(namespace: string, name: string): Promise<DaemonSet | undefined> {
    try {
      return (await this.request('GET', `/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/daemonsets/${encodeURIComponent(name)}`)) as DaemonSet;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /**
   * The images of a DaemonSet's pod template (containers and init containers,
   * native sidecars included), or undefined when the DaemonSet does not exist.
   */
  async daemonSetImages(namespace: string, name: string): Promise<string[] | undefined> {
    const ds = await this.daemonSet(namespace, name);
    if (!ds) return undefined;
    const images = templateContainers(ds).map((c) => c.image).filter((i): i is string => typeof i === 'string' && i !== '');
    return [...new Set(images)];
  }

  /** The node's `status.nodeInfo.kubeletVersion` (e.g. `v1.30.4-gke.1348000`). */
  async kubeletVersion(node: string): Promise<string> {
    const body = (await this.request('GET', `/api/v1/nodes/${encodeURIComponent(node)}`)) as { status?: { nodeInfo?: { kubeletVersion?: string } } };
    const version = body.status?.nodeInfo?.kubeletVersion;
    if (!version) throw new Error(`node ${node} reports no kubeletVersion`);
    return version;
  }

  /** Sets the patch-state label and a JSON detail annotation on the node (merge patch). */
  async markNode(node: string, state: string, detail: Record<string, unknown>): Promise<void> {
    await this.request('PATCH', `/api/v1/nodes/${encodeURIComponent(node)}`, {
      metadata: { labels: { [NODE_LABEL]: state }, annotations: { [NODE_ANNOTATION]: JSON.stringify(detail) } },
    });
  }

  private request(method: string, path: string, body?: unknown): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const [hostname, port] = [this.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, ''), Number(/:(\d+)$/.exec(this.host)?.[1] ?? 443)];
    return new Promise((resolve, reject) => {
      const req = https.request(
        {
          hostname, port, path, method, ca: this.ca, timeout: 10_000,
          headers: {
            authorization: `Bearer ${this.token.reveal()}`,
            accept: 'application/json',
            ...(payload ? { 'content-type': 'application/merge-patch+json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          readCapped(res, MAX_ANSWER_BYTES).then(
            (body) => {
              const text = body.toString('utf8');
              if ((res.statusCode ?? 500) >= 300) return reject(new KubeApiError(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`, res.statusCode ?? 500));
              try {
                resolve(JSON.parse(text));
              } catch {
                resolve(undefined);
              }
            },
            (err: Error) => reject(new Error(`${method} ${path}: ${err.message}`)),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function readOptional(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** Labels the node when running in a cluster with a node name; logs and carries on otherwise or on failure. */
export async function markNode(log: Logger, node: string | undefined, state: string, detail: Record<string, unknown>): Promise<void> {
  const api = KubeApi.inCluster();
  if (!api || !node) {
    log.info('not in a Kubernetes cluster (no service account or node name); not labelling the node', { state });
    return;
  }
  try {
    await api.markNode(node, state, detail);
    log.info('labelled node', { node, label: NODE_LABEL, state });
  } catch (err) {
    log.warn('could not label node', { node, state, error: (err as Error).message });
  }
}
