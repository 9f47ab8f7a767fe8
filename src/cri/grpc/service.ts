import * as grpc from '@grpc/grpc-js';
import type { ImageServiceHandlers } from '../../generated/runtime/v1/ImageService';
import type { PullImageRequest__Output } from '../../generated/runtime/v1/PullImageRequest';
import type { ImageService } from '../image-service';
import { criProto } from '../proto';
import { serverStream, unary, type AdapterDeps } from './adapter';

/** Images per StreamImages message. */
export const STREAM_CHUNK = 100;

const RAW = Symbol('raw request bytes');
const REFUSED = Symbol('refused before decoding');

/**
 * The runtime.v1.ImageService definition, with a PullImage request
 * deserializer that also keeps the bytes as they arrived (see `rawRequest`).
 * While `service` is serving as many pulls as it may, a PullImage request is
 * not decoded at all (decoding a 1 MiB request costs several MiB of heap):
 * the handler refuses it at once.
 */
export function imageServiceDefinition(service?: ImageService): grpc.ServiceDefinition {
  const loaded = criProto().runtime.v1.ImageService.service;
  const pull = loaded.PullImage;
  return {
    ...loaded,
    PullImage: {
      ...pull,
      requestDeserialize: (bytes: Buffer) => {
        if (service?.pullsAtCapacity()) return { [REFUSED]: true };
        const decoded = pull.requestDeserialize(bytes) as object;
        Object.defineProperty(decoded, RAW, { value: Buffer.from(bytes), enumerable: false });
        return decoded;
      },
    },
  } as grpc.ServiceDefinition;
}

/** The PullImage request exactly as it came over the wire, when it came through `imageServiceDefinition`. */
export function rawRequest(request: PullImageRequest__Output): Buffer | undefined {
  return (request as unknown as Record<symbol, Buffer | undefined>)[RAW];
}

/** Handlers binding each RPC to the ImageService class through the one adapter. */
export function imageServiceHandlers(service: ImageService, deps: AdapterDeps): ImageServiceHandlers {
  return {
    ListImages: unary('ListImages', deps, async (request, ctx) => ({ images: await service.listImages(request.filter?.image, ctx) })),
    StreamImages: serverStream('StreamImages', deps, async (request, ctx, send) => {
      const images = await service.listImages(request.filter?.image, ctx);
      for (let i = 0; i < images.length; i += STREAM_CHUNK) await send({ images: images.slice(i, i + STREAM_CHUNK) });
    }),
    ImageStatus: unary('ImageStatus', deps, async (request, ctx) => {
      const result = await service.imageStatus(request.image, request.verbose, ctx);
      return { image: result.image ?? null, info: result.info ?? {} };
    }),
    PullImage: unary('PullImage', deps, async (request, ctx) => {
      if ((request as unknown as Record<symbol, unknown>)[REFUSED]) throw service.pullsExhausted();
      return { imageRef: await service.pullImage(request, rawRequest(request), ctx) };
    }),
    RemoveImage: unary('RemoveImage', deps, async (request, ctx) => {
      await service.removeImage(request.image, ctx);
      return {};
    }),
    ImageFsInfo: unary('ImageFsInfo', deps, async (_request, ctx) => service.imageFsInfo(ctx)),
  };
}
