import assert from 'node:assert/strict';
import { criProto } from '../../src/cri/proto';
import { encodeAuthConfig, pullRequestBytes } from '../../src/cri/cri/pull-bytes';
import { encodeVarint, readVarint, walkFields, withoutField, WireFormatError } from '../../src/cri/cri/wire';
import { Secret } from '../../src/log/secret';
import { kubeletPullRequest, ld, vi } from '../support/containerd-wire';

describe('cri forward: protobuf wire walker', () => {
  it('round-trips varints up to 2^53', () => {
    for (const n of [0, 1, 127, 128, 300, 16383, 16384, 2 ** 32, 2 ** 53 - 1]) {
      const bytes = encodeVarint(n);
      assert.deepEqual(readVarint(bytes, 0), { value: n, next: bytes.length }, String(n));
    }
  });

  it('walks every wire type and keeps their byte ranges', () => {
    const fixed64 = Buffer.concat([Buffer.from([(7 << 3) | 1]), Buffer.alloc(8, 0xab)]);
    const fixed32 = Buffer.concat([Buffer.from([(8 << 3) | 5]), Buffer.alloc(4, 0xcd)]);
    const msg = Buffer.concat([ld(1, 'a'), vi(2, 300), fixed64, fixed32, ld(2000, 'big field number')]);
    const fields = walkFields(msg);
    assert.deepEqual(fields.map((f) => [f.number, f.wireType]), [[1, 2], [2, 0], [7, 1], [8, 5], [2000, 2]]);
    assert.equal(Buffer.concat(fields.map((f) => msg.subarray(f.start, f.end))).compare(msg), 0);
  });

  const malformed: Array<[string, Buffer]> = [
    ['a truncated varint', Buffer.from([0x08, 0x80])],
    ['a length past the end', Buffer.from([0x0a, 0x05, 0x61])],
    ['a group wire type', Buffer.from([0x0b])],
    ['field number 0', Buffer.from([0x00, 0x01])],
    ['a truncated fixed64', Buffer.from([0x09, 1, 2, 3])],
  ];
  for (const [what, bytes] of malformed) {
    it(`rejects ${what} with WireFormatError`, () => {
      assert.throws(() => walkFields(bytes), WireFormatError);
    });
  }

  it('removes every occurrence of a field and nothing else', () => {
    const msg = Buffer.concat([ld(1, 'x'), ld(2, 'first'), vi(3, 1), ld(2, 'second'), ld(4, 'y')]);
    assert.deepEqual(withoutField(msg, 2), Buffer.concat([ld(1, 'x'), vi(3, 1), ld(4, 'y')]));
    assert.deepEqual(withoutField(msg, 9), msg);
  });
});

describe('cri forward: PullImage bytes', () => {
  const minted = { username: 'minted', password: new Secret('m1nted-pass'), serverAddress: '127.0.0.1:5001' };
  const pullImage = criProto().runtime.v1.ImageService.service.PullImage;

  it('keeps every byte kubelet sent except auth, and appends the chosen credentials', () => {
    const kubelet = kubeletPullRequest('127.0.0.1:5001/test/auth:1', { username: 'kubelet', password: 'from-secret' });
    const out = pullRequestBytes(kubelet.bytes, minted);
    const tail = ld(2, Buffer.concat([ld(1, 'minted'), ld(2, 'm1nted-pass')]));
    assert.deepEqual(out, Buffer.concat([kubelet.withoutAuth, tail]));
  });

  it('drops auth entirely for an anonymous pull', () => {
    const kubelet = kubeletPullRequest('127.0.0.1:5000/test/busybox:1', { username: 'kubelet', password: 'x' });
    assert.deepEqual(pullRequestBytes(kubelet.bytes, undefined), kubelet.withoutAuth);
    assert.deepEqual(pullRequestBytes(kubelet.bytes, { serverAddress: 'only-a-host' }), kubelet.withoutAuth);
  });

  it('encodes AuthConfig so that the proto decodes the same credentials', () => {
    const auth = { username: 'u', password: new Secret('p'), serverAddress: 'https://r:1', identityToken: new Secret('i'), registryToken: new Secret('t') };
    const bytes = pullRequestBytes(ld(1, ld(1, 'img')), auth);
    const decoded = pullImage.requestDeserialize(bytes);
    assert.deepEqual(decoded.auth, { username: 'u', password: 'p', auth: '', serverAddress: 'https://r:1', identityToken: 'i', registryToken: 't' });
    assert.equal(encodeAuthConfig({}).length, 0);
  });

  it('sends server_address only as a URL, which is how containerd reads it', () => {
    for (const serverAddress of ['127.0.0.1:5001', 'registry.example', '123456789012.dkr.ecr.us-east-1.amazonaws.com']) {
      const decoded = pullImage.requestDeserialize(pullRequestBytes(ld(1, ld(1, 'img')), { ...minted, serverAddress }));
      assert.equal(decoded.auth?.serverAddress, '', serverAddress);
      assert.equal(decoded.auth?.username, 'minted');
    }
  });

  it('rejects malformed request bytes', () => {
    assert.throws(() => pullRequestBytes(Buffer.from([0x0a, 0x09, 0x01]), minted), WireFormatError);
  });
});
