import assert from 'node:assert/strict';
import { CredentialError, fromEcr, parseEcrHost } from '../../src/credentials';
import type { PullTarget } from '../../src/credentials/pull-credentials';
import { useStandInServices } from './stand-in-services';

const target = (registry: string): PullTarget => ({ image: `${registry}/app:1`, registry, repository: 'app', labels: {} });

describe('ECR hosts', () => {
  const table: [string, ReturnType<typeof parseEcrHost>][] = [
    ['111122223333.dkr.ecr.eu-west-1.amazonaws.com', { kind: 'private', host: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', account: '111122223333', region: 'eu-west-1', fips: false, dualStack: false }],
    ['111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn', { kind: 'private', host: '111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn', account: '111122223333', region: 'cn-north-1', fips: false, dualStack: false }],
    ['111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com', { kind: 'private', host: '111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com', account: '111122223333', region: 'us-gov-west-1', fips: true, dualStack: false }],
    ['111122223333.dkr-ecr.eu-central-1.on.aws', { kind: 'private', host: '111122223333.dkr-ecr.eu-central-1.on.aws', account: '111122223333', region: 'eu-central-1', fips: false, dualStack: true }],
    ['111122223333.DKR.ECR.eu-west-1.amazonaws.com:443', { kind: 'private', host: '111122223333.dkr.ecr.eu-west-1.amazonaws.com', account: '111122223333', region: 'eu-west-1', fips: false, dualStack: false }],
    ['public.ecr.aws', { kind: 'public', host: 'public.ecr.aws', region: 'us-east-1' }],
    ['ecr-public.aws.com', { kind: 'public', host: 'ecr-public.aws.com', region: 'us-east-1' }],
    ['12345.dkr.ecr.eu-west-1.amazonaws.com', undefined],
    ['111122223333.dkr.ecr.eu-west-1.amazonaws.com.evil.example', undefined],
    ['111122223333.dkr.ecr.notaregion.amazonaws.com', undefined],
    ['docker.io', undefined],
  ];
  for (const [host, expected] of table) {
    it(`${host} → ${expected ? `${expected.kind} ${expected.region}` : 'not ECR'}`, () => assert.deepEqual(parseEcrHost(host), expected));
  }
});

describe('ecr provider (real SDK against the AWS stand-in)', () => {
  const env = useStandInServices();

  it('hands the registry AWS:<password> as Basic credentials, signed for the host\'s region', async () => {
    const host = '111122223333.dkr.ecr.ap-southeast-2.amazonaws.com';
    const auth = await fromEcr({}, env.creds).resolve(target(host), undefined);
    assert.equal(auth?.username, 'AWS');
    assert.equal(auth?.password?.reveal(), env.aws.ecrPassword);
    assert.equal(auth?.serverAddress, host);
    assert.deepEqual(env.aws.requests.map((r) => [r.action, r.region]), [['ecr:GetAuthorizationToken', 'ap-southeast-2']]);
  });

  it('uses ECR Public in us-east-1 for public.ecr.aws', async () => {
    const auth = await fromEcr({}, env.creds).resolve(target('public.ecr.aws'), undefined);
    assert.equal(auth?.password?.reveal(), env.aws.ecrPassword);
    assert.deepEqual(env.aws.requests.map((r) => [r.action, r.region]), [['ecr-public:GetAuthorizationToken', 'us-east-1']]);
  });

  it('assumes the configured role first', async () => {
    const roleArn = 'arn:aws:iam::444455556666:role/team-b-pull';
    await fromEcr({ roleArn }, env.creds).resolve(target('444455556666.dkr.ecr.eu-west-1.amazonaws.com'), undefined);
    assert.deepEqual(env.aws.requests.map((r) => [r.action, r.principal]), [
      ['sts:AssumeRole', 'arn:aws:iam::111122223333:role/imagegate-node'],
      ['ecr:GetAuthorizationToken', roleArn],
    ]);
  });

  it('mints for the configured ECR host when the image lives on a mirror', async () => {
    const auth = await fromEcr({ registry: '111122223333.dkr.ecr.eu-west-1.amazonaws.com' }, env.creds).resolve(target('127.0.0.1:5002'), undefined);
    assert.equal(auth?.serverAddress, '127.0.0.1:5002');
    assert.equal(env.aws.requests[0].region, 'eu-west-1');
  });

  it('caches one token per host: 100 concurrent resolutions → 1 AWS call', async () => {
    const provider = fromEcr({}, env.creds);
    await Promise.all(Array.from({ length: 100 }, () => provider.resolve(target('111122223333.dkr.ecr.eu-west-1.amazonaws.com'), undefined)));
    assert.equal(env.aws.calls('ecr:GetAuthorizationToken'), 1);
  });

  it('names the host and the AWS error when AWS refuses', async () => {
    env.aws.failNext('AccessDeniedException');
    await assert.rejects(fromEcr({}, env.creds).resolve(target('111122223333.dkr.ecr.eu-west-1.amazonaws.com'), undefined), (err: CredentialError) => {
      assert.equal(err.code, 'AccessDeniedException');
      assert.match(err.message, /^ecr: GetAuthorizationToken for 111122223333\.dkr\.ecr\.eu-west-1\.amazonaws\.com as the node identity failed: AccessDeniedException/);
      return true;
    });
  });

  it('refuses a registry that is not ECR, without calling AWS', async () => {
    await assert.rejects(fromEcr({}, env.creds).resolve(target('docker.io'), undefined), /"docker\.io" is not an ECR registry host/);
    assert.equal(env.aws.calls(), 0);
  });
});
