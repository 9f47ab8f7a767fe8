import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { CriError } from '../../src/cri/errors';
import { CriForwardBackend } from '../../src/cri/cri/backend';
import { parseCriEndpoint } from '../../src/cri/cri/endpoint';
import { classifyPullError, registryOf } from '../../src/cri/cri/pull-errors';
import { loadImageServiceConfig } from '../../src/cri/config';
import { ConfigError } from '../../src/config/errors';
import { Secret } from '../../src/log/secret';

describe('cri forward: endpoints', () => {
  const good: Array<[string, string]> = [
    ['unix:///run/containerd/containerd.sock', 'unix:///run/containerd/containerd.sock'],
    ['/var/run/crio/crio.sock', 'unix:///var/run/crio/crio.sock'],
    ['tcp://127.0.0.1:1234', '127.0.0.1:1234'],
    ['tcp://[::1]:1234', '[::1]:1234'],
  ];
  for (const [text, target] of good) {
    it(`${text} → ${target}`, () => assert.equal(parseCriEndpoint(text).target, target));
  }
  for (const bad of ['unix://relative.sock', 'http://127.0.0.1:1234', 'tcp://host', 'containerd.sock', '']) {
    it(`rejects ${JSON.stringify(bad)}`, () => assert.throws(() => parseCriEndpoint(bad), /must be/));
  }

  it('is validated at start-up, naming the setting', () => {
    const { config } = loadImageServiceConfig(['--backend', 'cri'], {});
    assert.equal(config.criEndpoint, 'unix:///run/containerd/containerd.sock');
    assert.throws(
      () => loadImageServiceConfig(['--backend', 'cri', '--cri-endpoint', 'http://x'], {}),
      (err: unknown) => err instanceof ConfigError && /cri-endpoint/.test(err.message),
    );
  });
});

describe('cri forward: pull errors from the runtime', () => {
  const image = '127.0.0.1:5001/test/auth:1';
  const cases: Array<[string, string, status, string | undefined]> = [
    ['401 from containerd', 'pulling from host 127.0.0.1:5001 failed with status code [manifests 1]: 401 Unauthorized', status.UNAUTHENTICATED, 'credentials-rejected'],
    ['403 from containerd', 'unexpected status from HEAD request: 403 Forbidden', status.UNAUTHENTICATED, 'credentials-rejected'],
    ['connection refused', 'dial tcp 127.0.0.1:5001: connect: connection refused', status.UNKNOWN, 'registry-unavailable'],
    ['503', 'unexpected status from GET request: 503 Service Unavailable', status.UNKNOWN, 'registry-unavailable'],
    ['not found', 'failed to resolve reference "x": x: not found', status.NOT_FOUND, 'not-found'],
    ['a 404 from the token endpoint is not a missing image', 'failed to authorize: failed to fetch oauth token: unexpected status: 404 Not Found', status.UNKNOWN, undefined],
    ['anything else', 'failed to unpack: no space left on device', status.UNKNOWN, undefined],
  ];
  for (const [what, message, code, reason] of cases) {
    it(`${what} → ${status[code]}${reason ? ` (${reason})` : ''}, keeping the runtime's text`, () => {
      const out = classifyPullError(new CriError(status.UNKNOWN, message), image);
      assert.equal(out.code, code);
      assert.equal(out.reason, reason);
      assert.ok(out.message.includes(message));
    });
  }

  it('says why a registry_token alone was rejected', () => {
    const rejected = new CriError(status.UNKNOWN, 'failed to fetch anonymous token: unexpected status: 401 Unauthorized');
    const out = classifyPullError(rejected, image, { registryToken: new Secret('jwt') });
    assert.equal(out.reason, 'credentials-rejected');
    assert.match(out.message, /registry_token, which containerd ignores/);
    assert.doesNotMatch(classifyPullError(rejected, image, { username: 'u', password: new Secret('p') }).message, /registry_token/);
  });

  it('leaves UNAVAILABLE (the runtime itself is down) alone', () => {
    const down = CriError.unavailable('CRI image service at unix:///x is unavailable: 401 Unauthorized');
    assert.equal(classifyPullError(down, image), down);
  });

  it('finds the registry host of a reference', () => {
    assert.equal(registryOf('127.0.0.1:5000/a/b:1'), '127.0.0.1:5000');
    assert.equal(registryOf('localhost/a'), 'localhost');
    assert.equal(registryOf('team/app:1'), 'docker.io');
    assert.equal(registryOf('busybox'), 'docker.io');
  });
});

describe('cri forward: calls that never reach the runtime', () => {
  const ctx = (signal = new AbortController().signal) => ({ signal });

  it('fails with UNAVAILABLE naming the endpoint when nothing listens there', async () => {
    const backend = new CriForwardBackend({ endpoint: 'unix:///nonexistent/imagegate-test/cri.sock' });
    try {
      await assert.rejects(backend.imageFsInfo(ctx()), (err: unknown) => {
        assert.ok(err instanceof CriError);
        assert.equal(err.code, status.UNAVAILABLE);
        assert.match(err.message, /^CRI image service at unix:\/\/\/nonexistent\/imagegate-test\/cri\.sock is unavailable/);
        return true;
      });
    } finally {
      await backend.close();
    }
  });

  it('does not call out for an already cancelled call, and refuses calls after close', async () => {
    const backend = new CriForwardBackend({ endpoint: 'unix:///nonexistent/imagegate-test/cri.sock' });
    const controller = new AbortController();
    controller.abort(CriError.deadlineExceeded());
    await assert.rejects(backend.listImages(undefined, ctx(controller.signal)), (err: unknown) => err instanceof CriError && err.code === status.DEADLINE_EXCEEDED);
    await backend.close();
    await assert.rejects(backend.listImages(undefined, ctx()), (err: unknown) => err instanceof CriError && err.code === status.UNAVAILABLE);
  });
});
