import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { fromAuthConfig } from '../../src/cri/auth-config';
import { dockerAuth } from '../../src/cri/docker/pull';
import { CriError } from '../../src/cri/errors';
import { ImageService } from '../../src/cri/image-service';
import type { PullCredentials } from '../../src/credentials/pull-credentials';
import { Secret } from '../../src/log/secret';
import { createLogger } from '../../src/log/logger';
import { ScriptedBackend } from './fixtures/scripted-backend';

const ID = `sha256:${'c'.repeat(64)}`;
const request = (image: string, auth?: object) => ({ image: { image }, auth: auth ?? null, sandboxConfig: null }) as never;
const ctx = (signal = new AbortController().signal) => ({ signal });

function plan(...sources: string[]): PullCredentials {
  return {
    plan: async () => ({
      rule: 'team-a',
      candidates: sources.map((source) => ({ source, auth: { username: source, password: new Secret(`${source}-s3cret`) } })),
    }),
    close: async () => undefined,
  };
}

describe('ImageService (the class, apart from gRPC)', () => {
  it('tries the next credentials only when the registry rejects them, and logs rule and source without the secret', async () => {
    const logs: string[] = [];
    const backend = new ScriptedBackend(async (pull) => {
      if (pull.auth?.username === 'ecr') throw CriError.credentialsRejected('r.example', 'unauthorized');
      return ID;
    });
    const service = new ImageService({ backend, credentials: plan('ecr', 'kubelet'), logger: createLogger({ sink: logs }) });
    assert.equal(await service.pullImage(request('r.example/app:1'), undefined, ctx()), ID);
    assert.deepEqual(backend.pulls.map((p) => p.auth?.username), ['ecr', 'kubelet']);
    const line = JSON.parse(logs.find((l) => l.includes('image pulled'))!);
    assert.equal(line.rule, 'team-a');
    assert.equal(line.source, 'kubelet');
    assert.ok(!logs.join('\n').includes('s3cret'));
  });

  it('stops at the first error that is not a credentials rejection', async () => {
    const backend = new ScriptedBackend(async () => {
      throw CriError.registryUnavailable('r.example', 'dial tcp: connection refused');
    });
    const service = new ImageService({ backend, credentials: plan('ecr', 'kubelet') });
    await assert.rejects(service.pullImage(request('r.example/app:1'), undefined, ctx()), (err: CriError) => err.message.startsWith('RegistryUnavailable'));
    assert.equal(backend.pulls.length, 1);
  });

  it('says which credentials were tried when all are rejected', async () => {
    const backend = new ScriptedBackend(async () => {
      throw CriError.credentialsRejected('r.example', 'unauthorized');
    });
    const service = new ImageService({ backend, credentials: plan('ecr', 'kubelet') });
    await assert.rejects(service.pullImage(request('r.example/app:1'), undefined, ctx()), (err: CriError) =>
      /credentials rejected by registry r\.example.*tried credentials from ecr, kubelet/.test(err.message),
    );
  });

  it('shares concurrent pulls of one reference, but not across different kubelet credentials', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const backend = new ScriptedBackend(async () => (await gate, ID));
    const service = new ImageService({ backend });
    const pulls = [
      service.pullImage(request('busybox'), undefined, ctx()),
      service.pullImage(request('docker.io/library/busybox:latest'), undefined, ctx()),
      service.pullImage(request('busybox', { username: 'u', password: 'p' }), undefined, ctx()),
    ];
    await new Promise((resolve) => setImmediate(resolve));
    release();
    assert.deepEqual(await Promise.all(pulls), [ID, ID, ID]);
    assert.equal(backend.pulls.length, 2);
  });

  it('does not share a pull between pods of different namespaces (credential rules may differ)', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const backend = new ScriptedBackend(async () => (await gate, ID));
    const service = new ImageService({ backend });
    const inNamespace = (namespace: string) =>
      ({ image: { image: 'busybox' }, auth: null, sandboxConfig: { metadata: { name: 'p', namespace, uid: '', attempt: 0 }, labels: { app: 'x' } } }) as never;
    const pulls = [inNamespace('a'), inNamespace('a'), inNamespace('b')].map((r) => service.pullImage(r, undefined, ctx()));
    await new Promise((resolve) => setImmediate(resolve));
    release();
    await Promise.all(pulls);
    assert.equal(backend.pulls.length, 2);
  });

  it('aborts the shared pull only when every caller has given up', async () => {
    let backendSignal!: AbortSignal;
    const backend = new ScriptedBackend(
      (_pull, signal) =>
        new Promise((_resolve, reject) => {
          backendSignal = signal;
          signal.addEventListener('abort', () => reject(signal.reason));
        }),
    );
    const service = new ImageService({ backend });
    const a = new AbortController();
    const b = new AbortController();
    const first = service.pullImage(request('busybox'), undefined, ctx(a.signal));
    const second = service.pullImage(request('busybox'), undefined, ctx(b.signal));
    await new Promise((resolve) => setImmediate(resolve));
    a.abort(CriError.cancelled());
    await assert.rejects(first, (err: CriError) => err.code === status.CANCELLED);
    assert.equal(backendSignal.aborted, false);
    b.abort(CriError.deadlineExceeded());
    await assert.rejects(second, (err: CriError) => err.code === status.DEADLINE_EXCEEDED);
    assert.equal(backendSignal.aborted, true);
  });

  it('refuses to pull by image ID', async () => {
    const service = new ImageService({ backend: new ScriptedBackend(async () => ID) });
    await assert.rejects(service.pullImage(request(ID), undefined, ctx()), (err: CriError) => err.code === status.INVALID_ARGUMENT);
  });
});

describe('kubelet AuthConfig → registry auth', () => {
  it('keeps username and password, wrapped as secrets', () => {
    const auth = fromAuthConfig({ username: 'u', password: 'p', auth: '', serverAddress: 'r.example', identityToken: '', registryToken: '' });
    assert.equal(auth?.username, 'u');
    assert.ok(auth?.password instanceof Secret);
    assert.equal(auth?.password?.reveal(), 'p');
    assert.equal(String(auth?.password), '***');
    assert.deepEqual(dockerAuth(auth), { username: 'u', password: 'p', serveraddress: 'r.example' });
  });

  it('decodes the base64 auth form', () => {
    const auth = fromAuthConfig({ username: '', password: '', auth: Buffer.from('kubelet:pa:ss').toString('base64'), serverAddress: '', identityToken: '', registryToken: '' });
    assert.equal(auth?.username, 'kubelet');
    assert.equal(auth?.password?.reveal(), 'pa:ss');
  });

  it('passes identity and registry tokens on', () => {
    const auth = fromAuthConfig({ username: '', password: '', auth: '', serverAddress: 'r', identityToken: 'id-tok', registryToken: 'reg-tok' });
    assert.deepEqual(dockerAuth(auth), { serveraddress: 'r', identitytoken: 'id-tok', registrytoken: 'reg-tok' });
  });

  it('treats an empty AuthConfig as anonymous and rejects a malformed auth form', () => {
    assert.equal(fromAuthConfig({ username: '', password: '', auth: '', serverAddress: '', identityToken: '', registryToken: '' }), undefined);
    assert.equal(fromAuthConfig(null), undefined);
    assert.throws(() => fromAuthConfig({ username: '', password: '', auth: Buffer.from('nocolon').toString('base64'), serverAddress: '', identityToken: '', registryToken: '' }), /base64/);
  });
});
