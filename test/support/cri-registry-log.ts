/**
 * Counts requests on the registry side, from a docker-registry access log
 * (combined log format, one line per request; see .ci/services/20-registries.sh).
 */
import { readFileSync } from 'node:fs';

/** Lines of the log whose request line is `<METHOD> <path>` for a method in `methods` and a path starting with `pathPrefix`. */
export function countRequests(logPath: string, methods: string[], pathPrefix: string): number {
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the registry log ${logPath} (${(err as NodeJS.ErrnoException).code}); .ci/run starts the registries`);
  }
  const pattern = new RegExp(`"(${methods.join('|')}) ${pathPrefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[^ "]* HTTP/`, 'g');
  return text.match(pattern)?.length ?? 0;
}

/** Manifest requests (GET or HEAD) for one repository and reference, e.g. (`test/concurrent`, `1`). */
export function manifestRequests(logPath: string, repository: string, reference: string): number {
  return countRequests(logPath, ['GET', 'HEAD'], `/v2/${repository}/manifests/${reference}`);
}
