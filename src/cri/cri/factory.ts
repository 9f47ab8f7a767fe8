import { z } from 'zod';
import type { ImageBackendFactory } from '../image-backend';
import { CriForwardBackend } from './backend';

/** What the `cri` backend reads of the image service's settings (validated there: `--cri-endpoint`). */
const params = z.object({ criEndpoint: z.string().min(1) });

/** `cri`: every call forwarded to the runtime's own CRI image service (containerd, CRI-O). */
export const criBackendFactory: ImageBackendFactory<z.output<typeof params>> = {
  name: 'cri',
  params,
  create: (p) => new CriForwardBackend({ endpoint: p.criEndpoint }),
};
