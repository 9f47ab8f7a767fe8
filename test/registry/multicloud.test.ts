import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { buildPullCredentials, createCredentialServices, credentialsSchema, type CredentialServices } from '../../src/credentials';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { createLogger } from '../../src/log/logger';
import { createRegistry } from '../../src/metrics/server';
import { registrySchema } from '../../src/registry/config';
import { startRegistry, type RunningRegistry } from '../../src/registry/server';
import { AwsStandIn, STANDIN_ACCOUNT, STANDIN_NODE_ROLE, standInCredentials } from '../../testing/aws';
import { GoogleStsStandIn, STANDIN_GCP_ACCESS_TOKEN, STANDIN_GCP_PROJECT, useAwsEnvironment, useMetadataStandIn } from '../gcp';
import { CriTestClient, ForwardingImagegate } from '../support/containerd';
import { TestImagegate } from '../support/cri-server';
import { requireTcp, requireUnixSocket, services } from '../../testing/services';
import { startArtifactRegistry, type ArtifactRegistry } from './support/artifact-registry';
import { upstreams } from '../../testing/registry/upstreams';
import { freePort } from '../../testing/ports';

const run = promisify(execFile);
const EKS_ROLE = 'arn:aws:iam::444455556666:role/eks-node';


/**
 * The three cross-cloud paths of the README, end to end with real Docker Engine,
 * real containerd and real docker-registry upstreams; AWS and Google are the
 * stand-ins. One facade:
 *   - `ecr/…` from the ECR-like upstream (AWS/ECR password, minted by the facade),
 *   - `ar/…` from an Artifact-Registry-like upstream of this test's own
 *     (oauth2accesstoken + the metadata server's current token only, minted by the facade, upstream auth `gcp`),
 *   - `ar-wif/…` from the same upstream with `gcp: {credentialsFile}`: the facade's AWS identity traded for
 *     a Google token through workload identity federation (Google STS stand-in),
 *   - logins: Google ID tokens (`jwt` profile gcp) and presigned GetCallerIdentity (`aws-iam`).
 */
