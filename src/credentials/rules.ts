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

/** True when `pattern` holds glob characters. */
export function hasGlob(pattern: string): boolean {
  return /[*?]/.test(pattern);
}

/** A registry host glob as a case-insensitive RegExp: `*` is any run of characters but `/`, `?` one. */
export function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`, 'i');
}

/** A compiled matcher for one rule. */
export function compileMatch(match: RuleMatch): (target: PullTarget) => boolean {
  const host = globToRegExp(match.registry);
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
