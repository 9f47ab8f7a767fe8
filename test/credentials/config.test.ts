import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { loadImageServiceConfig } from '../../src/cri/config';
import { codeBlocks, readDoc, section } from '../support/docs';

const dir = mkdtempSync(join(tmpdir(), 'imagegate-credentials-config-'));
let n = 0;

/** Writes `credentials` as the YAML config file and returns its path. */
function configFile(credentials: unknown): string {
  const file = join(dir, `config-${n++}.yaml`);
  writeFileSync(file, YAML.stringify({ credentials }));
  return file;
}

/** Starts the real CLI (`imagegate image-service --config FILE`) and returns its exit code and stderr. */
function startImageService(file: string): { status: number | null; stderr: string } {
  const script = `require('./bin/main.ts').main(['image-service', '--config', ${JSON.stringify(file)}, '--socket', ${JSON.stringify(join(dir, 'never.sock'))}])`;
  const out = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { cwd: join(__dirname, '../..'), encoding: 'utf8', timeout: 30_000 });
  return { status: out.status, stderr: out.stderr.split('\n').filter((l) => l.startsWith('imagegate:')).join('\n') };
}

describe('credentials: configuration', () => {
  const bad: [string, unknown, RegExp][] = [
    ['a malformed ECR host', { rules: [{ provider: 'ecr', with: { registry: '12345.dkr.ecr.eu-west-1.amazonaws.com' } }] }, /^imagegate: credentials\.rules\[0\]\.with\.registry: not an ECR host/],
    ['a literal non-ECR registry for ecr', { rules: [{ provider: 'ecr', match: { registry: 'registry.example' } }] }, /^imagegate: credentials\.rules\[0\]\.match\.registry: "registry\.example" is not an ECR host/],
    ['an unknown provider name', { rules: [{ provider: 'gcr' }] }, /^imagegate: credentials\.rules\[0\]\.provider: unknown provider "gcr" \(known: ecr, sts-jwt, static, kubelet, gcp-access-token, gcp-id-token, aws-iam\)$/],
    ['a rule without a provider', { rules: [{ match: { registry: '*' } }] }, /^imagegate: credentials\.rules\[0\]\.provider: every rule needs a provider/],
    ['a duration under 60s', { rules: [{ provider: 'sts-jwt', with: { duration: 30 } }] }, /^imagegate: credentials\.rules\[0\]\.with\.duration: must be whole seconds between 60s and 3600s/],
    ['a duration over 3600s', { rules: [{ provider: 'sts-jwt', with: { duration: '2h' } }] }, /^imagegate: credentials\.rules\[0\]\.with\.duration: must be whole seconds between 60s and 3600s/],
    ['11 audiences', { rules: [{ provider: 'sts-jwt', with: { audiences: Array.from({ length: 11 }, (_, i) => `a${i}`) } }] }, /^imagegate: credentials\.rules\[0\]\.with\.audiences: GetWebIdentityToken takes 1 to 10 audiences$/],
    ['an unknown provider parameter', { rules: [{ provider: 'ecr', match: { registry: '*.dkr.ecr.*.amazonaws.com' }, with: { rolearn: 'x' } }] }, /^imagegate: credentials\.rules\[0\]\.with: Unrecognized key: "rolearn"/],
    ['a bad role ARN', { rules: [{ provider: 'sts-jwt', with: { roleArn: 'team-a' } }] }, /^imagegate: credentials\.rules\[0\]\.with\.roleArn: must be an IAM role ARN/],
    ['an unknown precedence', { rules: [{ provider: 'kubelet', precedence: 'both' }] }, /^imagegate: credentials\.rules\[0\]\.precedence: /],
    ['an unreadable static file', { rules: [{ provider: 'static', with: { file: '/nonexistent/config.json' } }] }, /^imagegate: credentials\.rules\[0\]\.with\.file: cannot use \/nonexistent\/config\.json: ENOENT$/],
  ];
  /** The cases the issue names go through the real CLI; the rest through the same loader in-process. */
  const throughCli = new Set(['a malformed ECR host', 'an unknown provider name', 'a rule without a provider', 'a duration under 60s', '11 audiences', 'an unreadable static file']);
  for (const [what, credentials, expected] of bad) {
    it(`start-up fails with one line naming the setting: ${what}`, () => {
      if (throughCli.has(what)) {
        const { status, stderr } = startImageService(configFile(credentials));
        assert.equal(status, 2, stderr);
        assert.equal(stderr.split('\n').length, 1, stderr);
        assert.match(stderr, expected);
      } else {
        assert.throws(() => loadImageServiceConfig(['--config', configFile(credentials)], {}), (err: Error) => {
          assert.match(`imagegate: ${err.message}`, expected);
          return true;
        });
      }
    });
  }

  it('fills every default', () => {
    const { config } = loadImageServiceConfig(['--config', configFile({ rules: [{ provider: 'sts-jwt' }] })], {});
    const rule = config.credentials!.rules[0];
    assert.equal(rule.name, 'rules[0]');
    assert.deepEqual(rule.match, { registry: '*', repository: '', labels: {} });
    assert.equal(rule.precedence, 'minted-first');
    assert.deepEqual(rule.params, { algorithm: 'RS256', duration: 300_000, as: 'password', username: 'sts-jwt' });
    assert.deepEqual(config.credentials!.cache, { maxEntries: 1000, jitter: 0.2, backoffInitial: 1000, backoffMax: 300_000 });
  });

  it('accepts every ECR host form', () => {
    for (const registry of [
      '111122223333.dkr.ecr.eu-west-1.amazonaws.com', '111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn',
      '111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com', '111122223333.dkr-ecr.eu-west-1.on.aws', 'public.ecr.aws',
    ]) {
      const { config } = loadImageServiceConfig(['--config', configFile({ rules: [{ provider: 'ecr', match: { registry } }] })], {});
      assert.equal(config.credentials!.rules[0].match.registry, registry);
    }
  });

  it('leaves the section out when not configured', () => {
    assert.equal(loadImageServiceConfig([], {}).config.credentials, undefined);
  });
});

describe('credentials: the docs example (docs/credentials.md, "Example")', () => {
  it('is a valid configuration', () => {
    const yaml = codeBlocks(section(readDoc('docs/credentials.md'), 'Example')).find((b) => b.lang === 'yaml')?.body;
    assert.ok(yaml, 'the section holds a yaml example');
    const file = join(dir, 'readme.yaml');
    writeFileSync(file, yaml);
    const { config } = loadImageServiceConfig(['--config', file], {});
    assert.deepEqual(config.credentials!.rules.map((r) => [r.name, r.provider]), [
      ['team-a-ecr', 'ecr'], ['ecr-node', 'ecr'], ['facade', 'sts-jwt'], ['mirror-secret', 'static'],
      ['artifact-registry', 'gcp-access-token'], ['facade-from-gke', 'gcp-id-token'], ['facade-from-eks', 'aws-iam'],
    ]);
  });
});
