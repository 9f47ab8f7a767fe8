/**
 * The plugin as kubelet runs it: the self-contained executable, a fresh
 * process per request, JSON on stdin, the provider entry's args and env, a
 * timeout; responses checked field by field against kubelet's API types
 * (support/kubelet-api.ts). AWS is the stand-in; service-account tokens come
 * from a cluster issuer the stand-in trusts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import YAML from 'yaml';
import { AwsStandIn, STANDIN_NODE_ROLE } from '../../testing/aws';
import { ClusterIssuer } from './support/cluster-issuer';
import { checkResponse, durationMs, V1, V1BETA1 } from './support/kubelet-api';
import { execAsKubelet, pluginExecutable, type ProviderEntry } from '../../testing/credential-provider/plugin';

const ECR_HOST = '111122223333.dkr.ecr.us-east-1.amazonaws.com';
const ROLE_A = 'arn:aws:iam::444455556666:role/team-a-pull';
const ROLE_B = 'arn:aws:iam::777788889999:role/team-b-pull';
const request = (image: string, extra: Record<string, unknown> = {}, apiVersion = V1) => ({ apiVersion, kind: 'CredentialProviderRequest', image, ...extra });

describe('credential-provider plugin, executed as kubelet executes it', function () {
  this.timeout(120_000);
  let aws: AwsStandIn;
  let issuer: ClusterIssuer;
  let dir: string;

  before(async () => {
    await pluginExecutable();
    aws = await AwsStandIn.start();
    issuer = await ClusterIssuer.start();
    aws.trustOidcProvider({ issuer: issuer.issuer, jwksUrl: issuer.jwksUrl, subjects: { [ROLE_B]: ['system:serviceaccount:team-b:puller'] } });
    dir = mkdtempSync(join(tmpdir(), 'imagegate-credprov-'));
    writeFileSync(join(dir, 'docker.json'), JSON.stringify({ auths: { 'static.example': { auth: Buffer.from('robot:static-pass').toString('base64') } } }));
  });
  after(async () => {
    await aws?.close();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => aws.reset());

  /** A provider entry whose plugin reads `config` (YAML) and reaches the stand-in through env, with the agent off. */
  function entry(config: unknown, extraArgs: string[] = [], apiVersion = V1): ProviderEntry {
    const file = join(dir, `config-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, YAML.stringify(config));
    return {
      name: 'imagegate-credential-provider', matchImages: ['*.dkr.ecr.*.amazonaws.com', 'jwt.example', 'static.example'],
      defaultCacheDuration: '10m', apiVersion,
      args: ['--config', file, '--agent-socket', '', ...extraArgs],
      env: Object.entries(aws.env('us-east-1')).map(([name, value]) => ({ name, value })),
    };
  }

  const nodeRules = {
    credentials: {
      rules: [
        { name: 'ecr', match: { registry: '*.dkr.ecr.*.amazonaws.com' }, provider: 'ecr' },
        { name: 'jwt-team-a', match: { registry: 'jwt.example', repository: 'team-a' }, provider: 'sts-jwt', with: { duration: '1h', username: 'jwt' } },
        { name: 'static', match: { registry: 'static.example' }, provider: 'static', with: { file: '' } },
      ],
    },
    credentialProvider: { serviceAccount: { fallback: 'node' } },
  };
  const withStatic = () => {
    const c = structuredClone(nodeRules);
    c.credentials.rules[2].with = { file: join(dir, 'docker.json') };
    return c;
  };

  for (const apiVersion of [V1, V1BETA1]) {
    describe(apiVersion, () => {
      it('ECR: Registry-keyed AWS:<password> for the host, cached until expiry minus the skew', async () => {
        const req = request(`${ECR_HOST}/app/web:1`, {}, apiVersion);
        const run = await execAsKubelet(entry(withStatic(), [], apiVersion), req);
        assert.equal(run.code, 0, run.stderr);
        assert.equal(run.stderr, '');
        const res = checkResponse(run.stdout, req);
        assert.equal(res.cacheKeyType, 'Registry');
        assert.deepEqual(res.auth, { [ECR_HOST]: { username: 'AWS', password: aws.ecrPassword } });
        const ms = durationMs(res.cacheDuration!);
        assert.ok(ms <= 12 * 3600_000 - 5 * 60_000 && ms > 12 * 3600_000 - 6 * 60_000, res.cacheDuration);
        assert.deepEqual(aws.requests.map((r) => [r.action, r.principal, r.region]), [['ecr:GetAuthorizationToken', STANDIN_NODE_ROLE, 'us-east-1']]);
      });

      it('sts-jwt under a repository prefix: Image-keyed for host/prefix, cacheDuration = JWT life minus skew', async () => {
        const req = request('jwt.example/team-a/app:2', {}, apiVersion);
        const run = await execAsKubelet(entry(withStatic(), [], apiVersion), req);
        assert.equal(run.code, 0, run.stderr);
        const res = checkResponse(run.stdout, req);
        assert.equal(res.cacheKeyType, 'Image');
        assert.deepEqual(Object.keys(res.auth), ['jwt.example/team-a']);
        const { username, password } = res.auth['jwt.example/team-a'];
        assert.equal(username, 'jwt');
        const { payload } = await jwtVerify(password, createRemoteJWKSet(new URL(aws.jwksUrl)), { issuer: aws.issuer, audience: 'https://jwt.example' });
        assert.equal(payload.sub, STANDIN_NODE_ROLE);
        const ms = durationMs(res.cacheDuration!);
        assert.ok(ms <= 55 * 60_000 && ms > 54 * 60_000, res.cacheDuration);
      });

      it('static: the file\'s entry, no cacheDuration (kubelet\'s defaultCacheDuration applies)', async () => {
        const req = request('static.example/lib/x:1', {}, apiVersion);
        const run = await execAsKubelet(entry(withStatic(), [], apiVersion), req);
        assert.equal(run.code, 0, run.stderr);
        const res = checkResponse(run.stdout, req);
        assert.equal(res.cacheKeyType, 'Registry');
        assert.equal(res.cacheDuration, undefined);
        assert.deepEqual(res.auth, { 'static.example': { username: 'robot', password: 'static-pass' } });
        assert.equal(aws.calls(), 0);
      });

      it('no rule matches: an empty auth, briefly cached, nothing minted', async () => {
        const req = request('docker.io/library/busybox:1', {}, apiVersion);
        const run = await execAsKubelet(entry(withStatic(), [], apiVersion), req);
        assert.equal(run.code, 0, run.stderr);
        const res = checkResponse(run.stdout, req);
        assert.deepEqual(res.auth, {});
        assert.equal(res.cacheDuration, '1m0s');
        assert.equal(aws.calls(), 0);
      });
    });
  }

  describe('service-account tokens (KEP-4412)', () => {
    const saConfig = (fallback: 'none' | 'node') => ({
      credentials: {
        rules: [
          { name: 'team-b-static', match: { registry: 'static.example', namespace: 'team-b', serviceAccount: 'puller' }, provider: 'static', with: { file: join(dir, 'docker.json') } },
          { name: 'ecr', match: { registry: '*.dkr.ecr.*.amazonaws.com' }, provider: 'ecr' },
          { name: 'jwt', match: { registry: 'jwt.example', annotations: { 'imagegate.io/pull': 'jwt' } }, provider: 'sts-jwt', with: { duration: '30m' } },
        ],
      },
      credentialProvider: { serviceAccount: { fallback } },
    });

    it('eks.amazonaws.com/ecr-role-arn → AssumeRoleWithWebIdentity with the pod\'s token, ECR token minted as that role, not cached by kubelet', async () => {
      const token = await issuer.token({ namespace: 'team-a', name: 'web' });
      const req = request(`${ECR_HOST}/app:1`, { serviceAccountToken: token, serviceAccountAnnotations: { 'eks.amazonaws.com/ecr-role-arn': ROLE_A } });
      const run = await execAsKubelet(entry(saConfig('none')), req);
      assert.equal(run.code, 0, run.stderr);
      const res = checkResponse(run.stdout, req);
      assert.equal(res.cacheDuration, '0s');
      assert.equal(res.serviceAccountTokenCacheType, 'ServiceAccount');
      assert.deepEqual(res.auth[ECR_HOST], { username: 'AWS', password: aws.ecrPassword });
      assert.deepEqual(aws.requests.map((r) => [r.action, r.principal, r.error]), [
        ['sts:AssumeRoleWithWebIdentity', ROLE_A, undefined],
        ['ecr:GetAuthorizationToken', ROLE_A, undefined],
      ]);
      assert.ok(!run.stderr.includes(token));
    });

    it('imagegate.io/role-arn wins over the EKS annotation; the STS JWT\'s sub is that role', async () => {
      const token = await issuer.token({ namespace: 'team-b', name: 'puller' });
      const req = request('jwt.example/app:1', {
        serviceAccountToken: token,
        serviceAccountAnnotations: { 'imagegate.io/role-arn': ROLE_B, 'eks.amazonaws.com/ecr-role-arn': ROLE_A, 'imagegate.io/pull': 'jwt' },
      });
      const run = await execAsKubelet(entry(saConfig('none')), req);
      assert.equal(run.code, 0, run.stderr);
      const res = checkResponse(run.stdout, req);
      const { payload } = await jwtVerify(res.auth['jwt.example'].password, createRemoteJWKSet(new URL(aws.jwksUrl)), { issuer: aws.issuer, audience: 'https://jwt.example' });
      assert.equal(payload.sub, ROLE_B);
      assert.equal(payload.exp! - payload.iat!, 1800);
      assert.equal(res.cacheDuration, '0s');
      assert.deepEqual(aws.requests.map((r) => r.action), ['sts:AssumeRoleWithWebIdentity', 'sts:GetWebIdentityToken']);
    });

    it('rules match on the token\'s namespace and service account name (and not on another account)', async () => {
      const ok = request('static.example/x:1', { serviceAccountToken: await issuer.token({ namespace: 'team-b', name: 'puller' }) });
      const res = checkResponse((await execAsKubelet(entry(saConfig('none')), ok)).stdout, ok);
      assert.equal(res.auth['static.example'].username, 'robot');
      assert.equal(res.serviceAccountTokenCacheType, 'ServiceAccount');
      const other = request('static.example/x:1', { serviceAccountToken: await issuer.token({ namespace: 'team-b', name: 'other' }) });
      assert.deepEqual(checkResponse((await execAsKubelet(entry(saConfig('none')), other)).stdout, other).auth, {});
      const noAnnotation = request('jwt.example/app:1', { serviceAccountToken: await issuer.token({ namespace: 'team-b', name: 'puller' }) });
      assert.deepEqual(checkResponse((await execAsKubelet(entry(saConfig('node')), noAnnotation)).stdout, noAnnotation).auth, {}, 'the jwt rule needs the annotation');
      assert.equal(aws.calls(), 0);
    });

    it('no role annotation and fallback none → a clear failure, nothing minted', async () => {
      const req = request(`${ECR_HOST}/app:1`, { serviceAccountToken: await issuer.token({ namespace: 'team-a', name: 'web' }) });
      const run = await execAsKubelet(entry(saConfig('none')), req);
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^imagegate credential-provider: ecr: rule ecr mints with an AWS identity, and service account team-a\/web has none of the annotations imagegate\.io\/role-arn, eks\.amazonaws\.com\/ecr-role-arn \(credentialProvider\.serviceAccount\.fallback is none\); nothing was minted\n$/);
      assert.equal(aws.calls(), 0);
    });

    it('no role annotation and fallback node → minted as the node, cached by kubelet per service account', async () => {
      const req = request(`${ECR_HOST}/app:1`, { serviceAccountToken: await issuer.token({ namespace: 'team-a', name: 'web' }) });
      const run = await execAsKubelet(entry(saConfig('node')), req);
      assert.equal(run.code, 0, run.stderr);
      const res = checkResponse(run.stdout, req);
      assert.equal(res.serviceAccountTokenCacheType, 'ServiceAccount');
      assert.ok(durationMs(res.cacheDuration!) > 11 * 3600_000);
      assert.deepEqual(aws.requests.map((r) => [r.action, r.principal]), [['ecr:GetAuthorizationToken', STANDIN_NODE_ROLE]]);
    });

    it('no token at all: fallback none fails, require fails, fallback node mints as the node', async () => {
      const req = request(`${ECR_HOST}/app:1`);
      const none = await execAsKubelet(entry(saConfig('none')), req);
      assert.equal(none.code, 1);
      assert.match(none.stderr, /the request carries no service-account token \(credentialProvider\.serviceAccount\.fallback is none\); nothing was minted\n$/);
      const required = await execAsKubelet(entry(saConfig('node'), ['--require-service-account']), req);
      assert.equal(required.code, 1);
      assert.match(required.stderr, /^imagegate credential-provider: serviceAccountToken: missing, and credentialProvider\.serviceAccount\.require is true/);
      assert.equal(aws.calls(), 0);
      const node = await execAsKubelet(entry(saConfig('node')), req);
      assert.equal(node.code, 0, node.stderr);
      assert.equal(aws.calls('ecr:GetAuthorizationToken'), 1);
    });

    it('an expired token → a clear failure before any AWS call', async () => {
      const token = await issuer.token({ namespace: 'team-a', name: 'web', expiresIn: -120 });
      const run = await execAsKubelet(entry(saConfig('node')), request(`${ECR_HOST}/app:1`, { serviceAccountToken: token, serviceAccountAnnotations: { 'eks.amazonaws.com/ecr-role-arn': ROLE_A } }));
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^imagegate credential-provider: service-account: the token of service account team-a\/web expired at \S+; nothing was minted\n$/);
      assert.equal(aws.calls(), 0);
    });

    it('a forged token → AWS refuses it (InvalidIdentityToken), nothing minted', async () => {
      const token = await issuer.forged({ namespace: 'team-a', name: 'web' });
      const run = await execAsKubelet(entry(saConfig('node')), request(`${ECR_HOST}/app:1`, { serviceAccountToken: token, serviceAccountAnnotations: { 'eks.amazonaws.com/ecr-role-arn': ROLE_A } }));
      assert.equal(run.code, 1);
      assert.equal(run.stdout, '');
      assert.match(run.stderr, /^imagegate credential-provider: sts: AssumeRoleWithWebIdentity arn:aws:iam::444455556666:role\/team-a-pull with the token of service account team-a\/web failed: InvalidIdentityToken: .*; nothing was minted\n$/);
      assert.deepEqual(aws.requests.map((r) => [r.action, r.error]), [['sts:AssumeRoleWithWebIdentity', 'InvalidIdentityToken']]);
      assert.ok(!run.stderr.includes(token.split('.')[2]));
    });

    it('a role whose trust policy does not name the service account → AccessDenied, nothing minted', async () => {
      const token = await issuer.token({ namespace: 'team-a', name: 'web' });
      const run = await execAsKubelet(entry(saConfig('node')), request(`${ECR_HOST}/app:1`, { serviceAccountToken: token, serviceAccountAnnotations: { 'imagegate.io/role-arn': ROLE_B } }));
      assert.equal(run.code, 1);
      assert.match(run.stderr, /failed: AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity; nothing was minted\n$/);
      assert.equal(aws.calls('ecr:GetAuthorizationToken'), 0);
    });

    it('the token decoded by the stand-in is the one kubelet passed (its sub names the pod\'s account)', async () => {
      const token = await issuer.token({ namespace: 'team-b', name: 'puller' });
      assert.equal(decodeJwt(token).sub, 'system:serviceaccount:team-b:puller');
      const run = await execAsKubelet(entry(saConfig('none')), request(`${ECR_HOST}/app:1`, { serviceAccountToken: token, serviceAccountAnnotations: { 'imagegate.io/role-arn': ROLE_B } }));
      assert.equal(run.code, 0, run.stderr);
    });
  });

  describe('bad input and bad settings: one line, non-zero exit, nothing on stdout, no secret', () => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.' + 'x'.repeat(1_000_000) + '.sig';
    const cases: [string, string, RegExp][] = [
      ['empty stdin', '', /^imagegate credential-provider: stdin: empty; kubelet sends one CredentialProviderRequest as JSON\n$/],
      ['invalid JSON', '{"apiVersion": "credentialprovider.kubelet.k8s.io/v1", "kind"', /^imagegate credential-provider: stdin: not JSON \(.+\)\n$/],
      ['an unknown apiVersion', JSON.stringify(request('busybox', {}, 'credentialprovider.kubelet.k8s.io/v2')), /^imagegate credential-provider: apiVersion: "credentialprovider\.kubelet\.k8s\.io\/v2" is not supported \(use credentialprovider\.kubelet\.k8s\.io\/v1 or credentialprovider\.kubelet\.k8s\.io\/v1beta1\)\n$/],
      ['the wrong kind', JSON.stringify({ ...request('busybox'), kind: 'CredentialProviderResponse' }), /^imagegate credential-provider: kind: "CredentialProviderResponse", expected CredentialProviderRequest\n$/],
      ['an image of 10,000 characters', JSON.stringify(request(`${ECR_HOST}/${'a'.repeat(10_000)}`)), /^imagegate credential-provider: image: 10045 characters, longer than 512\n$/],
      ['an invalid image', JSON.stringify(request('UPPER/Case')), /^imagegate credential-provider: image: .*repository name must be lowercase\n$/],
      ['a 1 MB service-account token', JSON.stringify(request(`${ECR_HOST}/app:1`, { serviceAccountToken: token })), /^imagegate credential-provider: stdin: request larger than 64 KiB\n$/],
      ['a token that is not a JWT', JSON.stringify(request(`${ECR_HOST}/app:1`, { serviceAccountToken: 'not-a-jwt-secret-value' })), /^imagegate credential-provider: serviceAccountToken: not a JWT\n$/],
    ];
    for (const [what, stdin, expected] of cases) {
      it(what, async () => {
        const run = await execAsKubelet(entry(withStatic()), stdin);
        assert.equal(run.code, 1, run.stderr);
        assert.equal(run.stdout, '');
        assert.match(run.stderr, expected);
        assert.ok(!run.stderr.includes('xxxxxxxxxx') && !run.stderr.includes('not-a-jwt-secret-value'));
        assert.equal(aws.calls(), 0);
      });
    }

    it('a bad setting in the YAML file → exit 2 naming its path', async () => {
      const run = await execAsKubelet(entry({ credentialProvider: { serviceAccount: { fallback: 'pod' } } }), request('busybox'));
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^imagegate credential-provider: credentialProvider\.serviceAccount\.fallback: .*\n$/);
    });

    it('a bad rule → exit 2 naming the rule\'s setting', async () => {
      const run = await execAsKubelet(entry({ credentials: { rules: [{ match: { registry: 'x.example' }, provider: 'sts-jwt', with: { duration: '2h' } }] } }), request('busybox'));
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^imagegate credential-provider: credentials\.rules\[0\]\.with\.duration: must be whole seconds between 60s and 3600s \(1h\)\n$/);
    });

    it('a bad arg (the provider entry\'s args) → exit 2 naming the flag', async () => {
      const run = await execAsKubelet(entry(withStatic(), ['--agent-timeout', 'soon']), request('busybox'));
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^imagegate credential-provider: --agent-timeout: not a duration: "soon"/);
    });

    it('a bad env value (the provider entry\'s env) → exit 2 naming the variable', async () => {
      const e = entry(withStatic());
      e.args = e.args!.filter((a) => a !== '--agent-socket' && a !== '');
      e.env!.push({ name: 'IMAGEGATE_AGENT_SOCKET', value: 'relative.sock' });
      const run = await execAsKubelet(e, request('busybox'));
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^imagegate credential-provider: IMAGEGATE_AGENT_SOCKET: must be an absolute path/);
    });

    it('stdin never closed → gives up with one line within kubelet\'s timeout', async function () {
      this.timeout(60_000);
      const { spawn } = await import('node:child_process');
      const e = entry(withStatic());
      const child = spawn(await pluginExecutable(), e.args!, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.stdin.write('{"apiVersion":');
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      child.stdin.destroy();
      assert.equal(code, 1);
      assert.equal(stderr, 'imagegate credential-provider: stdin: not closed within 30s\n');
    });
  });
});
