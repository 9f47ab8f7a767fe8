import { isStorableDigest } from './digest';

/**
 * The blob digests a manifest names (its config, layers and subject's blobs;
 * an index names manifests, which are not blobs, so none). Anything that is
 * not a JSON manifest names nothing.
 */
export function referencedDigests(body: Buffer): string[] {
  let doc: { config?: { digest?: unknown }; layers?: { digest?: unknown }[]; fsLayers?: { blobSum?: unknown }[] };
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return [];
  }
  if (!doc || typeof doc !== 'object') return [];
  const out = new Set<string>();
  const add = (d: unknown) => typeof d === 'string' && isStorableDigest(d) && out.add(d);
  add(doc.config?.digest);
  if (Array.isArray(doc.layers)) for (const l of doc.layers) add(l?.digest);
  if (Array.isArray(doc.fsLayers)) for (const l of doc.fsLayers) add(l?.blobSum);
  return [...out];
}
