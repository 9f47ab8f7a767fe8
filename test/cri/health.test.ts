import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { TestImagegate } from '../support/cri-server';
import { ScriptedBackend } from './fixtures/scripted-backend';

describe('grpc.health.v1 on the image service socket', () => {
  it('Check answers SERVING for the server and the ImageService, NOT_FOUND for unknown services', async () => {
    const gate = await TestImagegate.start(new ScriptedBackend(async () => 'unused'));
    try {
      const check = (service: string) =>
        new Promise<{ status: string }>((resolve, reject) => gate.health.Check({ service }, (err, res) => (err ? reject(err) : resolve(res as { status: string }))));
      assert.equal((await check('')).status, 'SERVING');
      assert.equal((await check('runtime.v1.ImageService')).status, 'SERVING');
      await assert.rejects(check('nope'), (err: { code: number }) => err.code === status.NOT_FOUND);
    } finally {
      await gate.stop();
    }
  });

  it('Watch streams SERVING, then NOT_SERVING and the end of the stream at shutdown (which it does not hold up)', async () => {
    const gate = await TestImagegate.start(new ScriptedBackend(async () => 'unused'), { gracePeriodMs: 30_000 });
    const seen: string[] = [];
    const ended = new Promise<void>((resolve) => {
      const stream = gate.health.Watch({ service: 'runtime.v1.ImageService' });
      stream.on('data', (message: { status: string }) => seen.push(message.status));
      stream.on('error', () => resolve());
      stream.on('end', () => resolve());
    });
    while (seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    const started = Date.now();
    await gate.stop();
    await ended;
    assert.ok(Date.now() - started < 10_000, 'shutdown was not held up by the Watch stream');
    assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);
  });
});
