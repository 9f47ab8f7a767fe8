import { status } from '@grpc/grpc-js';
import { CriError } from '../errors';
import type { CallContext, ImageBackend, ImageStatusResult, PullRequest } from '../image-backend';
import { criProto } from '../proto';
import type { Image } from '../../generated/runtime/v1/Image';
import type { ImageFsInfoResponse } from '../../generated/runtime/v1/ImageFsInfoResponse';
import type { ImageServiceDefinition } from '../../generated/runtime/v1/ImageService';
import type { ImageSpec__Output } from '../../generated/runtime/v1/ImageSpec';
import type { PullImageResponse__Output } from '../../generated/runtime/v1/PullImageResponse';
import { CriConnection, type Codec, type ConnectionOptions } from './connection';
import { parseCriEndpoint, type CriEndpoint } from './endpoint';
import { classifyPullError } from './pull-errors';
import { pullRequestBytes } from './pull-bytes';
import { WireFormatError } from './wire';

export interface CriForwardOptions extends ConnectionOptions {
  /** The runtime's CRI socket: `unix:///run/containerd/containerd.sock`, `unix:///var/run/crio/crio.sock`. */
  endpoint: string | CriEndpoint;
}

/**
 * The `cri` backend: every ImageService call goes on to the node's own CRI
 * image service (containerd or CRI-O), so images land where the runtime looks.
 * PullImage forwards kubelet's request bytes unchanged except for `auth`,
 * which becomes the credentials the image service chose (see pull-bytes.ts).
 *
 * Responses keep kubelet's rules: `image_ref` is the pulled image's `Image.id`
 * (checked with ImageStatus), an absent image is an empty status. StreamImages
 * is served by the image service from listImages (containerd 1.6 answers it
 * UNIMPLEMENTED).
 */
export class CriForwardBackend implements ImageBackend {
  readonly name = 'cri';
  readonly #conn: CriConnection;
  readonly #methods: ImageServiceDefinition;

  constructor(options: CriForwardOptions) {
    const endpoint = typeof options.endpoint === 'string' ? parseCriEndpoint(options.endpoint) : options.endpoint;
    this.#conn = new CriConnection(endpoint, options);
    this.#methods = criProto().runtime.v1.ImageService.service;
  }

  /** The endpoint calls go to, as configured. */
  get endpoint(): string {
    return this.#conn.endpoint.display;
  }

  async listImages(filter: ImageSpec__Output | undefined, ctx: CallContext): Promise<Image[]> {
    const response = await this.#call('ListImages', { filter: filter ? { image: filter } : null }, ctx);
    return response.images;
  }

  async imageStatus(spec: ImageSpec__Output, verbose: boolean, ctx: CallContext): Promise<ImageStatusResult> {
    const response = await this.#call('ImageStatus', { image: spec, verbose }, ctx);
    if (!response.image?.id) return {};
    return verbose ? { image: response.image, info: response.info } : { image: response.image };
  }

  async pullImage(pull: PullRequest, ctx: CallContext): Promise<string> {
    const method = this.#methods.PullImage;
    let bytes: Buffer;
    try {
      bytes = pullRequestBytes(pull.raw ?? method.requestSerialize(pull.request), pull.auth);
    } catch (err) {
      if (err instanceof WireFormatError) throw CriError.invalidArgument(`malformed PullImageRequest: ${err.message}`);
      throw err;
    }
    const codec: Codec<Buffer, PullImageResponse__Output> = { serialize: (b) => b, deserialize: method.responseDeserialize };
    let imageRef: string;
    try {
      imageRef = (await this.#conn.unary(method.path, codec, bytes, ctx)).imageRef;
    } catch (err) {
      throw err instanceof CriError ? classifyPullError(err, pull.request.image?.image ?? '', pull.auth) : err;
    }
    if (!imageRef) throw new CriError(status.UNKNOWN, `CRI image service at ${this.endpoint} returned an empty image_ref`);
    return this.#imageId(imageRef, pull.request.image?.runtimeHandler ?? '', ctx);
  }

  async removeImage(spec: ImageSpec__Output, ctx: CallContext): Promise<void> {
    await this.#call('RemoveImage', { image: spec }, ctx);
  }

  async imageFsInfo(ctx: CallContext): Promise<ImageFsInfoResponse> {
    return this.#call('ImageFsInfo', {}, ctx);
  }

  async close(): Promise<void> {
    this.#conn.close();
  }

  /**
   * The pulled image's `Image.id`, which kubelet 1.36 requires `image_ref` to
   * equal (containerd answers with it already; older CRI-O with a digest
   * reference). Best effort: the pull has succeeded, so if the lookup fails
   * the runtime's own answer stands.
   */
  async #imageId(imageRef: string, runtimeHandler: string, ctx: CallContext): Promise<string> {
    try {
      const pulled = await this.imageStatus({ ...emptySpec(), image: imageRef, runtimeHandler }, false, ctx);
      return pulled.image?.id || imageRef;
    } catch {
      return imageRef;
    }
  }

  #call<K extends 'ListImages' | 'ImageStatus' | 'RemoveImage' | 'ImageFsInfo'>(
    name: K,
    request: Parameters<ImageServiceDefinition[K]['requestSerialize']>[0],
    ctx: CallContext,
  ): Promise<ReturnType<ImageServiceDefinition[K]['responseDeserialize']>> {
    const method = this.#methods[name];
    const codec = {
      serialize: method.requestSerialize as (r: typeof request) => Buffer,
      deserialize: method.responseDeserialize as (b: Buffer) => ReturnType<ImageServiceDefinition[K]['responseDeserialize']>,
    };
    return this.#conn.unary(method.path, codec, request, ctx);
  }
}

function emptySpec(): ImageSpec__Output {
  return { image: '', annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' };
}
