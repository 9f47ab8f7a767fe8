import assert from 'node:assert/strict';
import { DOMAIN, isDigest, isPathComponent, isRemoteName, isTag, NAME_MAX, splitDomain, splitReference } from '../../src/lib/image-reference';

const HEX64 = 'a'.repeat(64);

describe('lib: image reference grammar', () => {
  const table: [string, (text: string) => boolean, string, boolean][] = [
    ['path component', isPathComponent, 'library', true],
    ['path component', isPathComponent, 'a.b_c__d---e', true],
    ['path component', isPathComponent, 'Upper', false],
    ['path component', isPathComponent, '-lead', false],
    ['path component', isPathComponent, 'trail_', false],
    ['path component', isPathComponent, 'a___b', false],
    ['path component', isPathComponent, '..', false],
    ['path component', isPathComponent, '', false],
    ['remote name', isRemoteName, 'library/busybox', true],
    ['remote name', isRemoteName, 'a/b/c/d', true],
    ['remote name', isRemoteName, 'a//b', false],
    ['remote name', isRemoteName, '/a', false],
    ['remote name', isRemoteName, 'a/', false],
    ['remote name', isRemoteName, 'a/../b', false],
    ['remote name', isRemoteName, 'a%2fb', false],
    ['remote name', isRemoteName, 'a'.repeat(NAME_MAX), true],
    ['remote name', isRemoteName, 'a'.repeat(NAME_MAX + 1), false],
    ['tag', isTag, 'latest', true],
    ['tag', isTag, 'v1.2.3-rc_1', true],
    ['tag', isTag, '_x', true],
    ['tag', isTag, '.x', false],
    ['tag', isTag, '-x', false],
    ['tag', isTag, 'a'.repeat(128), true],
    ['tag', isTag, 'a'.repeat(129), false],
    ['tag', isTag, 'a:b', false],
    ['digest', isDigest, `sha256:${HEX64}`, true],
    ['digest', isDigest, `sha256:${'A'.repeat(64)}`, true],
    ['digest', isDigest, `sha512:${'b'.repeat(128)}`, true],
    ['digest', isDigest, `multihash+base58:${'c'.repeat(32)}`, true],
    ['digest', isDigest, `sha256:${'a'.repeat(31)}`, false],
    ['digest', isDigest, `1sha:${HEX64}`, false],
    ['digest', isDigest, `sha256:${'g'.repeat(64)}`, false],
    ['digest', isDigest, 'sha256', false],
    ['verifiable digest', (t) => isDigest(t, true), `sha256:${HEX64}`, true],
    ['verifiable digest', (t) => isDigest(t, true), `sha512:${'b'.repeat(128)}`, true],
    ['verifiable digest', (t) => isDigest(t, true), `sha256:${'A'.repeat(64)}`, false],
    ['verifiable digest', (t) => isDigest(t, true), `sha256:${'a'.repeat(63)}`, false],
    ['verifiable digest', (t) => isDigest(t, true), `md5:${'a'.repeat(32)}`, false],
    ['domain', (t) => DOMAIN.test(t), 'docker.io', true],
    ['domain', (t) => DOMAIN.test(t), '127.0.0.1:5000', true],
    ['domain', (t) => DOMAIN.test(t), 'localhost', true],
    ['domain', (t) => DOMAIN.test(t), '[::1]:5000', true],
    ['domain', (t) => DOMAIN.test(t), 'My-Registry.example', true],
    ['domain', (t) => DOMAIN.test(t), '-bad.example', false],
    ['domain', (t) => DOMAIN.test(t), 'host:port', false],
  ];
  for (const [rule, test, text, ok] of table) {
    it(`${rule}: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 20)}…(${text.length})` : text)} is ${ok ? 'valid' : 'invalid'}`, () => assert.equal(test(text), ok));
  }

  const splits: [string, ReturnType<typeof splitReference>][] = [
    ['busybox', { name: 'busybox', tag: undefined, digest: undefined }],
    ['busybox:1', { name: 'busybox', tag: '1', digest: undefined }],
    ['localhost:5000/a', { name: 'localhost:5000/a', tag: undefined, digest: undefined }],
    ['localhost:5000/a:b', { name: 'localhost:5000/a', tag: 'b', digest: undefined }],
    [`a:b@sha256:${HEX64}`, { name: 'a', tag: 'b', digest: `sha256:${HEX64}` }],
  ];
  for (const [text, parts] of splits) {
    it(`splits ${text}`, () => assert.deepEqual(splitReference(text), parts));
  }

  const domains: [string, string | undefined, string][] = [
    ['busybox', undefined, 'busybox'],
    ['library/busybox', undefined, 'library/busybox'],
    ['localhost/app', 'localhost', 'app'],
    ['registry.k8s.io/pause', 'registry.k8s.io', 'pause'],
    ['host:5000/a/b', 'host:5000', 'a/b'],
    ['Registry/app', 'Registry', 'app'],
  ];
  for (const [name, domain, remote] of domains) {
    it(`finds the domain of ${name} as Docker does`, () => assert.deepEqual(splitDomain(name), domain === undefined ? { remote } : { domain, remote }));
  }
});
