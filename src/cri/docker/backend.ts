import { status } from '@grpc/grpc-js';
import type Docker from 'dockerode';
import type { Image } from '../../generated/runtime/v1/Image';
import type { ImageFsInfoResponse } from '../../generated/runtime/v1/ImageFsInfoResponse';
import type { ImageSpec__Output } from '../../generated/runtime/v1/ImageSpec';
import type { Logger } from '../../log/logger';
import { CriError } from '../errors';
import type { CallContext, ImageBackend, ImageStatusResult, PullRequest } from '../image-backend';
import { parseReference, repositoryOf, type ImageRef } from '../reference';
import { toCriImage, verboseInfo } from './convert';
import { connect, engineError, isEngineAnswer, messageOf, statusOf, type DockerEndpoint } from './engine';
import { untilAborted } from '../../lib/single-flight';
import { DockerFsInfo } from './fs-info';
import { dockerPull } from './pull';
import { ImageCache } from './image-cache';
import { ImageUsers } from './users';

/** Settings of the Docker backend (from `--docker-host` and `--pull-progress-timeout`). */
export interface DockerBackendOptions {
  endpoint: DockerEndpoint;
  /** A pull that reports no progress for this long is aborted. */
  pullProgressTimeoutMs: number;
  logger?: Logger;
  /** Serve inspects and lists from the event-invalidated cache. Default true; off only to measure the engine itself. */
  cache?: boolean;
}

/**
 * The ImageBackend on Docker Engine's API, through dockerode. Inspect results
 * and lists are served from an ImageCache while Docker's image event stream is
 * connected (see image-cache.ts).
 */
export class DockerBackend implements ImageBackend {
  readonly name = 'docker';
  readonly #docker: Docker;
  readonly #endpoint: DockerEndpoint;
  readonly #fsInfo: DockerFsInfo;
  readonly #users: ImageUsers;
  readonly #cache: ImageCache;

  constructor(private readonly options: DockerBackendOptions) {
    this.#endpoint = options.endpoint;
    this.#docker = connect(options.endpoint);
    this.#fsInfo = new DockerFsInfo(this.#docker);
    this.#users = new ImageUsers(this.#docker);
    this.#cache = new ImageCache(this.#docker, options.logger);
    if (options.cache !== false) this.#cache.start();
  }

  listImages(filter: ImageSpec__Output | undefined, ctx: CallContext): Promise<Image[]> {
    return this.#call(ctx, async (signal) => {
      const ref = filter?.image ? parseReference(filter.image) : undefined;
      const filters = ref?.kind === 'name' ? JSON.stringify({ reference: [familiarRepository(repositoryOf(ref))] }) : undefined;
      return this.#cache.get(`list ${filters ?? ''}`, async () => {
        const images = await this.#docker.listImages({ filters, abortSignal: signal } as Docker.ListImagesOptions);
        const users = await this.#users.forIds(images.map((image) => image.Id), signal);
        return images.map((image) => toCriImage(image, users.get(image.Id)));
      });
    });
  }

  imageStatus(spec: ImageSpec__Output, verbose: boolean, ctx: CallContext): Promise<ImageStatusResult> {
    return this.#call(ctx, async (signal) => {
      const inspect = await this.#inspect(parseReference(spec.image));
      if (!inspect) return {};
      this.#users.remember(inspect.Id, inspect.Config?.User ?? '');
      return { image: toCriImage(inspect, inspect.Config?.User), info: verbose ? verboseInfo(inspect) : undefined };
    });
  }

  pullImage(pull: PullRequest, ctx: CallContext): Promise<string> {
    return this.#call(ctx, async (signal) => {
      const ref = parseReference(pull.request.image?.image ?? '');
      if (ref.kind !== 'name') throw CriError.invalidArgument('cannot pull by image ID');
      try {
        await dockerPull({ docker: this.#docker, endpoint: this.#endpoint, ref, auth: pull.auth, signal, progressTimeoutMs: this.options.pullProgressTimeoutMs });
      } finally {
        this.#cache.invalidate();
      }
      const inspect = await this.#inspect(ref);
      if (!inspect) throw new CriError(status.NOT_FOUND, `pulled ${pull.request.image?.image} but Docker Engine no longer has it`);
      return inspect.Id;
    });
  }

  removeImage(spec: ImageSpec__Output, ctx: CallContext): Promise<void> {
    return this.#call(ctx, async (signal) => {
      const inspect = await this.#inspect(parseReference(spec.image));
      if (!inspect) return;
      this.#cache.invalidate();
      for (const name of [...(inspect.RepoTags ?? []), ...(inspect.RepoDigests ?? [])]) {
        if (signal.aborted) throw signal.reason;
        if (!name.startsWith('<none>')) await this.#remove(name);
      }
      await this.#remove(inspect.Id);
      this.#cache.invalidate();
    });
  }

  imageFsInfo(ctx: CallContext): Promise<ImageFsInfoResponse> {
    return this.#call(ctx, (signal) => this.#fsInfo.get(signal));
  }

  async close(): Promise<void> {
    this.#cache.close();
  }

  /** Image inspect (from the event-invalidated cache when it can), or undefined when Docker has no such image. */
  #inspect(ref: ImageRef): Promise<Docker.ImageInspectInfo | undefined> {
    const name = ref.kind === 'id' ? ref.id : ref.digest ? `${repositoryOf(ref)}@${ref.digest}` : `${repositoryOf(ref)}:${ref.tag}`;
    return this.#cache.get(`inspect ${name}`, async () => {
      try {
        return await this.#docker.getImage(name).inspect();
      } catch (err) {
        if (statusOf(err) === 404) return undefined;
        throw err;
      }
    });
  }

  /** Removes one name (or the ID); already gone is fine. */
  async #remove(name: string): Promise<void> {
    try {
      await this.#docker.getImage(name).remove();
    } catch (err) {
      const code = statusOf(err);
      if (code === 404 || /no such image|unrecognized image ID|reference does not exist/i.test(messageOf(err))) return;
      if (code === 409) throw new CriError(status.FAILED_PRECONDITION, `cannot remove ${name}: ${messageOf(err)}`);
      throw err;
    }
  }

  /**
   * Runs one engine call with the caller's signal: the caller is answered as
   * soon as the signal aborts, even when the engine does not answer (some
   * dockerode calls cannot be aborted). Maps the failures it recognises to
   * CriError: an abort, an unreachable engine, an error the engine answered
   * (an HTTP status). Anything else — a bug such as a TypeError — propagates
   * unchanged to the gRPC adapter, which logs it with its stack and answers a
   * generic UNKNOWN.
   */
  async #call<T>(ctx: CallContext, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    try {
      return await untilAborted(work(ctx.signal), ctx.signal);
    } catch (err) {
      const mapped = engineError(err, this.#endpoint, ctx.signal);
      if (mapped instanceof CriError) throw mapped;
      if (isEngineAnswer(err)) throw new CriError(status.UNKNOWN, `Docker Engine at ${this.#endpoint.text}: ${messageOf(err)}`);
      throw err;
    }
  }
}

/** Docker's reference filter matches familiar names only: `busybox`, not `docker.io/library/busybox`. */
function familiarRepository(repository: string): string {
  return repository.replace(/^docker\.io\/(library\/)?/, '');
}
