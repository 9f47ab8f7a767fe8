import { z } from 'zod';
import { duration } from '../../config/duration';
import { loadConfig, type Binding, type FlagTable } from '../../config/load';
import { isEndpoint } from '../../lib/endpoint';

/** Settings every client command shares. */
export const clientSchema = z.object({
  /** CRI image endpoint: unix:///path (imagegate's, containerd's, CRI-O's), tcp://host:port or host:port (lib/endpoint.ts). */
  imageEndpoint: z
    .string()
    .min(1, 'must not be empty')
    .refine((text) => isEndpoint(text), { message: 'use unix:///path/to/socket or tcp://host:port' })
    .default('unix:///run/imagegate/imagegate.sock'),
  /** table or json. */
  output: z.enum(['table', 'json']).default('table'),
  /** Deadline of each call except pull. Default 2m. */
  timeout: duration('2m'),
  /** Deadline of a pull; 0 = none (as kubelet). Default 0. */
  pullTimeout: duration('0s'),
  /** `USER:PASS` sent as the pull's AuthConfig. */
  creds: z.string().regex(/^[^:]+:.*$/, 'use USER:PASS').optional(),
  /** Only print image IDs (images). */
  quiet: z.boolean().default(false),
  /** Show every field (images: digests too). */
  verbose: z.boolean().default(false),
});

/** The client's validated settings. */
export type ClientOptions = z.output<typeof clientSchema>;

const common: Binding[] = [
  { flag: 'image-endpoint', short: 'i', env: 'IMAGE_SERVICE_ENDPOINT', path: 'imageEndpoint', help: 'CRI image endpoint' },
  { flag: 'output', short: 'o', path: 'output', help: 'table or json' },
  { flag: 'timeout', short: 't', path: 'timeout', help: 'deadline of each call' },
];

const extra: Record<string, Binding[]> = {
  images: [
    { flag: 'quiet', short: 'q', path: 'quiet', type: 'boolean', help: 'print image IDs only' },
    { flag: 'verbose', short: 'v', path: 'verbose', type: 'boolean', help: 'also show digests' },
  ],
  pull: [
    { flag: 'creds', path: 'creds', help: 'USER:PASS for the registry' },
    { flag: 'pull-timeout', path: 'pullTimeout', help: 'deadline of the pull; 0 = none' },
  ],
};

/** What the client command `command` (images, pull, …) reads. */
export function clientFlags(command: string): FlagTable<typeof clientSchema> {
  return { schema: clientSchema, bindings: [...common, ...(extra[command] ?? [])], configEnv: 'IMAGEGATE_CLIENT_CONFIG' };
}

/** Parses a client command's flags; positionals are the image references. */
export function loadClientOptions(command: string, argv: string[]) {
  return loadConfig({ command: `${command} [IMAGE...]`, ...clientFlags(command), argv, positionals: true });
}
