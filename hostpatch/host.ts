import { constants, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { RefusalError } from './errors';

/**
 * The node's filesystem as the patcher sees it: every host path
 * (`/etc/default/kubelet`) is resolved under `root` (`/host` in the
 * DaemonSet, `/` when run on the node itself). Reads never fail on a
 * missing file (they return undefined); writes are only ever made to files
 * the patcher owns.
 */
export class HostFs {
  constructor(readonly root: string) {}

  /** The container path of a host path. */
  path(hostPath: string): string {
    return join(this.root, hostPath);
  }

  async read(hostPath: string): Promise<string | undefined> {
    try {
      return await fs.readFile(this.path(hostPath), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
  }

  async exists(hostPath: string): Promise<boolean> {
    return (await this.read(hostPath).catch(() => '')) !== undefined;
  }

  /** File names in a host directory, or [] when it does not exist. */
  async list(hostDir: string): Promise<string[]> {
    try {
      return (await fs.readdir(this.path(hostDir))).sort();
    } catch {
      return [];
    }
  }

  /** Writes a file atomically (temporary file + rename), creating its directory. */
  async write(hostPath: string, content: string, mode = 0o644): Promise<void> {
    const target = this.path(hostPath);
    await fs.mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.imagegate-tmp`;
    await fs.writeFile(tmp, content, { mode });
    await fs.rename(tmp, target);
  }

  /** Writes bytes atomically (temporary file + rename), creating its directory. */
  async writeBytes(hostPath: string, content: Buffer, mode = 0o644): Promise<void> {
    const target = this.path(hostPath);
    await fs.mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.imagegate-tmp`;
    await fs.writeFile(tmp, content, { mode });
    await fs.chmod(tmp, mode);
    await fs.rename(tmp, target);
  }

  /** Removes a file; true when it was there. */
  async remove(hostPath: string): Promise<boolean> {
    try {
      await fs.unlink(this.path(hostPath));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  /** Removes a directory if it is empty; leaves it otherwise. */
  async removeDirIfEmpty(hostDir: string): Promise<void> {
    await fs.rmdir(this.path(hostDir)).catch(() => undefined);
  }

  /**
   * Refuses (changing nothing) unless each host directory — or, when it does
   * not exist yet, its nearest existing parent — is writable.
   */
  async requireWritable(hostDirs: string[]): Promise<void> {
    for (const dir of hostDirs) {
      let probe = this.path(dir);
      for (;;) {
        try {
          await fs.access(probe, constants.F_OK);
          break;
        } catch {
          if (probe === this.root || dirname(probe) === probe) break;
          probe = dirname(probe);
        }
      }
      try {
        await fs.access(probe, constants.W_OK);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new RefusalError(
          `cannot write ${dir} on the host (${probe}: ${code}); mount the host's /run read-write at ${this.path('/run')} — nothing was changed`,
        );
      }
    }
  }
}
