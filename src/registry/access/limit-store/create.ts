import { resolve } from 'node:path';
import type { Registry } from 'prom-client';
import type { Logger } from '../../../log/logger';
import { Secret } from '../../../log/secret';
import type { RegistryConfig } from '../../config';
import { readSettingFile } from '../../files';
import { MemoryLimitStore } from './memory';
import { RedisLimitStore, redactedUrl } from './redis';
import type { LimitWindows, LoginLimitStore } from './store';

/** The login limit store `rateLimit.store` names: this process's memory, or Redis shared by every replica. */
export function createLoginLimitStore(
  settings: RegistryConfig['rateLimit'],
  limits: LimitWindows,
  env: { logger: Logger; registry?: Registry; baseDir: string; service: string },
): LoginLimitStore {
  if (settings.store === 'memory') return new MemoryLimitStore(limits);
  const password = settings.storePasswordFile
    ? new Secret(readSettingFile(resolve(env.baseDir, settings.storePasswordFile), 'registry.rateLimit.storePasswordFile').replace(/\r?\n$/, ''))
    : undefined;
  env.logger.info('login limits are shared through Redis', { store: redactedUrl(settings.store) });
  return new RedisLimitStore({ url: settings.store, password, prefix: `imagegate:${env.service}:login:`, timeoutMs: settings.storeTimeout, limits, logger: env.logger, registry: env.registry });
}
