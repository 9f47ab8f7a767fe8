/** True for the digests the blob store keeps: sha256 or sha512 with lower-case hex of the right length (safe as a file name). */
export function isStorableDigest(digest: string): boolean {
  return /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/.test(digest);
}
