import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import type { ImageBackend } from '../../../src/cri/image-backend';
import type { Image__Output } from '../../../src/generated/runtime/v1/Image';
import type { TestImagegate } from '../../support/cri-server';
import { services } from '../../../testing/services';

export type BackendFactory = () => ImageBackend | Promise<ImageBackend>;

/** One unary ImageService call through some CRI client; rejects with `{code, details}` as grpc-js does. */
export type Caller = <Res = any>(method: string, request: object, options?: { timeoutMs?: number; signal?: AbortSignal }) => Promise<Res>;

/** `<open registry>/<name>`. */
export const open = (name: string): string => `${services.registryOpen}/${name}`;
/** `<htpasswd registry>/<name>`. */
export const authed = (name: string): string => `${services.registryHtpasswd}/${name}`;
/** kubelet's AuthConfig for the htpasswd registry, username/password form. */
export const kubeletPassword = { username: services.htpasswdUser, password: services.htpasswdPassword };
/** The same in the base64 `auth` form. */
export const kubeletAuthForm = { auth: Buffer.from(`${services.htpasswdUser}:${services.htpasswdPassword}`).toString('base64') };

/**
 * What every part of the conformance suite shares: the imagegate under test
 * (bound in the suite's `before`) and its calls as promises, made through
 * `call`: the grpc-js client by default, kubelet's grpc-go client where a
 * suite swaps it in.
 */
export class Conformance {
  gate!: TestImagegate;

  constructor(readonly createBackend: BackendFactory) {}

  readonly grpcJs: Caller = (method, request, options) => this.gate.call(method, request, options);

  call: Caller = this.grpcJs;

  status = (image: string, verbose = false) => this.call('ImageStatus', { image: { image }, verbose });

  pull = async (image: string, auth?: object, timeoutMs?: number, signal?: AbortSignal): Promise<string> =>
    (await this.call('PullImage', { image: { image }, auth }, { timeoutMs, signal })).imageRef;

  remove = (image: string) => this.call('RemoveImage', { image: { image } });

  list = async (filter?: string): Promise<Image__Output[]> =>
    (await this.call('ListImages', filter ? { filter: { image: { image: filter } } } : {})).images;

  /** Removes every copy of `name` (any registry, relays included), so that a pull of it must download. */
  removeEverywhere = async (name: string): Promise<void> => {
    for (const image of await this.list()) {
      if ([...image.repoTags, ...image.repoDigests].some((n) => n.endsWith(`/${name}`) || n.includes(`/${name.split(':')[0]}@`))) await this.remove(image.id);
    }
  };
}

/** Expects a call to fail with the given gRPC status; returns the error's details. */
export async function rejectsWith(promise: Promise<unknown>, code: status): Promise<string> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: number; details?: string };
    assert.equal(e.code, code, `expected ${status[code]}, got ${status[e.code ?? -1]}: ${e.details}`);
    return e.details ?? '';
  }
  assert.fail(`expected ${status[code]}, but the call succeeded`);
}

/** Polls `check` every 100 ms until it holds; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Images the suite pulled from CI's two registries (others on the engine are ignored). */
export function ours(image: Image__Output): boolean {
  return [...image.repoTags, ...image.repoDigests].some((name) => /^127\.0\.0\.1:500[01]\/test\//.test(name));
}
