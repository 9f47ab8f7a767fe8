import type { AuthConfig__Output } from '../generated/runtime/v1/AuthConfig';
import type { Image } from '../generated/runtime/v1/Image';
import type { ImageFsInfoResponse } from '../generated/runtime/v1/ImageFsInfoResponse';
import type { ImageSpec__Output } from '../generated/runtime/v1/ImageSpec';
import type { PullImageRequest__Output } from '../generated/runtime/v1/PullImageRequest';
import type { RegistryAuth } from '../credentials/registry-auth';
import type { Factories, Factory } from '../lib/factory-registry';
import type { Logger } from '../log/logger';

/** Per-call context handed to a backend. */
export interface CallContext {
  /** Aborted when the client cancels or its deadline passes; a backend must stop its work then. */
  signal: AbortSignal;
  /** The client's deadline, when it set one. */
  deadline?: Date;
}

/** One PullImage as a backend sees it. */
export interface PullRequest {
  /** The decoded request, as kubelet sent it. */
  request: PullImageRequest__Output;
  /**
   * The request exactly as it arrived on the wire. A forwarding backend sends
   * these bytes on (replacing only field 2, `auth`), so that fields the proto
   * here does not model reach the runtime intact.
   */
  raw?: Buffer;
  /** The credentials to pull with (minted, or kubelet's own), or undefined for an anonymous pull. */
  auth?: RegistryAuth;
}

/** The answer to ImageStatus. `image` is undefined when the image is absent (not an error). */
export interface ImageStatusResult {
  image?: Image;
  /** Only when verbose was asked for. */
  info?: Record<string, string>;
}

/**
 * Where images live: Docker Engine (src/cri/docker) or a runtime's own CRI
 * image service (src/cri/cri). The gRPC layer and the ImageService class
 * never know which.
 *
 * Errors: throw a CriError (src/cri/errors.ts) to choose the gRPC status;
 * anything else becomes UNKNOWN with a generic message. A backend that cannot
 * reach its engine throws CriError UNAVAILABLE naming the endpoint.
 *
 * Concurrency: every method may be called concurrently from many calls.
 * Lifecycle: created at start-up, connects lazily, `close()` once at shutdown.
 */
export interface ImageBackend {
  /** Short name for logs and metrics: `docker`, `cri`. */
  readonly name: string;
  /** Every image, or those matching `filter.image` when given. */
  listImages(filter: ImageSpec__Output | undefined, ctx: CallContext): Promise<Image[]>;
  imageStatus(spec: ImageSpec__Output, verbose: boolean, ctx: CallContext): Promise<ImageStatusResult>;
  /** Pulls and resolves with `image_ref`, which must equal the pulled image's `Image.id`. */
  pullImage(pull: PullRequest, ctx: CallContext): Promise<string>;
  /** Removes the image with every tag and digest; an absent image is success. */
  removeImage(spec: ImageSpec__Output, ctx: CallContext): Promise<void>;
  imageFsInfo(ctx: CallContext): Promise<ImageFsInfoResponse>;
  close(): Promise<void>;
}

/** What every backend factory gets besides its parameters (the image service's validated settings). */
export interface BackendDeps {
  logger: Logger;
}

/** A named backend factory (`--backend <name>`); the built-ins are registered in src/cri/builtins.ts. */
export type ImageBackendFactory<P = unknown> = Factory<P, BackendDeps, ImageBackend>;

/** Image backend factories by name. */
export type ImageBackendFactories = Factories<BackendDeps, ImageBackend>;

export type { AuthConfig__Output };
