import assert from 'node:assert/strict';
import { buildPullCredentials, credentialsSchema, type PullCredentials } from '../../src/credentials';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import { AwsStandIn, standInCredentials } from '../../testing/aws';
import { TestImagegate } from '../support/cri-server';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';
import { JwtRegistry } from './jwt-registry';

const ROLE_A = 'arn:aws:iam::444455556666:role/team-a-pull';
const ROLE_B = 'arn:aws:iam::777788889999:role/team-b-pull';

/** PullImageRequest for `image` from a pod in `namespace`. */
const pullRequest = (image: string, namespace?: string) => ({
  image: { image },
  sandboxConfig: namespace ? { metadata: { name: 'pod', namespace, uid: `uid-${namespace}`, attempt: 0 }, labels: { app: 'x' } } : undefined,
});

describe('credentials end to end: image service → real Docker Engine → real registries', function () {
  this.timeout(120_000);
  let aws: AwsStandIn;
  let front: JwtRegistry;
  const running: TestImagegate[] = [];

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireTcp('ECR-like registry (.ci/services/30-ecr-registry.sh)', services.registryEcr);
    await requireTcp('open registry', services.registryOpen);
    aws = await AwsStandIn.start();
    front = await JwtRegistry.start({ issuer: aws.issuer, jwksUrl: aws.jwksUrl, upstream: services.registryOpen });
  });
  after(async () => {
    for (const g of running) {
      await g.call('removeImage', { image: { image: `${services.registryEcr}/${testImages.busybox}` } }).catch(() => undefined);
      await g.call('removeImage', { image: { image: `${front.host}/${testImages.busybox}` } }).catch(() => undefined);
      await g.stop();
    }
    await front?.close();
    await aws?.close();
  });
  beforeEach(() => aws.reset());

  /** An image service whose credentials come from `credentials:` rules, with AWS = the stand-in. */
  async function imagegate(credentials: unknown): Promise<TestImagegate> {
    const config = credentialsSchema().parse(credentials);
    const creds: PullCredentials = buildPullCredentials(config, {
      aws: { region: 'us-east-1', endpoints: { sts: aws.url, ecr: aws.url, ecrPublic: aws.url }, credentials: standInCredentials },
    });
    const backend = new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 });
    const g = await TestImagegate.start(backend, { credentials: creds });
    running.push(g);
    return g;
  }

  it('pulls from a registry that only accepts the stand-in\'s ECR password, with no kubelet auth', async () => {
    const image = `${services.registryEcr}/${testImages.busybox}`;
    const plain = await imagegate({});
    await assert.rejects(plain.call('pullImage', pullRequest(image)), 'the registry refuses a pull without the minted password');
    const g = await imagegate({
      rules: [{ name: 'ecr-mirror', match: { registry: services.registryEcr }, provider: 'ecr', with: { registry: '111122223333.dkr.ecr.us-east-1.amazonaws.com' } }],
    });
    const res = await g.call<{ imageRef: string }>('pullImage', pullRequest(image));
    assert.match(res.imageRef, /^sha256:[0-9a-f]{64}$/);
    assert.equal(aws.calls('ecr:GetAuthorizationToken'), 1);
    const line = g.logs.map((l) => JSON.parse(l)).find((l) => l.message === 'image pulled');
    assert.equal(line.rule, 'ecr-mirror');
    assert.equal(line.source, 'ecr');
    assert.ok(!g.logs.join('\n').includes(aws.ecrPassword), 'the ECR password never reaches a log');
  });

  it('gives each namespace its own role, and the JWT a pull carries verifies against the JWKS', async () => {
    const g = await imagegate({
      rules: [
        { name: 'team-a', match: { registry: front.host, namespace: 'team-a' }, provider: 'sts-jwt', with: { roleArn: ROLE_A, algorithm: 'ES384' } },
        { name: 'team-b', match: { registry: front.host, namespace: 'team-b' }, provider: 'sts-jwt', with: { roleArn: ROLE_B, username: 'jwt' } },
      ],
    });
    const image = `${front.host}/${testImages.busybox}`;
    for (const namespace of ['team-a', 'team-b']) {
      front.verified.length = 0;
      await g.call('pullImage', pullRequest(image, namespace));
      const roles = new Set(front.verified.map((v) => v.payload.sub));
      assert.deepEqual([...roles], [namespace === 'team-a' ? ROLE_A : ROLE_B], `pull for ${namespace}`);
      const jwt = front.verified[0];
      assert.equal(jwt.as, 'basic');
      assert.equal(jwt.username, namespace === 'team-a' ? 'sts-jwt' : 'jwt');
      assert.equal(jwt.payload.aud, front.audience);
      assert.ok(jwt.payload.exp! * 1000 > Date.now() && jwt.payload.exp! - jwt.payload.iat! === 300);
    }
    assert.equal(aws.calls('sts:GetWebIdentityToken'), 2);
    const lines = g.logs.map((l) => JSON.parse(l)).filter((l) => l.message === 'image pulled');
    assert.deepEqual(lines.map((l) => [l.rule, l.source]), [['team-a', 'sts-jwt'], ['team-b', 'sts-jwt']]);
  });

  it('hands the JWT over as a registry (bearer) token when the rule says so', async () => {
    const g = await imagegate({ rules: [{ name: 'bearer', match: { registry: front.host }, provider: 'sts-jwt', with: { as: 'registry-token' } }] });
    front.verified.length = 0;
    front.challenge = 'bearer';
    try {
      await g.call('pullImage', pullRequest(`${front.host}/${testImages.busybox}`));
    } finally {
      front.challenge = 'basic';
    }
    assert.ok(front.verified.length > 0 && front.verified.every((v) => v.as === 'bearer'), JSON.stringify(front.verified.map((v) => v.as)));
  });

  it('refuses the pull when the JWT has the wrong audience (the registry really verifies)', async () => {
    const g = await imagegate({
      rules: [{ name: 'wrong-aud', match: { registry: front.host }, provider: 'sts-jwt', with: { audiences: ['https://elsewhere.example'] } }],
    });
    front.rejected.length = 0;
    await assert.rejects(g.call('pullImage', pullRequest(`${front.host}/${testImages.busybox}`)));
    assert.ok(front.rejected.some((m) => /aud/.test(m)), front.rejected.join('; '));
  });

  it('fails the pull with AWS\'s reason when minting fails and kubelet sent nothing', async () => {
    const g = await imagegate({
      rules: [{ name: 'ecr-mirror', match: { registry: services.registryEcr }, provider: 'ecr', with: { registry: '111122223333.dkr.ecr.us-east-1.amazonaws.com' } }],
    });
    aws.failNext('AccessDeniedException', 3);
    await assert.rejects(g.call('pullImage', pullRequest(`${services.registryEcr}/${testImages.busybox}`)), (err: Error) => {
      assert.match(err.message, /ecr: GetAuthorizationToken for 111122223333\.dkr\.ecr\.us-east-1\.amazonaws\.com as the node identity failed: AccessDeniedException/);
      return true;
    });
  });
});
