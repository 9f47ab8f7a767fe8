/**
 * Node images as the systemd-node tests lay them out: kubelet's unit files,
 * environment files and config in the places and shapes each node image uses
 * (see ../shared/notes/node-patching.md §2), with the stand-in kubelet as the
 * kubelet binary and a stand-in containerd answering ImageFsInfo on
 * /run/containerd/containerd.sock.
 */
export type TestLayout = 'gke' | 'eks-al2023' | 'eks-al2' | 'kubeadm' | 'unknown';

/** One file: host path → content (mode 0644 unless executable). */
export type FileSet = Record<string, { content: string; executable?: boolean }>;

import { resolve } from 'node:path';

/** The repository, mounted read-only at the same path inside every test node. */
export const REPO = resolve(__dirname, '../..');
const standinKubelet = (): { content: string; executable: boolean } => ({
  content: `#!/bin/sh\nexec /usr/bin/node ${REPO}/testing/hostpatch/fixtures/kubelet-standin.cjs "$@"\n`,
  executable: true,
});
const containerd = `ExecStart=/usr/bin/node ${REPO}/node_modules/tsx/dist/cli.mjs ${REPO}/testing/hostpatch/fixtures/cri-standin.ts /run/containerd/containerd.sock containerd`;

/** Services every test node has: the stand-in containerd and imagegate's image service (not enabled: absent after a reboot). */
const COMMON: FileSet = {
  '/etc/systemd/system/containerd.service': {
    content: `[Unit]\nDescription=containerd stand-in\n\n[Service]\n${containerd}\nRestart=always\nRestartSec=1\n\n[Install]\nWantedBy=multi-user.target\n`,
  },
  // The real image service (Docker backend, the host's Docker Engine), as the DaemonSet pod would serve it.
  '/etc/systemd/system/imagegate-test.service': {
    content: `[Unit]\nDescription=imagegate image service (the DaemonSet pod's socket)\n\n[Service]\nWorkingDirectory=/tmp\nExecStart=/usr/bin/node ${REPO}/node_modules/tsx/dist/cli.mjs ${REPO}/bin/main.ts image-service --socket /run/imagegate/imagegate.sock --docker-host unix:///docker.sock --log-level warn\n`,
  },
};

const KUBELET_YAML = `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  x509:
    clientCAFile: /etc/srv/kubernetes/pki/ca-certificates.crt
cgroupDriver: systemd
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
staticPodPath: manifests
`;

