import type { Logger } from '../log/logger';
import type { CredentialProvider } from './credential-provider';
import type { Precedence } from './config';
import type { PullCandidate, PullCredentials, PullPlan, PullTarget } from './pull-credentials';
import { isAnonymous, type RegistryAuth } from './registry-auth';
import { compileMatch, type RuleMatch } from './rules';

/** A rule ready to use: its matcher and its provider instance. */
export interface ActiveRule {
  name: string;
  match: RuleMatch;
  provider: CredentialProvider;
  precedence: Precedence;
}

/**
 * PullCredentials from ordered rules: the first rule whose registry glob,
 * repository prefix, namespace and labels match the pull names the provider;
 * no match → kubelet's credentials as sent. When kubelet also sent
 * credentials, the rule's precedence orders (or drops) the two. A provider
 * failure falls back to kubelet's credentials unless the rule says minted-only.
 */
export class RulePullCredentials implements PullCredentials {
  private readonly rules: (ActiveRule & { test: (t: PullTarget) => boolean })[];

  constructor(
    rules: ActiveRule[],
    private readonly logger: Logger,
    private readonly onClose: () => Promise<void> = async () => undefined,
  ) {
    this.rules = rules.map((r) => ({ ...r, test: compileMatch(r.match) }));
  }

  async plan(target: PullTarget, kubeletAuth: RegistryAuth | undefined): Promise<PullPlan> {
    const kubelet: PullCandidate = { auth: kubeletAuth, source: 'kubelet' };
    const rule = this.rules.find((r) => r.test(target));
    if (!rule) return { candidates: [kubelet] };
    const kubeletSent = !isAnonymous(kubeletAuth);
    if (kubeletSent && rule.precedence === 'kubelet-only') return { rule: rule.name, candidates: [kubelet] };
    let minted: RegistryAuth | undefined;
    try {
      minted = await rule.provider.resolve(target, kubeletAuth);
    } catch (err) {
      if (!kubeletSent || rule.precedence === 'minted-only') throw err;
      this.logger.warn('minting failed; using the credentials kubelet sent', { rule: rule.name, provider: rule.provider.name, image: target.image, error: (err as Error).message });
      return { rule: rule.name, candidates: [kubelet] };
    }
    if (!minted) return { rule: rule.name, candidates: [kubelet] };
    const mine: PullCandidate = { auth: minted, source: rule.provider.name };
    if (!kubeletSent || rule.precedence === 'minted-only' || mine.source === 'kubelet') return { rule: rule.name, candidates: [mine] };
    return { rule: rule.name, candidates: rule.precedence === 'kubelet-first' ? [kubelet, mine] : [mine, kubelet] };
  }

  async close(): Promise<void> {
    await Promise.all(this.rules.map((r) => r.provider.close()));
    await this.onClose();
  }
}
