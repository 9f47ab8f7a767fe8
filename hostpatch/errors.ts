/**
 * The patcher declined to act and changed nothing on the node: unknown
 * layout, read-only host path, no reachable systemd, imagegate not
 * answering, a kubelet setting it must not override. The message says why
 * and what to do. The CLI maps it to exit code 3.
 */
export class RefusalError extends Error {
  override readonly name = 'RefusalError';
}

/**
 * The patch was applied but kubelet did not become healthy, so the patcher
 * rolled it back (and restarted kubelet on its own endpoint). Exit code 4.
 */
export class RolledBackError extends Error {
  override readonly name = 'RolledBackError';
}
