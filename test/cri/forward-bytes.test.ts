import assert from 'node:assert/strict';
import type { PullCredentials } from '../../src/credentials/pull-credentials';
import { Secret } from '../../src/log/secret';
import { ForwardingImagegate } from '../support/containerd';
import { RECORDED_IMAGE_ID, RecordingCriServer } from '../support/containerd-recorder';
import { kubeletPullRequest, ld } from '../support/containerd-wire';

const minting: PullCredentials = {
  plan: async () => ({ rule: 'test', candidates: [{ auth: { username: 'minted', password: new Secret('m1nted') }, source: 'static' }] }),
  close: async () => undefined,
};

describe('cri backend: what reaches the runtime, byte for byte', () => {
  let recorder: RecordingCriServer;

  beforeEach(async () => {
    recorder = await RecordingCriServer.start();
  });
  afterEach(async () => {
    await recorder?.close();
  });

  it('forwards everything kubelet sent (full PodSandboxConfig, unknown fields) and replaces only auth', async () => {
    const gate = await ForwardingImagegate.start(recorder.endpoint, { credentials: minting });
    try {
      const kubelet = kubeletPullRequest('127.0.0.1:5001/test/auth:1', { username: 'kubelet', password: 'from-pull-secret' });
      const { imageRef } = await gate.client.pullRaw(kubelet.bytes);
      assert.equal(imageRef, RECORDED_IMAGE_ID);
      assert.equal(recorder.pulls.length, 1);
      const expected = Buffer.concat([kubelet.withoutAuth, ld(2, Buffer.concat([ld(1, 'minted'), ld(2, 'm1nted')]))]);
      assert.equal(recorder.pulls[0].toString('hex'), expected.toString('hex'));
    } finally {
      await gate.stop();
    }
  });

  it('keeps kubelet’s credentials when no rule mints any', async () => {
    const gate = await ForwardingImagegate.start(recorder.endpoint);
    try {
      const kubelet = kubeletPullRequest('127.0.0.1:5001/test/auth:1', { username: 'kubelet', password: 'from-pull-secret' });
      await gate.client.pullRaw(kubelet.bytes);
      const expected = Buffer.concat([kubelet.withoutAuth, ld(2, Buffer.concat([ld(1, 'kubelet'), ld(2, 'from-pull-secret')]))]);
      assert.equal(recorder.pulls[0].toString('hex'), expected.toString('hex'));
    } finally {
      await gate.stop();
    }
  });

  it('sends no auth at all for an anonymous pull', async () => {
    const gate = await ForwardingImagegate.start(recorder.endpoint);
    try {
      const kubelet = kubeletPullRequest('127.0.0.1:5000/test/busybox:1');
      await gate.client.pullRaw(kubelet.bytes);
      assert.equal(recorder.pulls[0].toString('hex'), kubelet.bytes.toString('hex'));
    } finally {
      await gate.stop();
    }
  });

  it('answers image_ref = Image.id even when the runtime answers a digest reference', async () => {
    recorder.pullAnswer = `127.0.0.1:5000/test/busybox@sha256:${'cd'.repeat(32)}`;
    const gate = await ForwardingImagegate.start(recorder.endpoint);
    try {
      const { imageRef } = await gate.client.pullRaw(kubeletPullRequest('127.0.0.1:5000/test/busybox:1').bytes);
      assert.equal(imageRef, RECORDED_IMAGE_ID);
    } finally {
      await gate.stop();
    }
  });
});
