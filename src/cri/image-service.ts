import { createHash } from 'node:crypto';
import type { Image } from '../generated/runtime/v1/Image';
import type { ImageFsInfoResponse } from '../generated/runtime/v1/ImageFsInfoResponse';
import type { ImageSpec__Output } from '../generated/runtime/v1/ImageSpec';
import type { PullImageRequest__Output } from '../generated/runtime/v1/PullImageRequest';
import { kubeletOnly, type PullCredentials, type PullTarget } from '../credentials/pull-credentials';
import type { RegistryAuth } from '../credentials/registry-auth';
import { silentLogger, type Logger } from '../log/logger';
import { fromAuthConfig } from './auth-config';
import { CriError } from './errors';
import type { CallContext, ImageBackend, ImageStatusResult } from './image-backend';
import { formatReference, matchesFilter, normaliseReference, parseReference, type ImageNameRef } from './reference';
import { SingleFlight } from '../lib/single-flight';

/** What an ImageService is built from. */
export interface ImageServiceOptions {
  backend: ImageBackend;
  /** Which credentials each pull uses. Default: kubelet's own (`kubeletOnly`). */
  credentials?: PullCredentials;
  /** References of images never to be garbage-collected (`Image.pinned`), e.g. the sandbox image. */
  pinnedImages?: string[];
  /** PullImage calls served at once; more are refused with RESOURCE_EXHAUSTED (kubelet retries). Default 16. */
  maxConcurrentPulls?: number;
  logger?: Logger;
}

/**
 * The CRI ImageService's logic, apart from gRPC: validates references, marks
 * pinned images, shares concurrent pulls of one reference (when kubelet sent
 * the same credentials and the pods have the same namespace and labels, the
 * inputs credential rules match on) and tries each set of credentials the PullCredentials
 * plan offers, moving on only when the registry rejects one. Every method
 * throws CriError for the client to see. Safe under concurrency.
 */
export class ImageService {
  readonly backend: ImageBackend;
  readonly #credentials: PullCredentials;
  readonly #pinned: Set<string>;
  readonly #logger: Logger;
  readonly #pulls = new SingleFlight<string>();
  readonly #maxPulls: number;
  #pullsInFlight = 0;

  constructor(options: ImageServiceOptions) {
    this.backend = options.backend;
    this.#maxPulls = options.maxConcurrentPulls ?? 16;
    this.#credentials = options.credentials ?? kubeletOnly;
    this.#pinned = new Set((options.pinnedImages ?? []).map(normaliseReference));
    this.#logger = options.logger ?? silentLogger;
  }

