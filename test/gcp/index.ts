/**
 * The GCE metadata server stand-in (see metadata-stand-in.ts). google-auth-library
 * and gcp-metadata find it through GCE_METADATA_HOST, as on a real node they find
 * 169.254.169.254.
 *
 *   const gce = useMetadataStandIn();      // mocha hooks: start, point GCE_METADATA_HOST at it, reset, close
 *   it('…', () => gce.standIn.calls('instance/service-accounts/default/token'));
 */
import { MetadataStandIn, type MetadataStandInOptions } from '../../testing/gcp/metadata-stand-in';

export * from '../../testing/gcp/metadata-stand-in';
export * from './sts-stand-in';

/** Starts a stand-in for the suite, points GCE_METADATA_HOST at it (restored after), resets it before each test. */
export function useMetadataStandIn(options: MetadataStandInOptions = {}): { standIn: MetadataStandIn } {
  const env = {} as { standIn: MetadataStandIn };
  let saved: string | undefined;
  before(async () => {
    env.standIn = await MetadataStandIn.start(options);
    saved = process.env.GCE_METADATA_HOST;
    process.env.GCE_METADATA_HOST = env.standIn.host;
  });
  after(async () => {
    if (saved === undefined) delete process.env.GCE_METADATA_HOST;
    else process.env.GCE_METADATA_HOST = saved;
    await env.standIn?.close();
  });
  beforeEach(async () => {
    await env.standIn.restart();
    env.standIn.reset();
  });
  return env;
}

/** Mocha hooks: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION set to the AWS stand-in's static key for the suite (restored after), as an external-account client reads them. */
export function useAwsEnvironment(keys: { accessKeyId: string; secretAccessKey: string }, region = 'eu-west-1'): void {
  const names = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION', 'AWS_SESSION_TOKEN'] as const;
  const saved: Record<string, string | undefined> = {};
  before(() => {
    for (const n of names) saved[n] = process.env[n];
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: keys.accessKeyId, AWS_SECRET_ACCESS_KEY: keys.secretAccessKey, AWS_REGION: region });
    delete process.env.AWS_SESSION_TOKEN;
  });
  after(() => {
    for (const n of names) {
      if (saved[n] === undefined) delete process.env[n];
      else process.env[n] = saved[n];
    }
  });
}
