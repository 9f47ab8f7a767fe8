import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createCredentialServices } from '../../src/credentials';
import { AwsStandIn, standInCredentials } from '../../testing/aws';

describe('credential metrics', () => {
  it('counts mints, hits, misses, AWS errors by code and requests held back after a failure, and exposes seconds until expiry per key', async () => {
    const aws = await AwsStandIn.start();
    const registry = new Registry();
    const creds = createCredentialServices({
      aws: { region: 'eu-west-1', endpoints: { sts: aws.url, ecr: aws.url }, credentials: standInCredentials, maxAttempts: 1 },
      metrics: registry,
    });
    try {
      await creds.jwts.get({ audiences: ['a'] });
      await creds.jwts.get({ audiences: ['a'] });
      aws.failNext('ServerException');
      await assert.rejects(creds.ecr.get('111122223333.dkr.ecr.eu-west-1.amazonaws.com'));
      await assert.rejects(creds.ecr.get('111122223333.dkr.ecr.eu-west-1.amazonaws.com'), /ServerException/, 'held back: the failure again, no AWS call');
      assert.equal(aws.calls('ecr:GetAuthorizationToken'), 1);
      await creds.cache.retryNow(() => creds.ecr.get('111122223333.dkr.ecr.eu-west-1.amazonaws.com'));
      const text = await registry.metrics();
      assert.match(text, /imagegate_credentials_tokens_minted_total\{provider="sts-jwt"\} 1/);
      assert.match(text, /imagegate_credentials_tokens_minted_total\{provider="ecr"\} 1/);
      assert.match(text, /imagegate_credentials_cache_hits_total\{provider="sts-jwt"\} 1/);
      assert.match(text, /imagegate_credentials_cache_misses_total\{provider="ecr"\} 3/);
      assert.match(text, /imagegate_credentials_backoff_held_total\{provider="ecr"\} 1/);
      assert.match(text, /imagegate_credentials_aws_errors_total\{provider="ecr",code="ServerException"\} 1/);
      const expiry = /imagegate_credentials_token_expiry_seconds\{provider="ecr",key="ecr:111122223333\.dkr\.ecr\.eu-west-1\.amazonaws\.com\|"\} (\d+)/.exec(text);
      assert.ok(expiry && Number(expiry[1]) > 43_000, text);
      assert.match(text, /imagegate_credentials_token_expiry_seconds\{provider="sts-jwt",key="sts-jwt:eu-west-1\|\|RS256\|300\|a\|"\} (29\d|300)/);
      assert.ok(!text.includes(aws.ecrPassword));
    } finally {
      creds.close();
      await aws.close();
    }
  });
});
