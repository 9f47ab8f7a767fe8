/**
 * deploy/registry: every overlay builds with `kubectl kustomize`, kubectl
 * decodes every object offline (see test/install/daemonset.test.ts for why
 * not `apply --dry-run`), the rendered objects keep the facade's deployment
 * properties, and the rendered container — its args, env and ConfigMap, with
 * the Secrets it mounts filled in — starts under the real CLI.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import bcrypt from 'bcryptjs';
import YAML from 'yaml';
import { parseDuration } from '../../src/config/duration';
import { sharedRedis } from './support/redis';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Obj = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [k: string]: any };

const OVERLAYS = [
  { name: 'plain', extra: ['Ingress'] },
  { name: 'eks', extra: ['Ingress', 'ServiceMonitor'], redis: true, blobCache: true, annotation: 'eks.amazonaws.com/role-arn' },
  { name: 'gke', extra: ['Ingress', 'ServiceMonitor'], redis: true, annotation: 'iam.gke.io/gcp-service-account' },
];

async function render(overlay: string): Promise<Obj[]> {
  const { stdout: built } = await run('kubectl', ['kustomize', join(ROOT, 'deploy/registry/overlays', overlay)], { maxBuffer: 8 << 20 });
  const decoded = await new Promise<string>((res, rej) => {
    const child = execFile('kubectl', ['label', '--local', '--dry-run=client', '-f', '-', '-o', 'yaml', 'imagegate.dev/checked=true'], { maxBuffer: 8 << 20 }, (err, stdout, stderr) =>
      err ? rej(new Error(`kubectl could not decode ${overlay}: ${stderr}`)) : res(stdout),
    );
    child.stdin!.end(built);
  });
  const docs = decoded.split(/^(?=apiVersion:)/m).filter((d) => d.trim()).map((d) => YAML.parse(d) as Obj & { items?: Obj[] });
  return docs.flatMap((d) => (d.kind === 'List' ? d.items! : [d]));
}

const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

describe('deploy/registry: kustomize overlays of the registry facade', function () {
  this.timeout(120_000);
  for (const o of OVERLAYS) {
    describe(`overlays/${o.name}`, () => {
      let objects: Obj[];
      let dep: Obj;
      let pod: Obj;
      let c: Obj;
      let config: { registry: Record<string, any> };
      const one = (kind: string) => objects.find((x) => x.kind === kind)!;
      before(async () => {
        objects = await render(o.name);
        dep = one('Deployment');
        pod = dep.spec.template.spec;
        c = pod.containers.find((x: Obj) => x.name === 'registry');
        config = YAML.parse(one('ConfigMap').data['registry.yaml']);
      });

      it('renders namespace, service account, config, Deployment, Service, PDB, HPA and its components', () => {
        assert.deepEqual(objects.map((x) => x.kind).sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Namespace', 'PodDisruptionBudget', 'Service', 'ServiceAccount', ...o.extra].sort());
        for (const x of objects.filter((x) => x.kind !== 'Namespace')) assert.equal(x.metadata.namespace, 'imagegate-registry', x.kind);
        assert.equal(one('Namespace').metadata.labels!['pod-security.kubernetes.io/enforce'], 'restricted');
      });

      it('at least two replicas, rolled out without lowering capacity, spread over nodes and zones', () => {
        assert.ok(dep.spec.replicas >= 2);
        assert.equal(dep.spec.strategy.rollingUpdate.maxUnavailable, 0);
        assert.ok(dep.spec.strategy.rollingUpdate.maxSurge >= 1);
        const keys = pod.topologySpreadConstraints.map((t: Obj) => t.topologyKey);
        assert.deepEqual(keys, ['kubernetes.io/hostname', 'topology.kubernetes.io/zone']);
        for (const t of pod.topologySpreadConstraints) assert.ok(matches(t.labelSelector.matchLabels, dep.spec.template.metadata.labels));
      });

      it('probes: readiness on /readyz, liveness on /healthz, on a port the container declares', () => {
        assert.equal(c.readinessProbe.httpGet.path, '/readyz');
        assert.equal(c.livenessProbe.httpGet.path, '/healthz');
        const ports = c.ports.map((p: Obj) => p.name);
        for (const p of [c.readinessProbe, c.livenessProbe, c.startupProbe]) assert.ok(ports.includes(p.httpGet.port), p.httpGet.port);
        const metricsPort = c.ports.find((p: Obj) => p.name === c.readinessProbe.httpGet.port).containerPort;
        assert.equal(config.registry.metricsListen, `:${metricsPort}`, 'the probed port is the metrics listener, on every pod address');
        assert.equal(config.registry.listen, `:${c.ports.find((p: Obj) => p.name === 'http').containerPort}`);
      });

      it('terminationGracePeriodSeconds covers the preStop sleep plus limits.shutdownGrace', () => {
        const sleep = c.lifecycle.preStop.sleep.seconds as number;
        const grace = parseDuration(String(config.registry.limits.shutdownGrace))! / 1000;
        assert.ok(sleep >= 5, 'endpoints and load balancers get time to drop the pod');
        assert.ok(pod.terminationGracePeriodSeconds >= sleep + grace, `${pod.terminationGracePeriodSeconds} ≥ ${sleep} + ${grace}`);
        assert.ok(pod.terminationGracePeriodSeconds <= sleep + grace + 15, 'and not much more');
      });

      it('non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp, nothing privileged or from the host', () => {
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.ok(pod.securityContext.runAsUser > 0);
        assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
        assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        assert.equal(c.securityContext.allowPrivilegeEscalation, false);
        assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
        assert.equal(c.securityContext.capabilities.add, undefined);
        assert.notEqual(c.securityContext.privileged, true);
        for (const k of ['hostNetwork', 'hostPID', 'hostIPC']) assert.notEqual(pod[k], true, k);
        for (const v of pod.volumes) assert.equal(v.hostPath, undefined, v.name);
        assert.equal(pod.automountServiceAccountToken, false);
        assert.ok(!JSON.stringify(dep).includes('"privileged":true'));
      });

      it('requests and limits for CPU and memory; every emptyDir has a size limit', () => {
        for (const k of ['cpu', 'memory']) {
          assert.ok(c.resources.requests[k], `requests.${k}`);
          assert.ok(c.resources.limits[k], `limits.${k}`);
        }
        for (const v of pod.volumes.filter((v: Obj) => v.emptyDir)) assert.ok(v.emptyDir.sizeLimit, v.name);
        const cache = pod.volumes.find((v: Obj) => v.name === 'blob-cache');
        assert.equal(Boolean(cache), Boolean(o.blobCache));
        if (cache) assert.ok(c.volumeMounts.some((m: Obj) => m.name === 'blob-cache' && m.mountPath === '/var/cache/imagegate'));
      });

      it('keys, users and upstream passwords come from mounted Secrets; the config from the ConfigMap', () => {
        const files = [
          ...config.registry.token.keys.map((k: Obj) => k.file),
          ...config.registry.auth.chain.map((a: Obj) => a.htpasswd?.file).filter(Boolean),
          ...config.registry.upstreams.map((u: Obj) => u.auth.basic?.password?.file).filter(Boolean),
        ];
        assert.ok(files.length >= 3);
        for (const f of files) {
          const mount = c.volumeMounts.find((m: Obj) => f.startsWith(`${m.mountPath}/`));
          assert.ok(mount, `${f} is on a mounted volume`);
          assert.ok(pod.volumes.find((v: Obj) => v.name === mount.name).secret, `${f} comes from a Secret`);
        }
        const configArg = c.args[c.args.indexOf('--config') + 1];
        const cm = pod.volumes.find((v: Obj) => v.name === c.volumeMounts.find((m: Obj) => configArg.startsWith(`${m.mountPath}/`)).name).configMap;
        assert.equal(cm.name, one('ConfigMap').metadata.name, 'the generated (hashed) ConfigMap: editing it rolls the pods');
        const redisEnv = (c.env ?? []).find((e: Obj) => e.name === 'IMAGEGATE_REGISTRY_RATE_LIMIT_STORE');
        assert.equal(Boolean(redisEnv), Boolean(o.redis));
        if (redisEnv) assert.ok(redisEnv.valueFrom.secretKeyRef, 'the Redis URL (with its password) from a Secret');
      });

      it('Service, PDB and HPA select and scale this Deployment; Ingress and ServiceMonitor point at real ports', () => {
        const labels = dep.spec.template.metadata.labels;
        const svc = one('Service');
        assert.ok(matches(svc.spec.selector, labels));
        for (const p of svc.spec.ports) assert.ok(c.ports.some((cp: Obj) => cp.name === p.targetPort), p.targetPort);
        const pdb = one('PodDisruptionBudget');
        assert.ok(matches(pdb.spec.selector.matchLabels, labels));
        assert.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable < dep.spec.replicas);
        const hpa = one('HorizontalPodAutoscaler');
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name });
        assert.ok(hpa.spec.minReplicas >= 2 && hpa.spec.maxReplicas > hpa.spec.minReplicas);
        assert.equal(hpa.spec.metrics[0].resource.name, 'cpu');
        const ingress = objects.find((x) => x.kind === 'Ingress');
        if (ingress) {
          const backend = ingress.spec.rules[0].http.paths[0].backend.service;
          assert.equal(backend.name, svc.metadata.name);
          assert.ok(svc.spec.ports.some((p: Obj) => p.name === backend.port.name));
          assert.ok(ingress.spec.tls[0].secretName);
          assert.equal(new URL(config.registry.url).host, ingress.spec.tls[0].hosts[0], 'registry.url is the Ingress host');
        }
        const sm = objects.find((x) => x.kind === 'ServiceMonitor');
        if (sm) {
          assert.ok(svc.spec.ports.some((p: Obj) => p.name === sm.spec.endpoints[0].port));
          assert.ok(matches(sm.spec.selector.matchLabels, svc.metadata.labels!));
        }
        if (o.annotation) assert.ok((one('ServiceAccount').metadata as { annotations?: Record<string, string> }).annotations?.[o.annotation]);
      });

      it('the rendered container (args, env, ConfigMap, Secrets) starts under the real CLI; a bad value exits 2 naming it', async () => {
        const dir = mkdtempSync(join(tmpdir(), `imagegate-manifests-${o.name}-`));
        try {
          const root = (p: string) => (p.startsWith('/etc/imagegate/') ? join(dir, p) : p);
          const text = one('ConfigMap').data['registry.yaml'].replaceAll('/etc/imagegate/', `${dir}/etc/imagegate/`);
          const configArg = c.args[c.args.indexOf('--config') + 1];
          const write = (file: string, data: string) => {
            mkdirSync(dirname(file), { recursive: true });
            writeFileSync(file, data, { mode: 0o600 });
          };
          write(root(configArg), text);
          for (const k of config.registry.token.keys) write(root(k.file), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
          for (const a of config.registry.auth.chain) if (a.htpasswd) write(root(a.htpasswd.file), `alice:${bcrypt.hashSync('pw', 4)}\n`);
          for (const u of config.registry.upstreams) if (u.auth.basic?.password?.file) write(root(u.auth.basic.password.file), 'upstream-pass\n');
          const secretValues: Record<string, string> = { 'imagegate-registry-redis/url': sharedRedis.url };
          const env: Record<string, string> = {};
          for (const e of c.env ?? []) env[e.name] = e.value ?? secretValues[`${e.valueFrom.secretKeyRef.name}/${e.valueFrom.secretKeyRef.key}`];
          const args = c.args.map((a: string) => root(a));
          const started = await runCli([...args, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'], env);
          assert.equal(started.code, 0, started.stderr);
          assert.match(started.stderr, /registry facade listening/);
          if (o.redis) assert.match(started.stderr, /login limits are shared through Redis/);
          write(root(configArg), text.replace('perClientAndUser: 10', 'perClientAndUser: ten'));
          const bad = await runCli([...args, '--listen', '127.0.0.1:0', '--metrics-listen', '127.0.0.1:0'], env);
          assert.equal(bad.code, 2, bad.stderr);
          assert.match(bad.stderr, /registry\.rateLimit\.perClientAndUser/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });
    });
  }
});

/** Runs `imagegate <args>` as the image's entrypoint would; once it says it is listening, SIGTERM. Resolves with its exit code and stderr. */
function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'bin/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/', ...env } });
    let stderr = '';
    let signalled = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr += String(d);
      if (!signalled && stderr.includes('registry facade listening')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stderr });
    });
  });
}