const LAYOUTS: Record<TestLayout, FileSet> = {
  gke: {
    '/etc/systemd/system/kubelet.service': {
      content: `[Unit]\nDescription=Kubernetes kubelet\nRequires=network-online.target\nAfter=network-online.target containerd.service\n\n[Service]\nRestart=always\nRestartSec=1\nEnvironmentFile=/etc/default/kubelet\nExecStart=/home/kubernetes/bin/kubelet $KUBELET_OPTS\n\n[Install]\nWantedBy=multi-user.target\n`,
    },
    '/etc/default/kubelet': {
      content: `KUBELET_OPTS="--v=2 --cloud-provider=external --experimental-mounter-path=/home/kubernetes/containerized_mounter/mounter --cert-dir=/var/lib/kubelet/pki/ --kubeconfig=/var/lib/kubelet/kubeconfig --node-labels=cloud.google.com/gke-nodepool=default-pool --config /home/kubernetes/kubelet-config.yaml"\n`,
    },
    '/home/kubernetes/kubelet-config.yaml': { content: KUBELET_YAML },
    '/home/kubernetes/bin/kubelet': standinKubelet(),
  },
  'eks-al2023': {
    '/etc/systemd/system/kubelet.service': {
      content: `[Unit]\nDescription=Kubernetes Kubelet\nDocumentation=https://github.com/kubernetes/kubernetes\nAfter=containerd.service\nWants=containerd.service\n\n[Service]\nEnvironmentFile=/etc/eks/kubelet/environment\nExecStart=/usr/bin/kubelet $NODEADM_KUBELET_ARGS\nRestart=on-failure\nRestartForceExitStatus=SIGPIPE\nRestartSec=1\nKillMode=process\nCPUAccounting=true\nMemoryAccounting=true\n\n[Install]\nWantedBy=multi-user.target\n`,
    },
    '/etc/eks/kubelet/environment': {
      content: `NODEADM_KUBELET_ARGS="--node-ip=10.0.0.1 --cloud-provider=external --hostname-override=ip-10-0-0-1.ec2.internal --config=/etc/kubernetes/kubelet/config.json --kubeconfig=/var/lib/kubelet/kubeconfig --image-credential-provider-bin-dir=/etc/eks/image-credential-provider --image-credential-provider-config=/etc/eks/image-credential-provider/config.json --node-labels=eks.amazonaws.com/nodegroup=ng-1"\n`,
    },
    '/etc/kubernetes/kubelet/config.json': {
      content: JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1beta1', kind: 'KubeletConfiguration', cgroupDriver: 'systemd', containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock', clusterDNS: ['172.20.0.10'] }, null, 4) + '\n',
    },
    '/etc/eks/bootstrap.sh': { content: '#!/usr/bin/env bash\necho >&2 "bootstrap.sh is not used on AL2023; use nodeadm"\nexit 1\n', executable: true },
    // nodeadm's credential provider config and the ecr-credential-provider binary it names (a stand-in script).
    '/etc/eks/image-credential-provider/config.json': {
      content: JSON.stringify({
        apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig',
        providers: [{ name: 'ecr-credential-provider', matchImages: ['*.dkr.ecr.*.amazonaws.com', '*.dkr.ecr.*.amazonaws.com.cn', '*.dkr-ecr.*.on.aws'], defaultCacheDuration: '12h', apiVersion: 'credentialprovider.kubelet.k8s.io/v1' }],
      }, null, 4) + '\n',
    },
    '/etc/eks/image-credential-provider/ecr-credential-provider': { content: '#!/bin/sh\necho >&2 "ecr-credential-provider stand-in"\nexit 1\n', executable: true },
    '/usr/bin/kubelet': standinKubelet(),
  },
  'eks-al2': {
    '/etc/systemd/system/kubelet.service': {
      content: `[Unit]\nDescription=Kubernetes Kubelet\nAfter=containerd.service\nWants=containerd.service\n\n[Service]\nExecStart=/usr/bin/kubelet --config /etc/kubernetes/kubelet/kubelet-config.json --kubeconfig /var/lib/kubelet/kubeconfig --container-runtime-endpoint unix:///run/containerd/containerd.sock $KUBELET_ARGS $KUBELET_EXTRA_ARGS\nRestart=always\nRestartSec=1\nKillMode=process\n\n[Install]\nWantedBy=multi-user.target\n`,
    },
    '/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf': {
      content: `[Service]\nEnvironment='KUBELET_ARGS=--node-ip=10.0.0.2 --pod-infra-container-image=602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.5 --v=2'\n`,
    },
    '/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf': { content: `[Service]\nEnvironment='KUBELET_EXTRA_ARGS=--node-labels=team=a'\n` },
    '/etc/kubernetes/kubelet/kubelet-config.json': {
      content: JSON.stringify({ kind: 'KubeletConfiguration', apiVersion: 'kubelet.config.k8s.io/v1beta1', cgroupDriver: 'systemd' }, null, 2) + '\n',
    },
    '/etc/eks/bootstrap.sh': { content: '#!/usr/bin/env bash\n# EKS AL2 bootstrap (stand-in)\n', executable: true },
    '/usr/bin/kubelet': standinKubelet(),
  },
  kubeadm: {
    '/usr/lib/systemd/system/kubelet.service': {
      content: `[Unit]\nDescription=kubelet: The Kubernetes Node Agent\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nExecStart=/usr/bin/kubelet\nRestart=always\nStartLimitInterval=0\nRestartSec=1\n\n[Install]\nWantedBy=multi-user.target\n`,
    },
    '/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf': {
      content: `# Note: This dropin only works with kubeadm and kubelet v1.11+\n[Service]\nEnvironment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"\nEnvironment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"\nEnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env\nEnvironmentFile=-/etc/default/kubelet\nExecStart=\nExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS\n`,
    },
    '/var/lib/kubelet/kubeadm-flags.env': {
      content: `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock --pod-infra-container-image=registry.k8s.io/pause:3.10"\n`,
    },
    '/etc/default/kubelet': { content: 'KUBELET_EXTRA_ARGS=\n' },
    '/var/lib/kubelet/config.yaml': { content: KUBELET_YAML.replace('staticPodPath: manifests', 'staticPodPath: /etc/kubernetes/manifests') },
    '/usr/bin/kubelet': standinKubelet(),
  },
  unknown: {
    '/etc/systemd/system/kubelet.service': {
      content: `[Unit]\nDescription=kubelet from a custom image\n\n[Service]\nExecStart=/opt/bin/kubelet --config=/opt/kubelet.yaml --container-runtime-endpoint=unix:///run/containerd/containerd.sock\nRestart=always\nRestartSec=1\n\n[Install]\nWantedBy=multi-user.target\n`,
    },
    '/opt/kubelet.yaml': { content: KUBELET_YAML },
    '/opt/bin/kubelet': standinKubelet(),
  },
};

/** The files of a layout plus the common services. */
export function layoutFiles(layout: TestLayout): FileSet {
  return { ...COMMON, ...LAYOUTS[layout] };
}
