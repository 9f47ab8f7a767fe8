import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { TestImagegate } from '../support/cri-server';
import { rejectsWith } from './conformance';
import { ScriptedBackend } from './fixtures/scripted-backend';

/** The one gRPC adapter: errors mapped once, every call answered, metrics per RPC. */
describe('gRPC adapter', () => {
  let gate: TestImagegate;
  const backend = new ScriptedBackend(async () => {
    throw new Error('secret-free but internal detail');
  });

  before(async () => {
    backend.imageFsInfo = () => {
      throw new TypeError('thrown synchronously');
    };
    gate = await TestImagegate.start(backend);
  });
  after(async () => {
    await gate?.stop();
  });

  it('answers an unexpected error with UNKNOWN and a generic message, and logs the detail', async () => {
    const details = await rejectsWith(gate.call('PullImage', { image: { image: 'busybox' } }), status.UNKNOWN);
    assert.equal(details, 'internal error in the image service (see its log)');
    assert.ok(gate.logs.some((line) => line.includes('secret-free but internal detail') && line.includes('"rpc":"PullImage"')));
  });

  it('answers a handler that throws synchronously', async () => {
    await rejectsWith(gate.call('ImageFsInfo', {}), status.UNKNOWN);
  });

  it('answers methods the service does not have with UNIMPLEMENTED', async () => {
    const client = gate.client as unknown as { makeUnaryRequest: Function };
    const err = await new Promise<{ code: number }>((resolve) =>
      client.makeUnaryRequest('/runtime.v1.ImageService/NoSuchRpc', (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e: { code: number }) => resolve(e)),
    );
    assert.equal(err.code, status.UNIMPLEMENTED);
  });

  it('counts calls and errors per RPC and status, and times them', async () => {
    await gate.call('ImageStatus', { image: { image: 'busybox' } });
    await rejectsWith(gate.call('ImageStatus', { image: { image: 'Bad' } }), status.INVALID_ARGUMENT);
    const text = await gate.registry.metrics();
    assert.match(text, /imagegate_cri_calls_total\{rpc="ImageStatus",code="OK"\} 1/);
    assert.match(text, /imagegate_cri_calls_total\{rpc="ImageStatus",code="INVALID_ARGUMENT"\} 1/);
    assert.match(text, /imagegate_cri_errors_total\{rpc="ImageStatus",code="INVALID_ARGUMENT"\} 1/);
    assert.match(text, /imagegate_cri_errors_total\{rpc="PullImage",code="UNKNOWN"\} 1/);
    assert.match(text, /imagegate_cri_call_duration_seconds_count\{rpc="ImageStatus"\} 2/);
  });
});
