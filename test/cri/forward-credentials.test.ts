import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { buildPullCredentials, credentialsSchema } from '../../src/credentials';
import { AwsStandIn, standInCredentials } from '../../testing/aws';
import { JwtRegistry } from '../credentials/jwt-registry';
import { CriTestClient, ForwardingImagegate } from '../support/containerd';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';

const ROLE_A = 'arn:aws:iam::444455556666:role/team-a-pull';
const ROLE_B = 'arn:aws:iam::777788889999:role/team-b-pull';

describe('cri backend: minted AWS credentials reach containerd', function () {
  this.timeout(120_000);
  let aws: AwsStandIn;
  let front: JwtRegistry;
  let direct: CriTestClient;
  const running: ForwardingImagegate[] = [];

  before(async () => {
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    await requireTcp('ECR-like registry', services.registryEcr);
    await requireTcp('open registry', services.registryOpen);
    aws = await AwsStandIn.start();
    front = await JwtRegistry.start({ issuer: aws.issuer, jwksUrl: aws.jwksUrl, upstream: services.registryOpen });
    direct = new CriTestClient(`unix://${services.containerdSocket}`);
  });
  after(async () => {
    for (const gate of running) await gate.stop();
    direct?.close();
    await front?.close();
    await aws?.close();
  });
  beforeEach(() => aws.reset());

  /** imagegate with the `cri` backend in front of the CI containerd, credentials from `credentials:` rules against the AWS stand-in. */
  async function imagegate(credentials: unknown): Promise<ForwardingImagegate> {
    const pull = buildPullCredentials(credentialsSchema().parse(credentials), {
      aws: { region: 'us-east-1', endpoints: { sts: aws.url, ecr: aws.url, ecrPublic: aws.url }, credentials: standInCredentials },
    });
    const gate = await ForwardingImagegate.start(`unix://${services.containerdSocket}`, { credentials: pull });
    running.push(gate);
    return gate;
  }

  const pod = (image: string, namespace: string) => ({ image: { image }, sandboxConfig: { metadata: { name: 'pod', namespace, uid: `uid-${namespace}` } } });

  it('pulls into containerd from a registry that only accepts the minted ECR password', async () => {
    const image = `${services.registryEcr}/${testImages.busybox}`;
    await direct.call('removeImage', { image: { image } });
    const refused = await direct.call('pullImage', { image: { image } }).catch((e: grpc.ServiceError) => e);
    assert.match((refused as grpc.ServiceError).details, /401 Unauthorized/, 'containerd alone is refused');

    const gate = await imagegate({
      rules: [{ name: 'ecr-mirror', match: { registry: services.registryEcr }, provider: 'ecr', with: { registry: '111122223333.dkr.ecr.us-east-1.amazonaws.com' } }],
    });
    const { imageRef } = await gate.client.call('pullImage', pod(image, 'team-a'));
    assert.equal((await direct.call('imageStatus', { image: { image } })).image?.id, imageRef);
    assert.equal(aws.calls('ecr:GetAuthorizationToken'), 1);
  });

  it('gives each namespace its own role’s JWT (as a Basic password), verified by the registry', async () => {
    const gate = await imagegate({
      rules: [
        { name: 'team-a', match: { registry: front.host, namespace: 'team-a' }, provider: 'sts-jwt', with: { roleArn: ROLE_A } },
        { name: 'team-b', match: { registry: front.host, namespace: 'team-b' }, provider: 'sts-jwt', with: { roleArn: ROLE_B, algorithm: 'ES384' } },
      ],
    });
    const image = `${front.host}/${testImages.userName}`;
    for (const namespace of ['team-a', 'team-b']) {
      await direct.call('removeImage', { image: { image } });
      front.verified.length = 0;
      await gate.client.call('pullImage', pod(image, namespace));
      assert.deepEqual([...new Set(front.verified.map((v) => v.payload.sub))], [namespace === 'team-a' ? ROLE_A : ROLE_B], namespace);
    }
  });

  it('explains the refusal when a rule hands containerd a registry_token, which containerd ignores', async () => {
    const gate = await imagegate({ rules: [{ name: 'bearer', match: { registry: front.host }, provider: 'sts-jwt', with: { as: 'registry-token' } }] });
    const image = `${front.host}/${testImages.multi[1]}`;
    await direct.call('removeImage', { image: { image } });
    front.verified.length = 0;
    front.challenge = 'bearer';
    try {
      const err = (await gate.client.call('pullImage', pod(image, 'team-a')).catch((e: grpc.ServiceError) => e)) as grpc.ServiceError;
      assert.equal(err.code, grpc.status.UNAUTHENTICATED);
      assert.match(err.details, /registry_token, which containerd ignores.*as: password/);
      assert.equal(front.verified.length, 0, 'containerd sent no token');
    } finally {
      front.challenge = 'basic';
    }
  });
});
