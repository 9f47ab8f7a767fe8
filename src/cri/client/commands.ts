import type * as grpc from '@grpc/grpc-js';
import type { Command } from '../../cli/command';
import { ConfigError } from '../../config/errors';
import type { Image__Output } from '../../generated/runtime/v1/Image';
import type { ImageFsInfoResponse__Output } from '../../generated/runtime/v1/ImageFsInfoResponse';
import { call, imageServiceClient } from './connect';
import { fsInfoTable, humanSize, imagesTable, json, table } from './format';
import { clientFlags, loadClientOptions, type ClientOptions } from './options';
import { startSpinner } from './spinner';

type Run = (options: ClientOptions, images: string[], rpc: Rpc) => Promise<number>;
type Rpc = <Res>(method: string, request: object, timeoutMs?: number) => Promise<Res>;

/** Builds one client subcommand: parses flags, dials the endpoint, runs, closes. */
function clientCommand(name: string, summary: string, run: Run): Command {
  return {
    name,
    summary,
    flags: clientFlags(name),
    async run(argv) {
      const { config, positionals, helpRequested, help } = loadClientOptions(name, argv);
      if (helpRequested) {
        process.stdout.write(help + '\n');
        return 0;
      }
      const client = imageServiceClient(config.imageEndpoint);
      const rpc: Rpc = <Res,>(method: string, request: object, timeoutMs: number = config.timeout) =>
        call<object, Res>(client as unknown as grpc.Client, method, request, timeoutMs > 0 ? { timeoutMs } : {}).catch((err: grpc.ServiceError) => {
          throw new Error(callFailure(method, config.imageEndpoint, err));
        });
      try {
        return await run(config, positionals, rpc);
      } finally {
        client.close();
      }
    },
  };
}

/**
 * One line for a failed call. When no connection could be made, it says why in plain words and what to try,
 * instead of grpc-js's "No connection established. Last error: … Resolution note:".
 */
export function callFailure(method: string, endpoint: string, err: grpc.ServiceError): string {
  const details = err.details || err.message;
  if (err.code === UNAVAILABLE && /No connection established|Failed to connect|connect E/.test(details)) {
    const cause = /\b(ENOENT|ECONNREFUSED|EACCES|ETIMEDOUT|EHOSTUNREACH)\b/.exec(details)?.[1];
    const why = cause ? ` (${CONNECT_ERRORS[cause] ?? cause})` : '';
    return `cannot reach the image endpoint ${endpoint}${why}; is the image service running there? Name another with -i (e.g. -i unix:///run/containerd/containerd.sock) or IMAGE_SERVICE_ENDPOINT`;
  }
  return `${method} on ${endpoint}: ${details.replace(/\s*Resolution note:\s*$/, '')}`;
}

const UNAVAILABLE = 14;
const CONNECT_ERRORS: Record<string, string> = {
  ENOENT: 'no socket at that path',
  ECONNREFUSED: 'nothing is listening there',
  EACCES: 'permission denied: run as root or as a member of the socket\'s group',
  ETIMEDOUT: 'the connection timed out',
  EHOSTUNREACH: 'the host is unreachable',
};

function requireImages(images: string[], min = 1): void {
  if (images.length < min) throw new ConfigError('IMAGE', 'give at least one image reference');
}

/** `imagegate images [IMAGE]`: ListImages, optionally filtered; table, IDs (-q) or JSON. */
export const imagesCommand = clientCommand('images', 'list images of a CRI image endpoint', async (options, images, rpc) => {
  if (images.length > 1) throw new ConfigError('IMAGE', 'give at most one image reference to filter by');
  const filter = images[0] ? { filter: { image: { image: images[0] } } } : {};
  const { images: found } = await rpc<{ images: Image__Output[] }>('ListImages', filter);
  if (options.output === 'json') process.stdout.write(json({ images: found }));
  else if (options.quiet) process.stdout.write([...new Set(found.map((image) => image.id))].map((id) => `${id}\n`).join(''));
  else process.stdout.write(imagesTable(found, options.verbose));
  return 0;
});

/** `imagegate pull IMAGE... [--creds USER:PASS]`: PullImage; prints the image ref. */
export const pullCommand = clientCommand('pull', 'pull an image through a CRI image endpoint', async (options, images, rpc) => {
  requireImages(images);
  for (const image of images) {
    let auth: object | undefined;
    if (options.creds) {
      const colon = options.creds.indexOf(':');
      auth = { username: options.creds.slice(0, colon), password: options.creds.slice(colon + 1) };
    }
    const spinner = startSpinner(`pulling ${image}`);
    let imageRef: string;
    try {
      ({ imageRef } = await rpc<{ imageRef: string }>('PullImage', { image: { image }, auth }, options.pullTimeout));
    } finally {
      spinner.stop();
    }
    process.stdout.write(options.output === 'json' ? json({ image, imageRef }) : `Image is up to date for ${imageRef}\n`);
  }
  return 0;
});

/** `imagegate inspecti IMAGE...`: verbose ImageStatus; exits 1 when an image is absent. */
export const inspectiCommand = clientCommand('inspecti', 'show the status of images of a CRI image endpoint', async (options, images, rpc) => {
  requireImages(images);
  let missing = 0;
  for (const image of images) {
    const answer = await rpc<{ image: Image__Output | null; info: Record<string, string> }>('ImageStatus', { image: { image }, verbose: true });
    if (!answer.image) {
      process.stderr.write(`imagegate: no such image ${image}\n`);
      missing++;
      continue;
    }
    const info = Object.fromEntries(Object.entries(answer.info).map(([k, v]) => [k, parseMaybe(v)]));
    if (options.output === 'json') {
      process.stdout.write(json({ status: answer.image, info }));
    } else {
      const i = answer.image;
      const user = i.uid ? i.uid.value : i.username;
      process.stdout.write(table(['FIELD', 'VALUE'], [
        ['id', i.id],
        ['tags', i.repoTags.join(', ')],
        ['digests', i.repoDigests.join(', ')],
        ['size', humanSize(Number(i.size))],
        ['user', user || '-'],
        ['pinned', String(i.pinned)],
      ]));
    }
  }
  return missing > 0 ? 1 : 0;
});

/** `imagegate rmi IMAGE...`: RemoveImage after checking the image exists (as crictl). */
export const rmiCommand = clientCommand('rmi', 'remove images from a CRI image endpoint', async (_options, images, rpc) => {
  requireImages(images);
  let missing = 0;
  for (const image of images) {
    const answer = await rpc<{ image: Image__Output | null }>('ImageStatus', { image: { image } });
    if (!answer.image) {
      process.stderr.write(`imagegate: no such image ${image}\n`);
      missing++;
      continue;
    }
    await rpc('RemoveImage', { image: { image } });
    process.stdout.write(`Deleted: ${image}\n`);
  }
  return missing > 0 ? 1 : 0;
});

/** `imagegate imagefsinfo`: ImageFsInfo as a table or JSON. */
export const imagefsinfoCommand = clientCommand('imagefsinfo', 'show the image filesystem usage of a CRI image endpoint', async (options, _images, rpc) => {
  const info = await rpc<ImageFsInfoResponse__Output>('ImageFsInfo', {});
  process.stdout.write(options.output === 'json' ? json(info) : fsInfoTable(info));
  return 0;
});

function parseMaybe(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
