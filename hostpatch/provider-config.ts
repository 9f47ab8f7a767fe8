import YAML from 'yaml';
import { RefusalError } from './errors';

/** kubelet's CredentialProviderConfig (kubelet.config.k8s.io/v1), the fields the installer reads and writes. */
export interface ProviderEntry {
  name: string;
  matchImages: string[];
  defaultCacheDuration: string;
  apiVersion: string;
  args?: string[];
  env?: { name: string; value: string }[];
  tokenAttributes?: {
    serviceAccountTokenAudience: string;
    requireServiceAccount: boolean;
    requiredServiceAccountAnnotationKeys?: string[];
    optionalServiceAccountAnnotationKeys?: string[];
    cacheType: 'ServiceAccount' | 'Token';
  };
}

/**
 * The node's credential provider config with imagegate's entry added (and
 * the entries named in `drop` removed), in the original's format (JSON stays
 * JSON, with its indentation; YAML stays YAML). No original → a new config
 * with the one entry. The original file itself is never written.
 */
export function mergedProviderConfig(original: string | undefined, format: 'json' | 'yaml', entry: ProviderEntry, drop: string[] = []): string {
  let doc: { apiVersion?: string; kind?: string; providers?: ProviderEntry[] } = { apiVersion: 'kubelet.config.k8s.io/v1', kind: 'CredentialProviderConfig', providers: [] };
  if (original !== undefined && original.trim() !== '') {
    try {
      doc = YAML.parse(original) as typeof doc;
    } catch (err) {
      throw new RefusalError(`kubelet's credential provider config is not valid ${format.toUpperCase()} (${(err as Error).message.split('\n')[0]}); refusing, nothing was changed`);
    }
    if (typeof doc !== 'object' || doc === null || doc.kind !== 'CredentialProviderConfig' || !Array.isArray(doc.providers ?? [])) {
      throw new RefusalError('kubelet\'s credential provider config is not a CredentialProviderConfig; refusing, nothing was changed');
    }
  }
  const providers = (doc.providers ?? []).filter((p) => p.name !== entry.name && !drop.includes(p.name));
  const merged = { ...doc, providers: [...providers, entry] };
  if (format === 'yaml') return YAML.stringify(merged);
  const indent = /^\{\s*\n(\s+)"/.exec(original ?? '')?.[1] ?? '  ';
  return JSON.stringify(merged, null, indent) + '\n';
}

/** The value of `--flag=value` or `--flag value` found in kubelet's command line and the texts its variables come from (the last one found wins; variables are not expanded in place). */
export function flagValue(texts: string[], flag: string): string | undefined {
  let value: string | undefined;
  const re = new RegExp(`(?:^|[\\s"'])--${flag.replace(/-/g, '\\-')}(?:=|\\s+)([^\\s"']+)`, 'g');
  for (const text of texts) for (const m of text.matchAll(re)) value = m[1];
  return value;
}
