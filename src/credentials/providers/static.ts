import { readFileSync, statSync } from 'node:fs';
import { stat, readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../../config/errors';
import type { CredentialProvider, ProviderDeps, ProviderFactory } from '../credential-provider';
import { CredentialError } from '../errors';
import type { RegistryAuth } from '../registry-auth';
import { normaliseHost, parseDockerConfig } from './docker-config';

/** Parameters of the `static` provider (a rule's `with:`). */
export const dockerConfigFileParams = z
  .object({
    /** A Docker config.json or a Kubernetes .dockerconfigjson (e.g. a mounted Secret). Re-read when it changes. */
    file: z.string().min(1),
    /** Use this host's entry instead of the image's own registry. Default: the image's registry. */
    registry: z.string().min(1).optional(),
  })
  .strict();
export type DockerConfigFileParams = z.output<typeof dockerConfigFileParams>;

/**
 * `static`: credentials from a Docker config file. The file is read at
 * start-up (fails start-up when unreadable) and re-read whenever its mtime,
 * size or inode changes (a Kubernetes Secret update swaps a symlink).
 */
export function fromDockerConfigFile(params: DockerConfigFileParams, deps: Pick<ProviderDeps, 'setting'>): CredentialProvider {
  let auths: Map<string, RegistryAuth>;
  let stamp: string;
  try {
    stamp = stampOf(statSync(params.file));
    auths = parseDockerConfig(readFileSync(params.file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${deps.setting}.file`, `cannot use ${params.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  async function current(): Promise<Map<string, RegistryAuth>> {
    try {
      const now = stampOf(await stat(params.file));
      if (now !== stamp) {
        auths = parseDockerConfig(await readFile(params.file, 'utf8'));
        stamp = now;
      }
    } catch (err) {
      throw new CredentialError('static', `cannot read ${params.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'local');
    }
    return auths;
  }
  return {
    name: 'static',
    async resolve(target) {
      const host = normaliseHost(params.registry ?? target.registry);
      const auth = (await current()).get(host);
      return auth && { ...auth, serverAddress: target.registry };
    },
    close: async () => undefined,
  };
}

function stampOf(s: { mtimeMs: number; size: number; ino: number }): string {
  return `${s.mtimeMs}|${s.size}|${s.ino}`;
}

export const dockerConfigFileProvider: ProviderFactory<DockerConfigFileParams> = { name: 'static', params: dockerConfigFileParams, create: fromDockerConfigFile };
