import assert from 'node:assert/strict';
import { STSClient, GetWebIdentityTokenCommand, AssumeRoleCommand } from '@aws-sdk/client-sts';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ECRPUBLICClient, GetAuthorizationTokenCommand as GetPublicTokenCommand } from '@aws-sdk/client-ecr-public';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { AwsStandIn, STANDIN_NODE_ROLE, standInCredentials } from '../../testing/aws/index';

describe('AWS stand-in (through the real SDK v3 clients)', () => {
  let aws: AwsStandIn;
  before(async () => {
    aws = await AwsStandIn.start();
  });
  after(() => aws.close());
  beforeEach(() => aws.reset());

  const sts = (region = 'eu-west-1') => new STSClient({ endpoint: aws.url, region, credentials: standInCredentials, maxAttempts: 1 });

  for (const alg of ['RS256', 'ES384'] as const) {
    it(`mints a ${alg} JWT that verifies against the JWKS with AWS-shaped claims`, async () => {
      const out = await sts().send(new GetWebIdentityTokenCommand({
        Audience: ['https://registry.example'], SigningAlgorithm: alg, DurationSeconds: 120, Tags: [{ Key: 'team', Value: 'a' }],
      }));
      assert.ok(out.WebIdentityToken && out.Expiration instanceof Date);
      const { payload, protectedHeader } = await jwtVerify(out.WebIdentityToken, createRemoteJWKSet(new URL(aws.jwksUrl)), {
        issuer: aws.issuer, audience: 'https://registry.example',
      });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(payload.sub, STANDIN_NODE_ROLE);
      assert.equal(payload.exp! - payload.iat!, 120);
      assert.equal(out.Expiration.getTime(), payload.exp! * 1000);
      const aws_ = payload['https://sts.amazonaws.com/'] as Record<string, unknown>;
      assert.equal(aws_.source_region, 'eu-west-1');
      assert.deepEqual(aws_.request_tags, { team: 'a' });
      assert.equal(aws.calls('sts:GetWebIdentityToken'), 1);
    });
  }

  it('serves OpenID discovery naming the JWKS', async () => {
    const doc = (await (await fetch(`${aws.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(doc.issuer, aws.issuer);
    assert.equal(doc.jwks_uri, aws.jwksUrl);
  });

  it('gives assumed roles their own subject', async () => {
    const role = 'arn:aws:iam::444455556666:role/team-a';
    const { Credentials } = await sts().send(new AssumeRoleCommand({ RoleArn: role, RoleSessionName: 'imagegate' }));
    const client = new STSClient({
      endpoint: aws.url, region: 'eu-west-1', maxAttempts: 1,
      credentials: { accessKeyId: Credentials!.AccessKeyId!, secretAccessKey: Credentials!.SecretAccessKey!, sessionToken: Credentials!.SessionToken },
    });
    const out = await client.send(new GetWebIdentityTokenCommand({ Audience: ['a'], SigningAlgorithm: 'RS256' }));
    const { payload } = await jwtVerify(out.WebIdentityToken!, createRemoteJWKSet(new URL(aws.jwksUrl)));
    assert.equal(payload.sub, role);
  });

  it('answers ECR and ECR Public GetAuthorizationToken with AWS:<password>', async () => {
    const ecr = new ECRClient({ endpoint: aws.url, region: 'eu-west-1', credentials: standInCredentials, maxAttempts: 1 });
    const { authorizationData } = await ecr.send(new GetAuthorizationTokenCommand({}));
    assert.equal(Buffer.from(authorizationData![0].authorizationToken!, 'base64').toString(), `AWS:${aws.ecrPassword}`);
    assert.ok(authorizationData![0].expiresAt! > new Date(Date.now() + 11 * 3600_000));
    assert.equal(authorizationData![0].proxyEndpoint, 'https://111122223333.dkr.ecr.eu-west-1.amazonaws.com');
    const pub = new ECRPUBLICClient({ endpoint: aws.url, region: 'us-east-1', credentials: standInCredentials, maxAttempts: 1 });
    const out = await pub.send(new GetPublicTokenCommand({}));
    assert.equal(Buffer.from(out.authorizationData!.authorizationToken!, 'base64').toString(), `AWS:${aws.ecrPassword}`);
    assert.equal(aws.requests.at(-1)?.action, 'ecr-public:GetAuthorizationToken');
  });

  it('fails as told, with the AWS error name the SDK maps', async () => {
    aws.failNext('OutboundWebIdentityFederationDisabledException');
    await assert.rejects(sts().send(new GetWebIdentityTokenCommand({ Audience: ['a'], SigningAlgorithm: 'RS256' })), {
      name: 'OutboundWebIdentityFederationDisabledException',
    });
    aws.failNext('ServerException');
    const ecr = new ECRClient({ endpoint: aws.url, region: 'eu-west-1', credentials: standInCredentials, maxAttempts: 1 });
    await assert.rejects(ecr.send(new GetAuthorizationTokenCommand({})), { name: 'ServerException' });
  });

  it('rejects unsigned requests and requests signed for another service', async () => {
    const unsigned = await fetch(aws.url, { method: 'POST', body: 'Action=GetWebIdentityToken&Version=2011-06-15', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(unsigned.status, 403);
    assert.match(await unsigned.text(), /<Code>MissingAuthenticationToken<\/Code>/);
    const wrong = await fetch(aws.url, {
      method: 'POST', body: '{}',
      headers: {
        'x-amz-target': 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken',
        authorization: `AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-1/sts/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
      },
    });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.headers.get('x-amzn-errortype'), 'SignatureDoesNotMatch');
  });

  it('verifies the signature of its own keys', async () => {
    const wrong = new STSClient({ endpoint: aws.url, region: 'eu-west-1', maxAttempts: 1, credentials: { ...standInCredentials, secretAccessKey: 'not-the-secret' } });
    await assert.rejects(wrong.send(new GetWebIdentityTokenCommand({ Audience: ['a'], SigningAlgorithm: 'RS256' })), { name: 'SignatureDoesNotMatch' });
    const ecr = new ECRClient({ endpoint: aws.url, region: 'eu-west-1', maxAttempts: 1, credentials: { ...standInCredentials, secretAccessKey: 'nope' } });
    await assert.rejects(ecr.send(new GetAuthorizationTokenCommand({})), { name: 'SignatureDoesNotMatch' });
  });

  it('rejects a duration outside 60–3600 and 11 audiences', async () => {
    await assert.rejects(sts().send(new GetWebIdentityTokenCommand({ Audience: ['a'], SigningAlgorithm: 'RS256', DurationSeconds: 30 })), /durationSeconds/);
    const eleven = Array.from({ length: 11 }, (_, i) => `aud${i}`);
    await assert.rejects(sts().send(new GetWebIdentityTokenCommand({ Audience: eleven, SigningAlgorithm: 'RS256' })), /audience/);
  });
});
