import assert from 'node:assert/strict';
import type { CredentialProvider } from '../../src/credentials';
import { CredentialError } from '../../src/credentials/errors';
import type { PullTarget } from '../../src/credentials/pull-credentials';
import { RulePullCredentials, type ActiveRule } from '../../src/credentials/rule-credentials';
import type { Precedence } from '../../src/credentials/config';
import { Secret } from '../../src/log/secret';
import { silentLogger } from '../../src/log/logger';

/** A provider fixture that hands out a password naming itself, or fails. */
function provider(name: string, fail = false): CredentialProvider {
  return {
    name,
    resolve: async () => {
      if (fail) throw new CredentialError(name, 'AWS refused');
      return { username: name, password: new Secret(`${name}-secret`) };
    },
    close: async () => undefined,
  };
}

const rule = (name: string, match: Partial<ActiveRule['match']>, p: CredentialProvider, precedence: Precedence = 'minted-first'): ActiveRule => ({
  name, provider: p, precedence, match: { registry: '*', repository: '', labels: {}, ...match },
});

const pull = (image: string, pod: { namespace?: string; labels?: Record<string, string> } = {}): PullTarget => {
  const [registry, ...rest] = image.split('/');
  return { image, registry, repository: rest.join('/').split(':')[0], namespace: pod.namespace, labels: pod.labels ?? {} };
};

const kubelet = { username: 'kubelet', password: new Secret('k') };

describe('credential rules', () => {
  const rules = new RulePullCredentials(
    [
      rule('team-a', { registry: '*.dkr.ecr.*.amazonaws.com', namespace: ['team-a', 'team-a-dev'] }, provider('role-a')),
      rule('web', { registry: '*.dkr.ecr.*.amazonaws.com', labels: { tier: 'web' } }, provider('role-web')),
      rule('ecr', { registry: '*.dkr.ecr.*.amazonaws.com' }, provider('node')),
      rule('mirror-tools', { registry: '127.0.0.1:500?', repository: 'tools' }, provider('mirror')),
    ],
    silentLogger,
  );
  const ecr = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';

  const table: [string, PullTarget, string | undefined, string[]][] = [
    ['namespace picks its rule', pull(`${ecr}/app:1`, { namespace: 'team-a-dev' }), 'team-a', ['role-a']],
    ['labels pick their rule', pull(`${ecr}/app:1`, { namespace: 'other', labels: { tier: 'web', x: 'y' } }), 'web', ['role-web']],
    ['first match wins over later rules', pull(`${ecr}/app:1`, { namespace: 'team-a', labels: { tier: 'web' } }), 'team-a', ['role-a']],
    ['no pod → only pod-less rules match', pull(`${ecr}/app:1`), 'ecr', ['node']],
    ['repository prefix by whole segments', pull('127.0.0.1:5002/tools/busybox:1'), 'mirror-tools', ['mirror']],
    ['prefix is not a string prefix', pull('127.0.0.1:5002/toolsmith/x:1'), undefined, ['kubelet']],
    ['host glob is anchored', pull(`${ecr}.evil.example/app:1`), undefined, ['kubelet']],
  ];
  for (const [what, target, ruleName, sources] of table) {
    it(what, async () => {
      const plan = await rules.plan(target, undefined);
      assert.equal(plan.rule, ruleName);
      assert.deepEqual(plan.candidates.map((c) => c.source), sources);
    });
  }

  const precedence: [Precedence, string[]][] = [
    ['minted-first', ['node', 'kubelet']],
    ['kubelet-first', ['kubelet', 'node']],
    ['minted-only', ['node']],
    ['kubelet-only', ['kubelet']],
  ];
  for (const [p, sources] of precedence) {
    it(`${p} when kubelet also sent credentials → ${sources.join(', ')}`, async () => {
      const one = new RulePullCredentials([rule('r', {}, provider('node'), p)], silentLogger);
      assert.deepEqual((await one.plan(pull('x.io/a:1'), kubelet)).candidates.map((c) => c.source), sources);
      assert.deepEqual((await one.plan(pull('x.io/a:1'), undefined)).candidates.map((c) => c.source), ['node'], 'without kubelet credentials the minted ones are used');
    });
  }

  it('falls back to kubelet\'s credentials when minting fails, unless minted-only', async () => {
    const soft = new RulePullCredentials([rule('r', {}, provider('sts-jwt', true))], silentLogger);
    assert.deepEqual((await soft.plan(pull('x.io/a:1'), kubelet)).candidates.map((c) => c.source), ['kubelet']);
    await assert.rejects(soft.plan(pull('x.io/a:1'), undefined), /sts-jwt: AWS refused/);
    const strict = new RulePullCredentials([rule('r', {}, provider('sts-jwt', true), 'minted-only')], silentLogger);
    await assert.rejects(strict.plan(pull('x.io/a:1'), kubelet), /sts-jwt: AWS refused/);
  });
});