describe('end to end across clouds: GKE node (gcp-id-token) and EKS node (aws-iam) through the facade to ECR and Artifact Registry, GKE node straight to Artifact Registry', function () {
  this.timeout(180_000);
  const gce = useMetadataStandIn();
  useAwsEnvironment(standInCredentials, 'us-east-1');
  let aws: AwsStandIn;
  let googleSts: GoogleStsStandIn;
  let dir: string;
  let ar: ArtifactRegistry;
  let facadeCreds: CredentialServices;
  let facade: RunningRegistry;
  let facadeHost: string;
  const facadeLogs: string[] = [];
  const nodes: { stop(): Promise<void> }[] = [];
  const awsOptions = () => ({ region: 'us-east-1', endpoints: { sts: aws.url, ecr: aws.url, ecrPublic: aws.url }, credentials: standInCredentials });

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    await requireTcp('ECR-like upstream (.ci/services/60-registry-upstreams.sh)', upstreams.ecr);
    aws = await AwsStandIn.start();
    ar = await startArtifactRegistry(STANDIN_GCP_ACCESS_TOKEN, ['test/busybox:1']);
    googleSts = await GoogleStsStandIn.start(aws.url);
    dir = mkdtempSync(join(tmpdir(), 'imagegate-multicloud-'));
    writeFileSync(join(dir, 'aws-federation.json'), JSON.stringify(googleSts.externalAccount()));
    const port = await freePort();
    facadeHost = `127.0.0.1:${port}`;
    const audience = `https://${facadeHost}`;
    const config = registrySchema.parse({
      listen: facadeHost,
      metricsListen: '',
      upstreams: [
        { name: 'ecr', prefix: 'ecr', url: `http://${upstreams.ecr}`, auth: { ecr: { registry: `${STANDIN_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com` } } },
        { name: 'artifact-registry', prefix: 'ar', url: `http://${ar.host}`, auth: { gcp: {} } },
        { name: 'artifact-registry-wif', prefix: 'ar-wif', url: `http://${ar.host}`, auth: { gcp: { credentialsFile: 'aws-federation.json' } } },
      ],
      auth: {
        chain: [
          { name: 'gke', jwt: { profile: 'gcp', audience, jwksUrl: gce.standIn.jwksUrl } },
          { name: 'eks', 'aws-iam': { audience, regions: ['us-east-1'], endpoint: aws.url, accounts: ['444455556666'] } },
        ],
        rules: [
          { claims: { project_id: STANDIN_GCP_PROJECT, zone: 'europe-west1-*' }, repositories: ['ecr/**'] },
          { identity: EKS_ROLE, repositories: ['ar/**', 'ar-wif/**'] },
        ],
      },
    });
    facadeCreds = createCredentialServices({ aws: awsOptions() });
    facade = await startRegistry(config, {
      logger: createLogger({ level: 'debug', sink: facadeLogs }), metricsRegistry: createRegistry(), baseDir: dir, credentials: facadeCreds,
    });
  });
  after(async () => {
    for (const n of nodes) await n.stop().catch(() => undefined);
    await facade?.close(1000);
    facadeCreds?.close();
    await ar?.close();
    await googleSts?.close();
    await aws?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => aws.reset());

  const credentials = (rules: unknown[]) => buildPullCredentials(credentialsSchema().parse({ rules }), { aws: awsOptions() });

  async function gkeNode(rule: Record<string, unknown> = {}): Promise<TestImagegate> {
    const backend = new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 });
    const node = await TestImagegate.start(backend, { credentials: credentials([{ name: 'facade', match: { registry: facadeHost }, provider: 'gcp-id-token', ...rule }]) });
    nodes.push(node);
    return node;
  }

  async function eksNode(rule: Record<string, unknown> = {}): Promise<ForwardingImagegate> {
    const pull = credentials([{ name: 'facade', match: { registry: facadeHost }, provider: 'aws-iam', with: { roleArn: EKS_ROLE }, ...rule }]);
    const node = await ForwardingImagegate.start(`unix://${services.containerdSocket}`, { credentials: pull });
    nodes.push(node);
    return node;
  }

  it('the Artifact-Registry-like upstream takes oauth2accesstoken with the metadata server\'s current token and nothing else', async () => {
    const with_ = (password: string) => fetch(`http://${ar.host}/v2/`, { headers: { authorization: `Basic ${Buffer.from(`oauth2accesstoken:${password}`).toString('base64')}` } });
    assert.equal((await with_(STANDIN_GCP_ACCESS_TOKEN)).status, 200);
    assert.equal((await with_('ya29.some-other-token')).status, 401);
  });

  it('GKE node → facade (Google ID token, project and zone in the rule) → ECR upstream (minted ECR token) → Docker Engine, and the image runs', async () => {
    const image = `${facadeHost}/ecr/test/busybox:1`;
    await run('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
    const node = await gkeNode();
    try {
      const res = await node.call<{ imageRef: string }>('pullImage', { image: { image } });
      assert.match(res.imageRef, /^sha256:[0-9a-f]{64}$/);
      const said = await run('docker', ['run', '--rm', image, 'echo', 'gke-to-ecr']);
      assert.equal(said.stdout.trim(), 'gke-to-ecr');
      assert.equal(aws.calls('ecr:GetAuthorizationToken'), 1, 'the facade minted the ECR token once');
      assert.ok(gce.standIn.calls('instance/service-accounts/default/identity') >= 1);
      const allowed = facadeLogs.map((l) => JSON.parse(l)).filter((l) => l.message === 'login allowed');
      assert.ok(allowed.some((l) => l.authenticator === 'gke'), 'the gke authenticator let the node in');
    } finally {
      await run('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
    }
  });

  it('EKS node → facade (presigned GetCallerIdentity) → Artifact Registry upstream (upstream auth gcp) → containerd', async () => {
    const image = `${facadeHost}/ar/test/busybox:1`;
    const direct = new CriTestClient(`unix://${services.containerdSocket}`);
    try {
      await direct.call('removeImage', { image: { image } });
      const node = await eksNode();
      const { imageRef } = await node.client.call('pullImage', { image: { image }, sandboxConfig: { metadata: { name: 'pod', namespace: 'team-a', uid: 'uid-a' } } });
      assert.equal((await direct.call('imageStatus', { image: { image } })).image?.id, imageRef);
      assert.ok(aws.calls('sts:GetCallerIdentity') >= 1, 'the facade asked STS');
      assert.equal(aws.requests.filter((r) => r.action === 'sts:GetCallerIdentity' && r.error).length, 0);
      assert.ok(gce.standIn.calls('instance/service-accounts/default/token') >= 1, 'the facade minted a Google access token');
      await direct.call('removeImage', { image: { image } });

      // The same upstream through workload identity federation: the facade's AWS identity → a Google token.
      const federated = `${facadeHost}/ar-wif/test/busybox:1`;
      await direct.call('removeImage', { image: { image: federated } });
      const again = await node.client.call('pullImage', { image: { image: federated } });
      assert.equal((await direct.call('imageStatus', { image: { image: federated } })).image?.id, again.imageRef);
      assert.deepEqual(googleSts.exchanges, [{ arn: STANDIN_NODE_ROLE }], 'one token exchange, for the facade\'s AWS identity');
      await direct.call('removeImage', { image: { image: federated } });
    } finally {
      direct.close();
    }
  });

  it('GKE node → Artifact Registry directly (gcp-access-token, user oauth2accesstoken) → Docker Engine', async () => {
    const image = `${ar.host}/test/busybox:1`;
    await run('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
    const backend = new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 });
    const plain = await TestImagegate.start(backend, {});
    nodes.push(plain);
    await assert.rejects(plain.call('pullImage', { image: { image } }), 'the registry refuses a pull without the minted token');
    const node = await TestImagegate.start(backend, { credentials: credentials([{ name: 'artifact-registry', match: { registry: ar.host }, provider: 'gcp-access-token' }]) });
    nodes.push(node);
    try {
      const res = await node.call<{ imageRef: string }>('pullImage', { image: { image } });
      const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', image]);
      assert.equal(stdout.trim(), res.imageRef);
      const line = node.logs.map((l) => JSON.parse(l)).find((l) => l.message === 'image pulled');
      assert.deepEqual([line.rule, line.source], ['artifact-registry', 'gcp-access-token']);
      assert.ok(!node.logs.join('\n').includes(STANDIN_GCP_ACCESS_TOKEN));
    } finally {
      await run('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
    }
  });

  it('refuses each node what its rules do not grant, and tokens for another audience', async () => {
    const gke = await gkeNode();
    await assert.rejects(gke.call('pullImage', { image: { image: `${facadeHost}/ar/test/busybox:1` } }), 'a GKE node may not pull ar/**');
    const wrongGke = await gkeNode({ with: { audience: 'https://elsewhere.example' } });
    await assert.rejects(wrongGke.call('pullImage', { image: { image: `${facadeHost}/ecr/test/busybox:1` } }));
    const wrongEks = await eksNode({ with: { roleArn: EKS_ROLE, audience: 'https://elsewhere.example' } });
    const err = (await wrongEks.client.call('pullImage', { image: { image: `${facadeHost}/ar/test/busybox:1` } }).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
    assert.ok(err instanceof Error && err.code !== grpc.status.OK, 'refused');
    const denied = facadeLogs.map((l) => JSON.parse(l)).filter((l) => l.message === 'login denied');
    assert.ok(denied.some((l) => l.authenticator === 'eks' && /SignatureDoesNotMatch/.test(l.reason)), JSON.stringify(denied));
    assert.ok(denied.some((l) => l.authenticator === 'gke' && /aud/.test(l.reason)), JSON.stringify(denied));
  });

  it('answers UNAVAILABLE, not a crash, when the metadata server is down and no Google token is left', async () => {
    const fresh = createCredentialServices({ aws: awsOptions() });
    const config = registrySchema.parse({
      listen: '127.0.0.1:0', metricsListen: '',
      upstreams: [{ name: 'artifact-registry', prefix: 'ar', url: `http://${ar.host}`, auth: { gcp: {} } }],
      auth: { chain: [{ static: { users: [{ username: 'u', password: 'p-123456' }] } }], rules: [{ identity: 'u', repositories: ['**'] }] },
    });
    const lines: string[] = [];
    const other = await startRegistry(config, { logger: createLogger({ level: 'debug', sink: lines }), metricsRegistry: createRegistry(), baseDir: '.', credentials: fresh });
    try {
      await gce.standIn.stop();
      const basic = `Basic ${Buffer.from('u:p-123456').toString('base64')}`;
      const tokenRes = await fetch(`${other.url}/token?service=imagegate-registry&scope=repository:ar/test/busybox:pull`, { headers: { authorization: basic } });
      const { token } = (await tokenRes.json()) as { token: string };
      const res = await fetch(`${other.url}/v2/ar/test/busybox/manifests/1`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 503);
      assert.match(await res.text(), /upstream credentials are unavailable/);
      assert.ok(lines.some((l) => /Google credentials unavailable/.test(l) && /not reachable/.test(l)), lines.join('\n'));
      assert.equal((await fetch(`${other.url}/v2/`)).status, 401, 'the facade is still up');
    } finally {
      await gce.standIn.restart();
      await other.close(500);
      fresh.close();
    }
  });

  it('logs no token: not in the facade, not on the nodes', () => {
    const text = facadeLogs.join('\n');
    assert.ok(!/eyJ[A-Za-z0-9_-]{20,}\./.test(text), 'no JWT in the facade logs');
    assert.ok(!text.includes('imagegate-aws-v1.'), 'no presigned token in the facade logs');
    assert.ok(!text.includes(STANDIN_GCP_ACCESS_TOKEN), 'no access token in the facade logs');
    assert.ok(!text.includes('X-Amz-Signature'), 'no presigned URL in the facade logs');
    for (const n of nodes) {
      const logs = (n as TestImagegate).logs ?? (n as ForwardingImagegate).gate.logs;
      const nodeText = logs.join('\n');
      assert.ok(!/eyJ[A-Za-z0-9_-]{20,}\./.test(nodeText) && !nodeText.includes('imagegate-aws-v1.'), 'no token in a node\'s logs');
    }
  });
});
