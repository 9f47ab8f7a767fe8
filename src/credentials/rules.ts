import { compileGlob } from '../lib/glob';
import type { PullTarget } from './pull-credentials';

/** The match part of a rule, validated. */
export interface RuleMatch {
  registry: string;
  repository: string;
  namespace?: string | string[];
  labels: Record<string, string>;
  serviceAccount?: string | string[];
  annotations?: Record<string, string>;
}

/**
 * A compiled matcher for one rule. `registry` is a glob in imagegate's one
 * dialect (lib/glob.ts), case-insensitive, with the whole host (and port) as
 * one segment: `*` is any run of characters, dots included
 * (`*.dkr.ecr.*.amazonaws.com`), `?` one character.
 */
export function compileMatch(match: RuleMatch): (target: PullTarget) => boolean {
  const host = compileGlob(match.registry, { ignoreCase: true });
  const prefix = match.repository.replace(/\/+$/, '');
  const namespaces = match.namespace === undefined ? undefined : new Set([match.namespace].flat());
  const labels = Object.entries(match.labels);
  const accounts = match.serviceAccount === undefined ? undefined : new Set([match.serviceAccount].flat());
  const annotations = Object.entries(match.annotations ?? {});
  return (target) =>
    host.test(target.registry) &&
    (prefix === '' || target.repository === prefix || target.repository.startsWith(prefix + '/')) &&
    (!namespaces || (target.namespace !== undefined && namespaces.has(target.namespace))) &&
    labels.every(([k, v]) => target.labels[k] === v) &&
    (!accounts || (target.serviceAccount !== undefined && accounts.has(target.serviceAccount))) &&
    annotations.every(([k, v]) => target.serviceAccountAnnotations?.[k] === v);
}
