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

/**
 * The Kubernetes API as seen from a pod with a service account; undefined
 * outside a cluster. Used for two things only: reading the node's kubelet
 * version and labelling the node with the patch state.
 */
export class KubeApi {
  private constructor(private readonly host: string, private readonly token: Secret, private readonly ca: Buffer) {}

  /** The in-cluster API, or undefined (no KUBERNETES_SERVICE_HOST or no service-account token in `saDir`). */
  static inCluster(env: NodeJS.ProcessEnv = process.env, saDir = SA_DIR): KubeApi | undefined {
    const host = env.KUBERNETES_SERVICE_HOST;
    if (!host) return undefined;
    try {
      const token = new Secret(readFileSync(`${saDir}/token`, 'utf8').trim());
      const ca = readFileSync(`${saDir}/ca.crt`);
      const hostPort = `${host.includes(':') ? `[${host}]` : host}:${env.KUBERNETES_SERVICE_PORT ?? '443'}`;
      return new KubeApi(hostPort, token, ca);
    } catch {
      return undefined;
    }
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
              if ((res.statusCode ?? 500) >= 300) return reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
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
