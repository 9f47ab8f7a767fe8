import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import type { Logger } from '../log/logger';

/** Where the demo user's files live: `$IMAGEGATE_STATE_DIR/registry`, default `~/.imagegate/registry`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.IMAGEGATE_STATE_DIR || join(homedir(), '.imagegate'), 'registry');
}

/**
 * The facade's embedded default configuration (the `registry` section), what
 * `imagegate registry` and `npm start` run with no config file: listen on
 * :5050, Docker Hub official images under `hub/` (`hub/nginx` →
 * `library/nginx`), fetched anonymously; logins checked against an htpasswd
 * file holding one demo user (see `ensureDemoUser`), who may pull anything.
 */
export function defaultRegistryConfig(stateDir = defaultStateDir()): Record<string, unknown> {
  return {
    listen: ':5050',
    upstreams: [
      {
        name: 'docker-hub',
        prefix: 'hub',
        url: 'https://registry-1.docker.io',
        repositoryPrefix: 'library',
        auth: { anonymous: {} },
      },
    ],
    auth: {
      chain: [{ name: 'demo-users', htpasswd: { file: join(stateDir, 'htpasswd') } }],
      rules: [{ identity: 'demo', repositories: ['**'], actions: ['pull'] }],
    },
  };
}

/**
 * Creates the demo htpasswd user at first start: user `demo` with a random
 * password, written (mode 0600) to `<stateDir>/demo-password`; the log names
 * the file, never the password. Does nothing when the htpasswd file exists.
 */
export function ensureDemoUser(stateDir: string, logger: Logger): void {
  const file = join(stateDir, 'htpasswd');
  if (existsSync(file)) return;
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const password = randomBytes(12).toString('base64url');
  writeFileSync(join(stateDir, 'demo-password'), password + '\n', { mode: 0o600 });
  writeFileSync(file, `demo:${bcrypt.hashSync(password, 10)}\n`, { mode: 0o600 });
  logger.info('created the demo registry user "demo"; its password is in the file named here', { file: join(stateDir, 'demo-password'), usersFile: file });
}
