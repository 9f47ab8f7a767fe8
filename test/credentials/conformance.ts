/**
 * The suite every CredentialProvider must pass (the contract in
 * src/credentials/credential-provider.ts), whatever it reads or mints:
 * built by name from the factory registry with parameters its schema accepts,
 * credentials for the image's registry with every secret field a Secret that
 * prints `***`, concurrent resolutions answered alike with at most one mint,
 * resolutions after warm-up served without another call, a failure rejected
 * with a CredentialError or ConfigError that names no secret, and `close()`.
 */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { ConfigError } from '../../src/config/errors';
import type { CredentialServices } from '../../src/credentials';
import type { CredentialProvider, ProviderDeps } from '../../src/credentials/credential-provider';
import { CredentialError } from '../../src/credentials/errors';
import { builtinProviderFactories } from '../../src/credentials/providers';
import type { PullTarget } from '../../src/credentials/pull-credentials';
import type { RegistryAuth } from '../../src/credentials/registry-auth';
import { silentLogger } from '../../src/log/logger';
import { Secret } from '../../src/log/secret';

/** One built-in provider under test, with the stand-in it talks to. */
export interface ProviderSubject {
  /** The registered name (`ecr`, `static`…). */
  name: string;
  /** A rule's `with:` for it, as a user writes it. */
  params: Record<string, unknown>;
  /** Credential services wired to the stand-ins, fresh for each test (closed after it). */
  services(): CredentialServices;
  /** A pull it has credentials for. */
  target: PullTarget;
  /** What kubelet sent with the pull, for providers that use it. */
  kubeletAuth?: RegistryAuth;
  /** Calls made to the token source so far (mints); absent for providers that mint nothing. */
  mints?(): number;
  /** Makes its source fail from now on (AWS refusing, the metadata server down, the file gone); absent when it cannot fail that way. */
  breakSource?(): void | Promise<void>;
  /** Text that must never reach an error message (the stand-in's secrets). */
  secrets: string[];
}

const SECRET_FIELDS = ['password', 'identityToken', 'registryToken'] as const;

function create(subject: ProviderSubject, services: CredentialServices): CredentialProvider {
  const setting = `credentials.rules[0].with`;
  const deps: ProviderDeps = { clients: services.clients, jwts: services.jwts, ecr: services.ecr, google: services.google, awsIam: services.awsIam, logger: silentLogger, setting };
  return builtinProviderFactories.create(subject.name, subject.params, deps, setting);
}

/** Registers the shared suite for one provider. */
export function describeProviderConformance(subject: ProviderSubject): void {
  describe(`CredentialProvider conformance: ${subject.name}`, function () {
    this.timeout(30_000);
    let services: CredentialServices;
    let provider: CredentialProvider;
    let closed: boolean;
    beforeEach(() => {
      services = subject.services();
      provider = create(subject, services);
      closed = false;
    });
    afterEach(async () => {
      if (!closed) await provider.close();
      services.close();
    });

    it('is registered under its name, and the provider it builds says so', () => {
      assert.ok(builtinProviderFactories.has(subject.name));
      assert.equal(provider.name, subject.name);
    });

    it('answers credentials for the image’s registry, every secret a Secret that prints ***', async () => {
      const auth = await provider.resolve(subject.target, subject.kubeletAuth);
      assert.ok(auth, 'it had credentials for the target');
      assert.equal(auth.serverAddress ?? subject.target.registry, subject.target.registry);
      const present = SECRET_FIELDS.filter((f) => auth[f] !== undefined);
      assert.ok(present.length > 0, 'at least one secret field');
      for (const field of present) {
        const value: Secret = auth[field]!;
        assert.ok(value instanceof Secret, `${field} is a Secret`);
        assert.ok(value.reveal().length > 0);
        assert.equal(String(value), '***');
        assert.ok(!JSON.stringify(auth).includes(value.reveal()), `${field} leaks through JSON`);
        assert.ok(!inspect(auth, { depth: 5 }).includes(value.reveal()), `${field} leaks through inspect`);
      }
    });

    it('answers 20 concurrent resolutions alike, with at most one mint', async () => {
      const answers = await Promise.all(Array.from({ length: 20 }, () => provider.resolve(subject.target, subject.kubeletAuth)));
      const secrets = new Set(answers.map((a) => SECRET_FIELDS.map((f) => a?.[f]?.reveal() ?? '').join('|')));
      assert.equal(secrets.size, 1, 'every caller got the same credentials');
      if (subject.mints) assert.ok(subject.mints() <= 1, `${subject.mints()} mints`);
    });

    it('serves resolutions after warm-up without another call', async () => {
      await provider.resolve(subject.target, subject.kubeletAuth);
      const before = subject.mints?.() ?? 0;
      for (let i = 0; i < 5; i++) await provider.resolve(subject.target, subject.kubeletAuth);
      assert.equal(subject.mints?.() ?? 0, before);
    });

    if (subject.breakSource) {
      it('rejects with a CredentialError or ConfigError naming the cause, never a secret, when its source fails', async () => {
        await subject.breakSource!();
        await assert.rejects(provider.resolve(subject.target, subject.kubeletAuth), (err: unknown) => {
          assert.ok(err instanceof CredentialError || err instanceof ConfigError, `got ${inspect(err)}`);
          assert.ok(err.message.length > 0);
          for (const secret of subject.secrets) assert.ok(!err.message.includes(secret), 'the message names no secret');
          return true;
        });
      });
    }

    it('closes once at shutdown, resolving', async () => {
      await provider.resolve(subject.target, subject.kubeletAuth);
      closed = true;
      assert.equal(await provider.close(), undefined);
    });
  });
}
