/**
 * Where the real servers that .ci/run starts can be found. Every address is on
 * loopback; each can be overridden by the environment variable named beside it.
 * A test that needs one calls `requireService`, which FAILS (never skips) when
 * the server does not answer.
 */
import net from 'node:net';

const env = (name: string, fallback: string) => process.env[name] || fallback;

export const services = {
  /** Docker Engine (started by .ci/services/10-dockerd.sh). */
  dockerSocket: env('IMAGEGATE_TEST_DOCKER_SOCKET', '/var/run/docker.sock'),
  /** docker-registry with no authentication. */
  registryOpen: env('IMAGEGATE_TEST_REGISTRY_OPEN', '127.0.0.1:5000'),
  /** docker-registry with htpasswd Basic auth (user/password below). */
  registryHtpasswd: env('IMAGEGATE_TEST_REGISTRY_HTPASSWD', '127.0.0.1:5001'),
  htpasswdUser: 'kubelet',
  htpasswdPassword: 'kubelet-s3cret',
  /** imagegate's own containerd with its CRI plugin (started by .ci/services/40-containerd.sh). */
  containerdSocket: env('IMAGEGATE_TEST_CONTAINERD_SOCKET', '/run/imagegate-ci/containerd/containerd.sock'),
  /** Logs of the two registries, holding their access logs (one line per request), for counting requests on the registry side. */
  registryOpenLog: env('IMAGEGATE_TEST_REGISTRY_OPEN_LOG', '.ci/work/registry-open/registry.log'),
  registryHtpasswdLog: env('IMAGEGATE_TEST_REGISTRY_HTPASSWD_LOG', '.ci/work/registry-htpasswd/registry.log'),
  /** docker-registry standing in for ECR (.ci/services/30-ecr-registry.sh): accepts ONLY user AWS with the AWS stand-in's ECR password; holds test/busybox:1. */
  registryEcr: env('IMAGEGATE_TEST_REGISTRY_ECR', '127.0.0.1:5002'),
  registryEcrLog: env('IMAGEGATE_TEST_REGISTRY_ECR_LOG', '.ci/work/registry-ecr/registry.log'),
} as const;

/**
 * Test images that .ci/services/20-registries.sh builds from busybox-static and
 * pushes to BOTH registries, used as `<registry>/<name>` (for example
 * `127.0.0.1:5000/test/busybox:1`). Each entry is a distinct image (its own
 * ID); all are about 2 MB except `large`.
 */
export const testImages = {
  /** Plain busybox rootfs, no USER. */
  busybox: 'test/busybox:1',
  /** USER 1002. */
  userUid: 'test/user-uid:1',
  /** USER www-data (in its /etc/passwd, uid 33). */
  userName: 'test/user-name:1',
  /** USER 1003:1003. */
  userUidGroup: 'test/user-uid-group:1',
  /** Pushed as `:latest` only, for tag-less references. */
  tagless: 'test/tagless',
  /** One image under three tags. */
  multi: ['test/multi:a', 'test/multi:b', 'test/multi:c'],
  /** One image under two tags, for removal tests. */
  remove: ['test/remove:1', 'test/remove:2'],
  /** For counting the registry requests of concurrent pulls. */
  concurrent: 'test/concurrent:1',
  /** For pulls with credentials from the htpasswd registry. */
  auth: 'test/auth:1',
  /** Adds a 16 MiB incompressible layer, for slow (throttled) pulls. */
  large: 'test/large:1',
} as const;

/** Fails the calling test (or hook) with a clear message when nothing listens on host:port. */
export async function requireTcp(what: string, hostPort: string, timeoutMs = 2000): Promise<void> {
  const [host, port] = splitHostPort(hostPort);
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => fail(new Error('timed out')), timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`${what} is not reachable at ${hostPort} (${err.message}); .ci/run starts it`));
    }
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
  });
}

/** Fails with a clear message when nothing listens on a Unix socket. */
export async function requireUnixSocket(what: string, path: string, timeoutMs = 2000): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ path });
    const timer = setTimeout(() => fail(new Error('timed out')), timeoutMs);
    function fail(err: Error) {
      clearTimeout(timer);
      socket.destroy();
      reject(new Error(`${what} is not reachable at ${path} (${err.message}); .ci/run starts it`));
    }
    socket.once('error', fail);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.end();
      resolve();
    });
  });
}

function splitHostPort(hostPort: string): [string, number] {
  const i = hostPort.lastIndexOf(':');
  return [hostPort.slice(0, i).replace(/^\[|\]$/g, ''), Number(hostPort.slice(i + 1))];
}
