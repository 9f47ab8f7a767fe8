import { z } from 'zod';
import { duration } from '../src/config/duration';
import type { Binding } from '../src/config/load';

/**
 * The settings every command that changes the node shares (`hostpatch`,
 * `credential-provider install | uninstall`): where the host's root is, and
 * how kubelet's health is judged after a restart. Spread into each schema;
 * `nodeBindings` binds them to the same flags and variables everywhere.
 */
export const nodeSettings = {
  /** Where the host's / is mounted. */
  hostRoot: z.string().min(1).default('/'),
  /** kubelet's healthz endpoint. */
  healthzUrl: z.url().default('http://127.0.0.1:10248/healthz'),
  /** How long kubelet has to become healthy after a restart before the change is rolled back. */
  healthzTimeout: duration('2m'),
};

/** The flags and variables of `nodeSettings`. */
export const nodeBindings: Binding[] = [
  { flag: 'host-root', env: 'IMAGEGATE_HOST_ROOT', path: 'hostRoot', help: "where the host's / is mounted" },
  { flag: 'healthz-url', env: 'IMAGEGATE_KUBELET_HEALTHZ', path: 'healthzUrl', help: "kubelet's healthz" },
  { flag: 'healthz-timeout', env: 'IMAGEGATE_HEALTHZ_TIMEOUT', path: 'healthzTimeout', help: 'time for kubelet to become healthy before rollback' },
];
