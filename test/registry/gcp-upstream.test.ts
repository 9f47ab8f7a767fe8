import assert from 'node:assert/strict';
import { createCredentialServices } from '../../src/credentials';
import { createLogger } from '../../src/log/logger';
import { createRegistry } from '../../src/metrics/server';
import { registrySchema } from '../../src/registry/config';
import { startRegistry } from '../../src/registry/server';

const upstream = (auth: unknown) => ({ listen: '127.0.0.1:0', metricsListen: '', upstreams: [{ name: 'ar', url: 'https://europe-docker.pkg.dev', auth }] });

describe('registry upstream auth gcp: configuration', () => {
  it('accepts gcp: {} and gcp with scopes and a credentials file', () => {
    assert.deepEqual(registrySchema.parse(upstream({ gcp: {} })).upstreams[0].auth, { gcp: {} });
    const auth = registrySchema.parse(upstream({ gcp: { scopes: ['https://www.googleapis.com/auth/cloud-platform'], credentialsFile: 'wif.json' } })).upstreams[0].auth;
    assert.equal(auth.gcp?.credentialsFile, 'wif.json');
  });

  it('refuses bad values with the path of the setting', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ gcp: { scopes: ['cloud-platform'] } }, 'upstreams.0.auth.gcp.scopes.0', /a scope is a URL/],
      [{ gcp: { keyFile: 'x' } }, 'upstreams.0.auth.gcp', /keyFile/],
      [{ gcp: {}, ecr: {} }, 'upstreams.0.auth', /give exactly one of anonymous, basic, static, ecr, gcp/],
    ];
    for (const [auth, path, message] of cases) {
      const r = registrySchema.safeParse(upstream(auth));
      assert.ok(!r.success, JSON.stringify(auth));
      const issue = r.error.issues[0];
      assert.equal(issue.path.join('.'), path, JSON.stringify(r.error.issues));
      assert.match(issue.message + JSON.stringify(issue), message);
    }
  });

  it('stops start-up naming the credentials file it cannot read', async () => {
    const config = registrySchema.parse(upstream({ gcp: { credentialsFile: 'no-such-file.json' } }));
    const credentials = createCredentialServices();
    try {
      await assert.rejects(startRegistry(config, { logger: createLogger({ sink: [] }), metricsRegistry: createRegistry(), baseDir: '/nonexistent', credentials }), {
        name: 'ConfigError',
        setting: 'registry.upstreams[0].auth.gcp.credentialsFile',
      });
    } finally {
      credentials.close();
    }
  });
});
