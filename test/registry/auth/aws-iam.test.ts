import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError } from '../../../src/config/errors';
import { createCredentialServices, decodeAwsIamToken, type CredentialServices } from '../../../src/credentials';
import { encodeAwsIamToken } from '../../../src/credentials/aws-iam-token';
import { silentLogger } from '../../../src/log/logger';
import type { AuthDecision, Authenticator } from '../../../src/registry/auth/authenticator';
import { awsIamAuthenticator, canonicalArn } from '../../../src/registry/auth/authenticators/aws-iam';
import { AwsStandIn, STANDIN_ACCOUNT, standInCredentials } from '../../../testing/aws';
import { authenticatorContract, basic, bearer } from './support/contract';
import { capturingLogger } from './support/logs';
import { presignedToken, presignedUrl, tamper } from './support/presign';
import { buildAuthenticator } from './support/build';

const AUDIENCE = 'https://registry.imagegate.test';
const NODE_ROLE = `arn:aws:iam::${STANDIN_ACCOUNT}:role/imagegate-node`;
const TEAM_ROLE = 'arn:aws:iam::444455556666:role/team-a-pull';
const env = { name: 'aws-iam', logger: silentLogger, baseDir: '.', configPath: 'auth.chain[0].aws-iam' };
const ctx = { clientIp: '127.0.0.1' };

