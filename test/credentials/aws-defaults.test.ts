import assert from 'node:assert/strict';
import { createCredentialServices } from '../../src/credentials';
import { AwsStandIn } from '../../testing/aws';

/** Runs `fn` with `vars` set in process.env (undefined: removed), restoring the previous values after. */
async function withEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return await fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('AWS from the SDK default chain', () => {
  it('takes keys, region and endpoints from the environment (AWS_ENDPOINT_URL_STS / _ECR)', async () => {
    const aws = await AwsStandIn.start();
    try {
      await withEnv({ ...aws.env('ca-central-1'), AWS_PROFILE: undefined, AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null' }, async () => {
        const creds = createCredentialServices();
        try {
          await creds.jwts.get({ audiences: ['x'] });
          await creds.ecr.get('111122223333.dkr.ecr.eu-north-1.amazonaws.com');
        } finally {
          creds.close();
        }
      });
      assert.deepEqual(aws.requests.map((r) => [r.action, r.region, r.error]), [
        ['sts:GetWebIdentityToken', 'ca-central-1', undefined],
        ['ecr:GetAuthorizationToken', 'eu-north-1', undefined],
      ]);
    } finally {
      await aws.close();
    }
  });

  for (const region of ['us-east-1', 'eu-west-1', 'cn-north-1']) {
    it(`calls STS on its regional endpoint in ${region}, never the global one`, async () => {
      const creds = createCredentialServices({ aws: { region, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'x' } } });
      const client = creds.clients.sts();
      let host = '';
      client.middlewareStack.add(
        () => async (args) => {
          host = (args.request as { hostname: string }).hostname;
          throw new Error('stop before sending');
        },
        { step: 'build', name: 'captureHost' },
      );
      await assert.rejects(creds.jwts.get({ audiences: ['x'] }), /stop before sending/);
      creds.close();
      assert.equal(host, region.startsWith('cn-') ? `sts.${region}.amazonaws.com.cn` : `sts.${region}.amazonaws.com`);
    });
  }
});
