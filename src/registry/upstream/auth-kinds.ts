import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../config/errors';
import type { Factories, Factory } from '../../lib/factory-registry';
import { secretSource } from '../../config/secret-source';
import { Secret } from '../../log/secret';
import { readSettingFile } from '../files';
import { type UpstreamCredentials, anonymous, fromPassword, fromToken } from './credentials';
import type { EcrUpstreamOptions } from './ecr';
import type { GcpUpstreamOptions } from './gcp';

/** What an upstream auth kind gets besides its parameters. */
export interface UpstreamAuthDeps {
  /** The upstream's URL. */
  url: URL;
  /** Where this kind's parameters were written, e.g. `registry.upstreams[2].auth.ecr`. */
  setting: string;
  /** Folder relative file paths are resolved against. */
  baseDir: string;
  env?: NodeJS.ProcessEnv;
  /** Builds ECR credentials (the shared credential services); absent when not available. */
  ecr?: (url: URL, options: EcrUpstreamOptions, setting: string) => UpstreamCredentials;
  /** Builds Google credentials (the shared credential services); absent when not available. */
  gcp?: (options: GcpUpstreamOptions) => UpstreamCredentials;
}

/** A named kind of upstream credentials (`auth: {<kind>: params}` of an upstream). */
export type UpstreamAuthFactory<P = unknown> = Factory<P, UpstreamAuthDeps, UpstreamCredentials>;

/** Upstream auth kinds by name. */
export type UpstreamAuthFactories = Factories<UpstreamAuthDeps, UpstreamCredentials>;

export const anonymousParams = z.strictObject({});
export const basicParams = z.strictObject({ username: z.string().min(1), password: secretSource() });
export const staticTokenParams = z.strictObject({ token: secretSource() });
export const ecrParams = z.strictObject({ registry: z.string().optional(), roleArn: z.string().optional() });
export const gcpParams = z.strictObject({
  scopes: z.array(z.url({ error: 'a scope is a URL such as https://www.googleapis.com/auth/cloud-platform' })).min(1).optional(),
  credentialsFile: z.string().min(1).optional(),
});

/** `anonymous`: no credentials. */
export const anonymousAuth: UpstreamAuthFactory<z.output<typeof anonymousParams>> = { name: 'anonymous', params: anonymousParams, create: () => anonymous };

/** `basic`: a user name and password, sent as Basic or traded for a token. */
export const basicAuth: UpstreamAuthFactory<z.output<typeof basicParams>> = {
  name: 'basic',
  params: basicParams,
  create: (p, deps) => fromPassword(p.username, secretFrom(p.password, `${deps.setting}.password`, deps)),
};

/** `static`: a fixed bearer token (the upstream kind; not the `static` credential provider or authenticator). */
export const staticTokenAuth: UpstreamAuthFactory<z.output<typeof staticTokenParams>> = {
  name: 'static',
  params: staticTokenParams,
  create: (p, deps) => fromToken(secretFrom(p.token, `${deps.setting}.token`, deps)),
};

/** `ecr`: ECR authorization tokens from the shared credential services. */
export const ecrAuth: UpstreamAuthFactory<z.output<typeof ecrParams>> = {
  name: 'ecr',
  params: ecrParams,
  create: (p, deps) => {
    if (!deps.ecr) throw new ConfigError(deps.setting, 'ECR credentials are not available in this build');
    return deps.ecr(deps.url, p, deps.setting);
  },
};

/** `gcp`: Google access tokens (user `oauth2accesstoken`). */
export const gcpAuth: UpstreamAuthFactory<z.output<typeof gcpParams>> = {
  name: 'gcp',
  params: gcpParams,
  create: (p, deps) => {
    if (!deps.gcp) throw new ConfigError(deps.setting, 'Google credentials are not available in this build');
    const file = p.credentialsFile && resolve(deps.baseDir, p.credentialsFile);
    if (file) readSettingFile(file, `${deps.setting}.credentialsFile`);
    return deps.gcp({ scopes: p.scopes, credentialsFile: file });
  },
};

/** Reads a secret from the config value, a file or an environment variable. */
function secretFrom(source: { value?: string; file?: string; env?: string }, path: string, deps: UpstreamAuthDeps): Secret {
  if (source.value !== undefined) return new Secret(source.value);
  if (source.file !== undefined) return new Secret(readSettingFile(resolve(deps.baseDir, source.file), `${path}.file`).replace(/\r?\n$/, ''));
  const value = (deps.env ?? process.env)[source.env as string];
  if (!value) throw new ConfigError(`${path}.env`, `environment variable ${source.env} is not set`);
  return new Secret(value);
}