describe('aws-iam (presigned sts:GetCallerIdentity)', () => {
  let aws: AwsStandIn;
  let creds: CredentialServices;
  const opened: Authenticator[] = [];
  before(async () => {
    aws = await AwsStandIn.start();
    creds = createCredentialServices({ aws: { region: 'eu-west-1', endpoints: { sts: aws.url }, credentials: standInCredentials, maxAttempts: 1 } });
  });
  after(async () => {
    await Promise.all(opened.map((a) => a.close()));
    creds?.close();
    await aws?.close();
  });
  beforeEach(() => aws.reset());

  const options = (extra: Record<string, unknown> = {}) => ({ audience: AUDIENCE, regions: ['eu-west-1'], endpoint: aws.url, ...extra });
  async function authenticator(extra: Record<string, unknown> = {}, logger = silentLogger): Promise<Authenticator> {
    const a = await buildAuthenticator(awsIamAuthenticator, options(extra), { ...env, logger });
    opened.push(a);
    return a;
  }
  /** What the `aws-iam` provider hands the facade. */
  const providerToken = async (audience = AUDIENCE, roleArn?: string) => (await creds.awsIam.get({ audience, roleArn })).token.reveal();

  authenticatorContract('aws-iam (AWS stand-in)', async () => {
    const good = await providerToken();
    return {
      create: async (logger) => buildAuthenticator(awsIamAuthenticator, options(), { ...env, logger }),
      good: basic('aws-iam', good),
      goodName: NODE_ROLE,
      bad: [
        basic('aws-iam', await providerToken('https://elsewhere.example')),
        bearer(await presignedToken({ audience: AUDIENCE, host: 'evil.example' })),
        bearer(await presignedToken({ audience: AUDIENCE, date: new Date(Date.now() - 3600_000) })),
        bearer(tamper(decodeAwsIamToken(good)!, 'X-Amz-Signature', 'f'.repeat(64))),
        bearer(await presignedToken({ audience: AUDIENCE, extraQuery: { Extra: '1' } })),
      ],
      foreign: [basic('alice', 'alice-password'), bearer('eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln'), bearer('k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8')],
    };
  });

  it('allows the node as its role, normalised from the assumed-role session STS answers, with account and session as claims', async () => {
    const auth = await authenticator();
    const d = await auth.authenticate(basic('aws-iam', await providerToken()), ctx);
    assert.equal(d.kind, 'allow', JSON.stringify(d));
    const { identity } = d as Extract<AuthDecision, { kind: 'allow' }>;
    assert.equal(identity.name, NODE_ROLE);
    assert.equal(identity.claims.account, STANDIN_ACCOUNT);
    assert.equal(identity.claims.callerArn, `arn:aws:sts::${STANDIN_ACCOUNT}:assumed-role/imagegate-node/i-0standin`);
    assert.equal(identity.claims.sessionName, 'i-0standin');
    assert.match(String(identity.claims.userId), /^AROA[0-9A-F]+:i-0standin$/);
    assert.equal(aws.calls('sts:GetCallerIdentity'), 1);
  });

  it('maps ARN globs and accounts to groups, and refuses accounts not allowed', async () => {
    const auth = await authenticator({
      groups: [{ arn: 'arn:aws:iam::444455556666:role/team-*', groups: ['team-a'] }, { account: '444455556666', groups: ['eks-nodes'] }, { account: STANDIN_ACCOUNT, groups: ['other'] }],
      accounts: ['444455556666'],
    });
    const team = await auth.authenticate(bearer(await providerToken(AUDIENCE, TEAM_ROLE)), ctx);
    assert.equal(team.kind, 'allow', JSON.stringify(team));
    assert.equal((team as Extract<AuthDecision, { kind: 'allow' }>).identity.name, TEAM_ROLE);
    assert.deepEqual((team as Extract<AuthDecision, { kind: 'allow' }>).identity.groups.sort(), ['eks-nodes', 'team-a']);
    const node = await auth.authenticate(bearer(await providerToken()), ctx);
    assert.deepEqual(node, { kind: 'deny', reason: `account ${STANDIN_ACCOUNT} is not allowed` });
  });

  it('never dials a host named by the token (SSRF): other hosts, ports and look-alikes are refused before any request', async () => {
    let hits = 0;
    const trap = http.createServer((_req, res) => {
      hits += 1;
      res.end('{}');
    });
    await new Promise<void>((r) => trap.listen(0, '127.0.0.1', () => r()));
    const trapHost = `127.0.0.1:${(trap.address() as AddressInfo).port}`;
    try {
      const auth = await authenticator();
      const hosts = [trapHost, '127.0.0.1', 'sts.eu-west-1.amazonaws.com.evil.example', 'sts.us-east-1.amazonaws.com', 'evil.example', 'sts.eu-west-1.amazonaws.com:8443'];
      for (const host of hosts) {
        const d = await auth.authenticate(bearer(await presignedToken({ audience: AUDIENCE, host })), ctx);
        assert.equal(d.kind, 'deny', `${host}: ${JSON.stringify(d)}`);
      }
      for (const url of [`http://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity`, `https://user:pw@sts.eu-west-1.amazonaws.com/`, `https://sts.eu-west-1.amazonaws.com/x/../?a=b`]) {
        assert.equal((await auth.authenticate(bearer(encodeAwsIamToken(url)), ctx)).kind, 'deny', url);
      }
      assert.equal(hits, 0, 'the trap host got a request');
      assert.equal(aws.calls(), 0, 'nothing reached STS either');
    } finally {
      trap.close();
    }
  });

  it('denies a token for another audience (STS refuses the signature over the audience header the facade sends)', async () => {
    const auth = await authenticator();
    const d = await auth.authenticate(bearer(await providerToken('https://elsewhere.example')), ctx);
    assert.deepEqual(d, { kind: 'deny', reason: 'STS refused the request (403 SignatureDoesNotMatch)' });
  });

  it('denies, without asking STS, a request whose audience header is not signed, that expired, lives too long, or carries extra or repeated parameters', async () => {
    const auth = await authenticator();
    const url = await presignedUrl({ audience: AUDIENCE });
    const cases: [string, string, RegExp][] = [
      ['no audience header', await presignedToken({ audience: AUDIENCE, header: null }), /x-imagegate-audience is not signed/],
      ['another header signed', await presignedToken({ audience: AUDIENCE, header: 'x-k8s-aws-id' }), /x-imagegate-audience is not signed/],
      ['expired', await presignedToken({ audience: AUDIENCE, date: new Date(Date.now() - 16 * 60_000) }), /expired/],
      ['from the future', await presignedToken({ audience: AUDIENCE, date: new Date(Date.now() + 3600_000) }), /future/],
      ['lives 1 h', await presignedToken({ audience: AUDIENCE, expires: 3600 }), /longer than allowed/],
      ['extra parameter', await presignedToken({ audience: AUDIENCE, extraQuery: { 'X-Amz-Foo': 'bar' } }), /unexpected query parameter/],
      ['another action', await presignedToken({ audience: AUDIENCE, extraQuery: { Action: 'AssumeRole' } }), /not GetCallerIdentity/],
      ['repeated parameter', encodeAwsIamToken(`${url}&Action=GetCallerIdentity`), /given twice/],
      ['not base64url', 'imagegate-aws-v1.!!!', /malformed token/],
      ['signed for another region than its host', await presignedToken({ audience: AUDIENCE, region: 'us-east-1' }), /scoped to us-east-1, not to the host's region/],
    ];
    for (const [what, token, reason] of cases) {
      const d = await auth.authenticate(bearer(token), ctx);
      assert.equal(d.kind, 'deny', what);
      assert.match((d as { reason: string }).reason, reason, what);
    }
    assert.equal(aws.calls(), 0);
  });

  it('denies a request whose signature or signed values were changed', async () => {
    const auth = await authenticator();
    const url = decodeAwsIamToken(await providerToken())!;
    const expires = new URL(url).searchParams.get('X-Amz-Expires') === '900' ? '899' : '900';
    for (const token of [tamper(url, 'X-Amz-Signature', '0'.repeat(64)), tamper(url, 'X-Amz-Expires', expires)]) {
      const d = await auth.authenticate(bearer(token), ctx);
      assert.deepEqual(d, { kind: 'deny', reason: 'STS refused the request (403 SignatureDoesNotMatch)' });
    }
  });

  it('asks STS once per distinct presigned request: concurrent and repeated logins share the verified identity', async () => {
    const auth = await authenticator();
    const one = await providerToken();
    const two = await presignedToken({ audience: AUDIENCE, expires: 600 });
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => auth.authenticate(basic('aws-iam', i % 2 ? one : two), ctx)));
    assert.ok(answers.every((d) => d.kind === 'allow'));
    for (let i = 0; i < 100; i++) await auth.authenticate(basic('aws-iam', one), ctx);
    assert.equal(aws.calls('sts:GetCallerIdentity'), 2);
  });

  it('does not keep a refusal: a request STS failed on is asked again', async () => {
    const auth = await authenticator();
    const token = await providerToken();
    aws.failNext('ServiceUnavailable');
    assert.deepEqual(await auth.authenticate(bearer(token), ctx), { kind: 'deny', reason: 'STS refused the request (503 ServiceUnavailable)' });
    assert.equal((await auth.authenticate(bearer(token), ctx)).kind, 'allow');
    assert.equal(aws.calls('sts:GetCallerIdentity'), 2);
  });

  it('fails closed when STS is unreachable, says so in the log, and logs no token', async () => {
    const { logger, lines } = capturingLogger();
    const auth = await authenticator({ endpoint: 'http://127.0.0.1:1', timeout: '1s' }, logger);
    const token = await providerToken();
    assert.deepEqual(await auth.authenticate(bearer(token), ctx), { kind: 'deny', reason: 'STS unreachable' });
    assert.ok(lines.some((l) => l.includes('STS unreachable')), lines.join('\n'));
    assert.ok(!lines.join('\n').includes(token.slice(20, 60)));
    assert.ok(!lines.join('\n').includes('X-Amz-Signature'));
  });

  it('names the setting of a bad option', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ audience: AUDIENCE }, 'auth.chain[0].aws-iam.regions'],
      [{ audience: AUDIENCE, regions: ['eu-west-1'], endpoint: 'http://sts.example' }, 'auth.chain[0].aws-iam.endpoint'],
      [{ audience: AUDIENCE, regions: ['europe'] }, 'auth.chain[0].aws-iam.regions[0]'],
      [{ audience: AUDIENCE, regions: ['eu-west-1'], maxLifetime: '2h' }, 'auth.chain[0].aws-iam.maxLifetime'],
      [{ audience: AUDIENCE, regions: ['eu-west-1'], header: 'Audience' }, 'auth.chain[0].aws-iam.header'],
      [{ regions: ['eu-west-1'] }, 'auth.chain[0].aws-iam.audience'],
    ];
    for (const [o, setting] of bad) {
      assert.throws(() => buildAuthenticator(awsIamAuthenticator, o, env), (err: unknown) => err instanceof ConfigError && err.message.startsWith(setting), JSON.stringify(o));
    }
  });

  it('normalises assumed-role ARNs of every partition and leaves users alone', () => {
    assert.deepEqual(canonicalArn('arn:aws-cn:sts::111122223333:assumed-role/r/s@x'), { arn: 'arn:aws-cn:iam::111122223333:role/r', sessionName: 's@x' });
    assert.deepEqual(canonicalArn('arn:aws:iam::111122223333:user/alice'), { arn: 'arn:aws:iam::111122223333:user/alice' });
  });
});