  /** Every image, or those matching the filter (see `matchesFilter`); the backend may pre-filter. */
  async listImages(filter: ImageSpec__Output | null | undefined, ctx: CallContext): Promise<Image[]> {
    const wanted = filter?.image ? filter : undefined;
    const ref = wanted && parseReference(wanted.image);
    const images = await this.backend.listImages(wanted, ctx);
    return (ref ? images.filter((image) => matchesFilter(image, ref)) : images).map((image) => this.#markPinned(image));
  }

  async imageStatus(spec: ImageSpec__Output | null | undefined, verbose: boolean, ctx: CallContext): Promise<ImageStatusResult> {
    const result = await this.backend.imageStatus(validSpec(spec), verbose, ctx);
    return { image: result.image && this.#markPinned(result.image), info: verbose ? result.info : undefined };
  }

  /**
   * Pulls and resolves with `image_ref` (= `Image.id`). `raw` is the request as it arrived on the wire.
   * At most `maxConcurrentPulls` calls are served at once: each holds its request (up to the socket's 1 MiB
   * message limit, several times that once decoded) for as long as the pull runs, so the bound is what keeps
   * a flood of large requests within the pod's memory limit.
   */
  async pullImage(request: PullImageRequest__Output, raw: Buffer | undefined, ctx: CallContext): Promise<string> {
    if (this.pullsAtCapacity()) throw this.pullsExhausted();
    this.#pullsInFlight++;
    try {
      const ref = parseReference(request.image?.image ?? '');
      if (ref.kind === 'id') throw CriError.invalidArgument(`cannot pull by image ID "${ref.id}"; give a name with a tag or digest`);
      const kubeletAuth = fromAuthConfig(request.auth);
      const key = `${formatReference(ref)}|${fingerprint(kubeletAuth)}|${ruleInputs(request)}`;
      return await this.#pulls.run(key, (signal) => this.#pull(ref, request, raw, kubeletAuth, { signal }), ctx.signal);
    } finally {
      this.#pullsInFlight--;
    }
  }

  /** True while `maxConcurrentPulls` pulls are being served: another PullImage would be refused. */
  pullsAtCapacity(): boolean {
    return this.#pullsInFlight >= this.#maxPulls;
  }

  /** The error a PullImage beyond `maxConcurrentPulls` gets (RESOURCE_EXHAUSTED; kubelet retries). */
  pullsExhausted(): CriError {
    return CriError.resourceExhausted(`${this.#pullsInFlight} pulls already in flight, the most this image service serves at once (maxConcurrentPulls); try again`);
  }

  async removeImage(spec: ImageSpec__Output | null | undefined, ctx: CallContext): Promise<void> {
    await this.backend.removeImage(validSpec(spec), ctx);
  }

  imageFsInfo(ctx: CallContext): Promise<ImageFsInfoResponse> {
    return this.backend.imageFsInfo(ctx);
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.backend.close(), this.#credentials.close()]);
  }

  async #pull(ref: ImageNameRef, request: PullImageRequest__Output, raw: Buffer | undefined, kubeletAuth: RegistryAuth | undefined, ctx: CallContext): Promise<string> {
    const started = Date.now();
    const target = pullTarget(ref, request);
    let plan;
    try {
      plan = await this.#credentials.plan(target, kubeletAuth);
    } catch (err) {
      if (err instanceof CriError) throw err;
      this.#logger.warn('no credentials for pull', { image: target.image, error: (err as Error).message });
      throw CriError.unavailable(`cannot get credentials for ${target.image}: ${(err as Error).message}`);
    }
    const tried: string[] = [];
    let lastError: unknown;
    for (const candidate of plan.candidates) {
      tried.push(candidate.source);
      try {
        const imageRef = await this.backend.pullImage({ request, raw, auth: candidate.auth }, ctx);
        this.#logger.info('image pulled', { image: target.image, imageRef, rule: plan.rule, source: candidate.source, tried, ms: Date.now() - started });
        return imageRef;
      } catch (err) {
        lastError = err;
        if (!(err instanceof CriError && err.reason === 'credentials-rejected')) break;
        this.#logger.info('credentials rejected, trying the next', { image: target.image, rule: plan.rule, source: candidate.source });
      }
    }
    this.#logger.warn('image pull failed', {
      image: target.image,
      rule: plan.rule,
      tried,
      ms: Date.now() - started,
      error: lastError instanceof Error ? lastError.message : String(lastError),
    });
    if (lastError instanceof CriError && lastError.reason === 'credentials-rejected' && tried.length > 1) {
      throw new CriError(lastError.code, `${lastError.message} (tried credentials from ${tried.join(', ')})`, lastError.reason);
    }
    throw lastError;
  }

  #markPinned(image: Image): Image {
    if (this.#pinned.size === 0) return image;
    const names = [image.id ?? '', ...(image.repoTags ?? []), ...(image.repoDigests ?? [])];
    const pinned = names.some((name) => this.#pinned.has(safeNormalise(name)));
    return pinned ? { ...image, pinned: true } : image;
  }
}

/** The spec, once its reference is known to be valid (INVALID_ARGUMENT otherwise). */
function validSpec(spec: ImageSpec__Output | null | undefined): ImageSpec__Output {
  parseReference(spec?.image ?? '');
  return spec as ImageSpec__Output;
}

function pullTarget(ref: ImageNameRef, request: PullImageRequest__Output): PullTarget {
  const metadata = request.sandboxConfig?.metadata;
  return {
    image: formatReference(ref),
    registry: ref.domain,
    repository: ref.path,
    namespace: metadata?.namespace || undefined,
    podName: metadata?.name || undefined,
    labels: request.sandboxConfig?.labels ?? {},
  };
}

/** Distinguishes pulls with different kubelet credentials without keeping the secrets in a map key. */
function fingerprint(auth: RegistryAuth | undefined): string {
  if (!auth) return 'anonymous';
  const parts = [auth.username, auth.password?.reveal(), auth.serverAddress, auth.identityToken?.reveal(), auth.registryToken?.reveal()];
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** What credential rules may match on besides the image: pods that differ here never share a pull. */
function ruleInputs(request: PullImageRequest__Output): string {
  const config = request.sandboxConfig;
  if (!config) return '';
  const labels = Object.entries(config.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  return JSON.stringify([config.metadata?.namespace ?? '', labels]);
}

function safeNormalise(name: string): string {
  try {
    return normaliseReference(name);
  } catch {
    return name;
  }
}
