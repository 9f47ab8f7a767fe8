import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { criProto } from '../../src/cri/proto';
import { imageFsInfoAnswers } from '../../hostpatch/probe';
import { TestImagegate } from '../support/cri-server';
import { GoCriClient } from '../../testing/go-cri-client';
import { ScriptedBackend } from '../cri/fixtures/scripted-backend';

/** Whether kubelet ≤ 1.30's client (grpc-go dialing the bare path) gets an ImageFsInfo answer. */
async function kubelet130Answers(socket: string): Promise<boolean> {
  const go = await GoCriClient.start(socket, 'path');
  try {
    return await go.call('ImageFsInfo', {}, { timeoutMs: 3000 }).then(() => true, () => false);
  } finally {
    await go.close();
  }
}

describe('hostpatch probe: ImageFsInfo as kubelet sends it', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'imagegate-probe-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('passes for imagegate, and so does kubelet 1.30’s own client', async () => {
    const gate = await TestImagegate.start(new ScriptedBackend(async () => 'unused'));
    try {
      assert.equal(await imageFsInfoAnswers(gate.socket, '/run/imagegate/imagegate.sock'), true);
      assert.equal(await kubelet130Answers(gate.socket), true);
    } finally {
      await gate.stop();
    }
  });

  it('fails for a gRPC server that answers kubelet ≥ 1.31 but not kubelet ≤ 1.30, as kubelet 1.30 itself fails', async () => {
    // A plain grpc-js server on a Unix socket: Node's HTTP/2 layer refuses a path in :authority.
    const socket = join(dir, 'plain.sock');
    const Client = criProto().runtime.v1.ImageService;
    const server = new grpc.Server();
    server.addService(Client.service, { imageFsInfo: (_call: unknown, done: grpc.sendUnaryData<object>) => done(null, {}) });
    await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
    try {
      const localhost = new Client(`unix://${socket}`, grpc.credentials.createInsecure());
      await new Promise<void>((resolve, reject) => localhost.imageFsInfo({}, (err) => (err ? reject(err) : resolve())));
      localhost.close();
      assert.equal(await kubelet130Answers(socket), false, 'kubelet 1.30’s client is refused');
      assert.equal(await imageFsInfoAnswers(socket, '/run/imagegate/imagegate.sock'), false, 'the probe is refused too');
    } finally {
      server.forceShutdown();
    }
  });
});
