import { createHash, randomBytes } from 'node:crypto';

/**
 * Pushes (once) a one-layer image whose layer is an uncompressed tar holding
 * `bytes` of random data, to a docker-registry without authentication, over
 * the registry API (monolithic uploads), as an OCI image Docker can pull and
 * unpack. Returns the layer's digest. Idempotent: a manifest already there is
 * kept.
 */
export async function pushBigImage(registry: string, repository: string, tag: string, bytes: number): Promise<{ layerDigest: string; manifestDigest: string }> {
  const base = `http://${registry}/v2/${repository}`;
  const existing = await fetch(`${base}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  if (existing.ok) {
    const body = Buffer.from(await existing.arrayBuffer());
    const manifest = JSON.parse(String(body)) as { layers: { digest: string }[] };
    return { layerDigest: manifest.layers[0].digest, manifestDigest: digest(body) };
  }
  const layer = tarOf('big.bin', randomBytes(bytes));
  const layerDigest = digest(layer);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [layerDigest] } }));
  await upload(base, layer);
  await upload(base, config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digest(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
    }),
  );
  const put = await fetch(`${base}/manifests/${tag}`, { method: 'PUT', headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  if (put.status !== 201) throw new Error(`manifest PUT answered ${put.status}: ${await put.text()}`);
  return { layerDigest, manifestDigest: digest(manifest) };
}

export function digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function upload(base: string, blob: Buffer): Promise<void> {
  const start = await fetch(`${base}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload POST answered ${start.status}`);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest(blob));
  const put = await fetch(location, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: blob });
  if (put.status !== 201) throw new Error(`blob PUT answered ${put.status}: ${await put.text()}`);
}

/** A ustar archive of one regular file. */
function tarOf(name: string, data: Buffer): Buffer {
  const header = Buffer.alloc(512);
  const field = (offset: number, length: number, value: string) => header.write(value, offset, length, 'ascii');
  field(0, 100, name);
  field(100, 8, '0000644\0');
  field(108, 8, '0000000\0');
  field(116, 8, '0000000\0');
  field(124, 12, data.length.toString(8).padStart(11, '0') + '\0');
  field(136, 12, '00000000000\0');
  header.fill(' ', 148, 156);
  field(156, 1, '0');
  field(257, 6, 'ustar\0');
  field(263, 2, '00');
  let sum = 0;
  for (const b of header) sum += b;
  field(148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([header, data, pad, Buffer.alloc(1024)]);
}
