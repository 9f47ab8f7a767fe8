import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireTcp, services } from '../../../testing/services';
import { freePort } from '../../../testing/ports';

const run = promisify(execFile);

/** A docker-registry of the test's own standing in for Artifact Registry: it accepts only user `oauth2accesstoken` with one access token. */
export interface ArtifactRegistry {
  /** `127.0.0.1:<port>`. */
  host: string;
  close(): Promise<void>;
}

/**
 * Starts /usr/bin/docker-registry on a free loopback port with htpasswd auth
 * holding one user, `oauth2accesstoken`, whose password is `token` (the GCE
 * stand-in's current access token) — how Artifact Registry takes access
 * tokens — and copies `images` into it from the CI's open registry with skopeo.
 */
export async function startArtifactRegistry(token: string, images: string[]): Promise<ArtifactRegistry> {
  await requireTcp('open registry', services.registryOpen);
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-ar-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const { stdout } = await run('htpasswd', ['-Bbn', 'oauth2accesstoken', token]);
  writeFileSync(join(dir, 'htpasswd'), stdout);
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1', 'log:', '  level: warn', '  accesslog:', '    disabled: true',
      'storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'data')}`,
      'http:', `  addr: ${host}`, '  secret: imagegate-test-ar',
      'auth:', '  htpasswd:', '    realm: imagegate-artifact-registry', `    path: ${join(dir, 'htpasswd')}`, '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('/usr/bin/docker-registry', ['serve', join(dir, 'config.yml')], { stdio: 'ignore' });
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(`http://${host}/v2/`, 401);
    for (const image of images) {
      await run('skopeo', ['copy', '-q', '--src-tls-verify=false', '--dest-tls-verify=false', '--dest-creds', `oauth2accesstoken:${token}`,
        `docker://${services.registryOpen}/${image}`, `docker://${host}/${image}`]);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, close: stop };
}

async function waitFor(url: string, status: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const got = await fetch(url).then((r) => r.status, () => 0);
    if (got === status) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`docker-registry did not answer ${status} at ${url} within 10 s`);
}

