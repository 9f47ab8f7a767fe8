import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { credentialsSchema } from '../../src/credentials';
import { silentLogger } from '../../src/log/logger';
import { createAuthChain } from '../../src/registry/auth/chain';
import { registrySchema } from '../../src/registry/config';
import { codeBlocks, readDoc } from '../support/docs';

describe('docs/multi-cloud.md "Across clouds": the worked examples are valid configuration', () => {
  const blocks = codeBlocks(readDoc('docs/multi-cloud.md'))
    .filter((b) => b.lang === 'yaml')
    .map((b) => parse(b.body) as Record<string, Record<string, unknown>>);

  it('has the node and facade configurations of the three paths', () => {
    assert.equal(blocks.filter((b) => b.credentials).length, 3);
    assert.equal(blocks.filter((b) => b.registry).length, 2);
  });

  it('every credentials section validates', () => {
    const providers = blocks.filter((b) => b.credentials).map((b) => credentialsSchema().parse(b.credentials).rules.map((r) => r.provider));
    assert.deepEqual(providers, [['gcp-id-token'], ['aws-iam'], ['gcp-access-token']]);
  });

  it('every registry section validates, authenticator chain included', async () => {
    for (const b of blocks.filter((x) => x.registry)) {
      const config = registrySchema.parse(b.registry);
      const chain = await createAuthChain(config.auth.chain, { logger: silentLogger, baseDir: '.', configPath: 'registry.auth.chain' });
      assert.equal(chain.names.length, 1);
      await chain.close();
    }
  });
});
