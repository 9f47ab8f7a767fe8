import type { HostFs } from './host';
import { RefusalError } from './errors';
import { UNIT_DIRS } from './unit-file';

/** The node images the patcher knows how to patch. */
export type LayoutName = 'gke' | 'eks-al2023' | 'eks-al2' | 'kubeadm';

/** How kubelet is configured on this node. */
export interface Layout {
  name: LayoutName;
  /** Host path of the KubeletConfiguration file kubelet is started with (`--config`). */
  kubeletConfig: string;
  /** The host files that identified the layout. */
  evidence: string[];
}

interface Rule {
  name: LayoutName;
  label: string;
  kubeletConfig: string;
  /** All must hold. */
  checks: ((host: HostFs) => Promise<string | undefined>)[];
}

const file = (path: string) => async (host: HostFs) => ((await host.exists(path)) ? path : undefined);
const fileWith = (path: string, pattern: RegExp) => async (host: HostFs) => (pattern.test((await host.read(path)) ?? '') ? path : undefined);
const dropIn = (name: string) => async (host: HostFs) => {
  for (const dir of UNIT_DIRS) if (await host.exists(`${dir}/kubelet.service.d/${name}`)) return `${dir}/kubelet.service.d/${name}`;
  return undefined;
};

/** Checked in this order: AL2023 first, because its image still ships a bootstrap.sh (one that only errors). */
const RULES: Rule[] = [
  {
    name: 'eks-al2023', label: 'EKS AL2023 (nodeadm: /etc/eks/kubelet/environment + /etc/kubernetes/kubelet/config.json)',
    kubeletConfig: '/etc/kubernetes/kubelet/config.json',
    checks: [file('/etc/eks/kubelet/environment'), file('/etc/kubernetes/kubelet/config.json')],
  },
  {
    name: 'gke', label: 'GKE COS/Ubuntu (/etc/default/kubelet with KUBELET_OPTS + /home/kubernetes/kubelet-config.yaml)',
    kubeletConfig: '/home/kubernetes/kubelet-config.yaml',
    checks: [fileWith('/etc/default/kubelet', /^\s*KUBELET_OPTS=/m), file('/home/kubernetes/kubelet-config.yaml')],
  },
  {
    name: 'eks-al2', label: 'EKS AL2 (/etc/eks/bootstrap.sh + /etc/kubernetes/kubelet/kubelet-config.json)',
    kubeletConfig: '/etc/kubernetes/kubelet/kubelet-config.json',
    checks: [file('/etc/eks/bootstrap.sh'), file('/etc/kubernetes/kubelet/kubelet-config.json')],
  },
  {
    name: 'kubeadm', label: 'kubeadm (kubelet.service.d/10-kubeadm.conf + /var/lib/kubelet/config.yaml)',
    kubeletConfig: '/var/lib/kubelet/config.yaml',
    checks: [dropIn('10-kubeadm.conf'), file('/var/lib/kubelet/config.yaml')],
  },
];

/**
 * Identifies the node's kubelet layout from its files. Refuses — naming
 * every layout it looked for — when none matches, when the node is
 * Bottlerocket (no supported path), or when there is no kubelet.service.
 */
export async function detectLayout(host: HostFs): Promise<Layout> {
  if (/^ID=bottlerocket$/m.test((await host.read('/etc/os-release')) ?? '')) {
    throw new RefusalError('Bottlerocket node: kubelet settings come from its API and it has no image-service setting; refusing, nothing was changed');
  }
  let unitFound = false;
  for (const dir of UNIT_DIRS) unitFound ||= await host.exists(`${dir}/kubelet.service`);
  if (!unitFound) {
    throw new RefusalError(`no kubelet.service under ${UNIT_DIRS.join(', ')} in host root ${host.root}; refusing, nothing was changed`);
  }
  for (const rule of RULES) {
    const found = await Promise.all(rule.checks.map((check) => check(host)));
    if (found.every((f) => f !== undefined)) return { name: rule.name, kubeletConfig: rule.kubeletConfig, evidence: found as string[] };
  }
  throw new RefusalError(
    `unknown kubelet layout in host root ${host.root}: looked for ${RULES.map((r) => r.label).join('; ')} and found none; refusing, nothing was changed`,
  );
}
