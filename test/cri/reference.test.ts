import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { CriError } from '../../src/cri/errors';
import { matchesFilter, normaliseReference, parseReference } from '../../src/cri/reference';

const HEX = 'a'.repeat(64);

describe('image references', () => {
  const normalised: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    ['team/app:v2', 'docker.io/team/app:v2'],
    ['127.0.0.1:5000/test/busybox', '127.0.0.1:5000/test/busybox:latest'],
    ['localhost/app:1', 'localhost/app:1'],
    ['localhost:5000/a/b/c:x.y-z_1', 'localhost:5000/a/b/c:x.y-z_1'],
    ['registry.k8s.io/pause:3.10', 'registry.k8s.io/pause:3.10'],
    [`busybox@sha256:${HEX}`, `docker.io/library/busybox@sha256:${HEX}`],
    [`busybox:1@sha256:${HEX}`, `docker.io/library/busybox:1@sha256:${HEX}`],
    [`sha256:${HEX}`, `sha256:${HEX}`],
    [HEX, `sha256:${HEX}`],
    ['[::1]:5000/app:1', '[::1]:5000/app:1'],
    ['a__b/c--d:1', 'docker.io/a__b/c--d:1'],
  ];
  it('never echoes CR, LF or other control characters from a bad reference', () => {
    for (const text of ['bad\r\nInjected: header', 'Busy\nbox', `x:${'\n'.repeat(200)}`, 'a\u0000b']) {
      assert.throws(() => parseReference(text), (err: CriError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.ok(!/[\u0000-\u001f\u007f]/.test(err.message), JSON.stringify(err.message));
        return true;
      });
    }
  });

  for (const [text, expected] of normalised) {
    it(`normalises ${text} to ${expected}`, () => assert.equal(normaliseReference(text), expected));
  }

  const invalid: [string, RegExp][] = [
    ['', /empty/],
    ['BusyBox', /lowercase/],
    ['docker.io/Library/busybox', /lowercase/],
    [`busybox@sha256:abc`, /digest/],
    [`busybox@sha256:${'A'.repeat(64)}`, /64 lowercase hex/],
    [`sha256:${'a'.repeat(63)}`, /64 lowercase hex/],
    ['x'.repeat(10_000), /longer than/],
    [`127.0.0.1:5000/${'a'.repeat(300)}`, /longer than 255/],
    ['busybox:', /tag/],
    [':tag', /repository|registry|invalid/],
    ['a b', /invalid/],
    ['busybox:-bad', /tag/],
    ['-bad/app', /invalid/],
    ['app/', /invalid/],
    ['host:port:x/app', /registry host/],
  ];
  for (const [text, problem] of invalid) {
    it(`rejects ${JSON.stringify(text.length > 40 ? `${text.slice(0, 20)}…` : text)} with INVALID_ARGUMENT`, () => {
      assert.throws(
        () => parseReference(text),
        (err: unknown) => err instanceof CriError && err.code === status.INVALID_ARGUMENT && problem.test(err.message) && err.message.length < 300,
      );
    });
  }

  it('marks an implied :latest', () => {
    assert.equal((parseReference('busybox') as { implicitTag?: boolean }).implicitTag, true);
    assert.equal((parseReference('busybox:latest') as { implicitTag?: boolean }).implicitTag, undefined);
  });

  describe('ListImages filter', () => {
    const image = {
      id: `sha256:${HEX}`,
      repoTags: ['127.0.0.1:5000/test/a:1', '127.0.0.1:5000/test/a:2'],
      repoDigests: [`127.0.0.1:5000/test/a@sha256:${'b'.repeat(64)}`],
    };
    const cases: [string, boolean][] = [
      ['127.0.0.1:5000/test/a:1', true],
      ['127.0.0.1:5000/test/a:3', false],
      ['127.0.0.1:5000/test/a', true],
      ['127.0.0.1:5000/test/ab', false],
      [`127.0.0.1:5000/test/a@sha256:${'b'.repeat(64)}`, true],
      [`127.0.0.1:5000/test/a:1@sha256:${'b'.repeat(64)}`, true],
      [`sha256:${HEX}`, true],
      [`sha256:${'c'.repeat(64)}`, false],
    ];
    for (const [filter, expected] of cases) {
      it(`${expected ? 'matches' : 'does not match'} ${filter}`, () => assert.equal(matchesFilter(image, parseReference(filter)), expected));
    }
  });
});
