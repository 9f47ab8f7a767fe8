/**
 * A hand-encoded PullImageRequest the way a current kubelet sends it, with the
 * parts of PodSandboxConfig that imagegate's proto subset does not model
 * (dns_config, port_mappings, linux) and an unknown top-level field. Encoded
 * here without protobufjs, independently of src/cri/cri/wire.ts, so the
 * forwarding test compares against bytes no imagegate code produced.
 */

function varint(value: number): Buffer {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

/** A length-delimited field (string or embedded message). */
export function ld(field: number, payload: Buffer | string): Buffer {
  const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
  return Buffer.concat([varint(field * 8 + 2), varint(bytes.length), bytes]);
}

/** A varint field. */
export function vi(field: number, value: number): Buffer {
  return Buffer.concat([varint(field * 8), varint(value)]);
}

/** A map<string,string> entry. */
function entry(field: number, key: string, value: string): Buffer {
  return ld(field, Buffer.concat([ld(1, key), ld(2, value)]));
}

export interface KubeletPull {
  /** The whole request as kubelet would put it on the wire. */
  bytes: Buffer;
  /** The same request without field 2 (`auth`), every other byte in order. */
  withoutAuth: Buffer;
}

/** PullImageRequest{image, auth (kubelet's), sandbox_config (full), unknown field 15}. */
export function kubeletPullRequest(image: string, kubeletAuth?: { username: string; password: string }): KubeletPull {
  const imageSpec = ld(1, Buffer.concat([ld(1, image), entry(2, 'io.kubernetes.pod.name', 'web-0'), ld(18, image)]));
  const auth = kubeletAuth ? ld(2, Buffer.concat([ld(1, kubeletAuth.username), ld(2, kubeletAuth.password)])) : Buffer.alloc(0);
  const metadata = ld(1, Buffer.concat([ld(1, 'web-0'), ld(2, 'b3c9f0e2-uid'), ld(3, 'team-a'), vi(4, 2)]));
  const dnsConfig = ld(4, Buffer.concat([ld(1, '10.96.0.10'), ld(2, 'team-a.svc.cluster.local'), ld(2, 'svc.cluster.local'), ld(3, 'ndots:5')]));
  const portMapping = ld(5, Buffer.concat([vi(1, 0), vi(2, 8080), vi(3, 30080), ld(4, '0.0.0.0')]));
  const securityContext = ld(2, Buffer.concat([ld(1, Buffer.concat([vi(1, 1)])), vi(3, 1), vi(5, 1)]));
  const linux = ld(8, Buffer.concat([ld(1, '/kubepods/burstable/podb3c9f0e2'), securityContext, entry(3, 'net.ipv4.ip_unprivileged_port_start', '0')]));
  const sandbox = ld(
    3,
    Buffer.concat([
      metadata,
      ld(2, 'web-0'),
      ld(3, '/var/log/pods/team-a_web-0_b3c9f0e2'),
      dnsConfig,
      portMapping,
      entry(6, 'app', 'web'),
      entry(7, 'kubernetes.io/config.seen', '2026-11-22T05:00:00Z'),
      linux,
    ]),
  );
  const unknown = Buffer.concat([vi(15, 150), ld(16, 'from a newer kubelet')]);
  return {
    bytes: Buffer.concat([imageSpec, auth, sandbox, unknown]),
    withoutAuth: Buffer.concat([imageSpec, sandbox, unknown]),
  };
}
