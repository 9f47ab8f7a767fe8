import assert from 'node:assert/strict';
import { agentFromArgs } from '../../src/credential-provider/args';
import { goDuration, parseRequest, RequestError } from '../../src/credential-provider/api';
import { flagValue, mergedProviderConfig, type ProviderEntry } from '../../hostpatch/provider-config';

describe('credential-provider: request parsing and durations', () => {
  const table: [number, string][] = [[0, '0s'], [999, '0s'], [1000, '1s'], [61_000, '1m1s'], [3_600_000, '1h0m0s'], [42_900_000, '11h55m0s'], [-5, '0s']];
  for (const [ms, text] of table) it(`goDuration(${ms}) = ${text}`, () => assert.equal(goDuration(ms), text));

  it('keeps the v1 service-account fields and drops empty ones', () => {
    const r = parseRequest(JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: 'a/b', serviceAccountToken: '', serviceAccountAnnotations: { k: 'v' } }));
    assert.deepEqual(r, { apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: 'a/b', serviceAccountAnnotations: { k: 'v' } });
  });

  it('names the field that is wrong', () => {
    for (const [doc, re] of [
      [[], /stdin: not a JSON object/],
      [{ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest' }, /^image: missing or empty$/],
      [{ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: 'x', serviceAccountToken: 5 }, /^serviceAccountToken: must be a string$/],
      [{ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: 'x', serviceAccountAnnotations: { a: 1 } }, /^serviceAccountAnnotations: "a" must be a string/],
    ] as [unknown, RegExp][]) {
      assert.throws(() => parseRequest(JSON.stringify(doc)), (err: Error) => err instanceof RequestError && re.test(err.message));
    }
  });
});

describe('credential-provider: the fast path reads the agent from args and env only', () => {
  it('flag over env; default timeout 20s', () => {
    assert.deepEqual(agentFromArgs(['--agent-socket', '/a.sock'], { IMAGEGATE_AGENT_SOCKET: '/b.sock' }), { socket: '/a.sock', timeoutMs: 20_000 });
    assert.deepEqual(agentFromArgs([], { IMAGEGATE_AGENT_SOCKET: '/b.sock', IMAGEGATE_AGENT_TIMEOUT: '2s' }), { socket: '/b.sock', timeoutMs: 2000 });
    assert.deepEqual(agentFromArgs(['--agent-socket', ''], {}), { socket: '', timeoutMs: 20_000 });
  });
  it('defers to the full load when the YAML may name the socket, or something is wrong', () => {
    for (const argv of [['--config', '/x.yaml'], ['--agent-socket', 'rel.sock'], ['--agent-socket', '/a', '--agent-timeout', 'soon'], ['--nope'], ['--help', '--agent-socket', '/a']]) {
      assert.equal(agentFromArgs(argv, {}), undefined, argv.join(' '));
    }
  });
});

describe('credential-provider install: kubelet config merging', () => {
  const entry: ProviderEntry = { name: 'imagegate-credential-provider', matchImages: ['x.example'], defaultCacheDuration: '1m', apiVersion: 'credentialprovider.kubelet.k8s.io/v1' };
  const eks = JSON.stringify({ apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [{ name: 'ecr-credential-provider', matchImages: ['*.dkr.ecr.*.amazonaws.com'], defaultCacheDuration: '12h', apiVersion: 'credentialprovider.kubelet.k8s.io/v1' }] }, null, 4) + '\n';

  it('adds one entry, keeps the others and the JSON indentation', () => {
    const out = mergedProviderConfig(eks, 'json', entry);
    assert.match(out, /^\{\n {4}"apiVersion"/);
    assert.deepEqual(JSON.parse(out).providers.map((p: ProviderEntry) => p.name), ['ecr-credential-provider', 'imagegate-credential-provider']);
  });
  it('replaces an entry of its own name and drops the ones asked for', () => {
    const twice = mergedProviderConfig(mergedProviderConfig(eks, 'json', entry), 'json', { ...entry, matchImages: ['y.example'] }, ['ecr-credential-provider']);
    assert.deepEqual(JSON.parse(twice).providers, [{ ...entry, matchImages: ['y.example'] }]);
  });
  it('writes a new YAML config when the node has none', () => {
    assert.equal(mergedProviderConfig(undefined, 'yaml', entry), 'apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: imagegate-credential-provider\n    matchImages:\n      - x.example\n    defaultCacheDuration: 1m\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n');
  });
  it('refuses a file that is not a CredentialProviderConfig', () => {
    assert.throws(() => mergedProviderConfig('kind: KubeletConfiguration\n', 'yaml', entry), /not a CredentialProviderConfig; refusing, nothing was changed/);
  });
  it('finds kubelet flags in command lines and env files, last one wins', () => {
    const texts = ['/usr/bin/kubelet $ARGS --image-credential-provider-bin-dir /opt/a', 'ARGS="--image-credential-provider-config=/etc/x.json --image-credential-provider-bin-dir=/opt/b"'];
    assert.equal(flagValue(texts, 'image-credential-provider-config'), '/etc/x.json');
    assert.equal(flagValue(texts, 'image-credential-provider-bin-dir'), '/opt/b');
    assert.equal(flagValue(texts, 'image-service-endpoint'), undefined);
  });
});
