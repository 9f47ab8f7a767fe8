import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCredentialServices } from '../../src/credentials';
import { builtinProviderFactories } from '../../src/credentials/providers';
import { Secret } from '../../src/log/secret';
import { AwsStandIn, STANDIN_ECR_PASSWORD, STANDIN_SECRET_ACCESS_KEY } from '../../testing/aws';
import { STANDIN_GCP_ACCESS_TOKEN, useMetadataStandIn } from '../gcp';
import { describeProviderConformance, type ProviderSubject } from './conformance';
import { standInServices } from './stand-in-services';

const ECR_HOST = '111122223333.dkr.ecr.eu-west-1.amazonaws.com';
const target = (registry: string) => ({ image: `${registry}/team/app:1`, registry, repository: 'team/app', labels: {} });

/** Every built-in provider against the shared CredentialProvider suite (stand-ins: AWS, GCE metadata, a config.json file). */
describe('credential providers: every built-in passes the shared suite', () => {
  const described = new Set<string>();
  const subject = (s: ProviderSubject) => {
    described.add(s.name);
    describeProviderConformance(s);
  };

  describe('AWS-backed', () => {
    let aws: AwsStandIn;
    before(async () => {
      aws = await AwsStandIn.start();
    });
    after(() => aws.close());
    beforeEach(() => aws.reset());
    const secrets = [STANDIN_SECRET_ACCESS_KEY, STANDIN_ECR_PASSWORD];

    subject({
      name: 'ecr', params: {}, target: target(ECR_HOST), secrets,
      services: () => standInServices(aws),
      mints: () => aws.calls('ecr:GetAuthorizationToken'),
      breakSource: () => aws.failRate(1, 'AccessDeniedException'),
    });
    subject({
      name: 'sts-jwt', params: { audiences: ['https://registry.example.com'] }, target: target('registry.example.com'), secrets,
      services: () => standInServices(aws),
      mints: () => aws.calls('sts:GetWebIdentityToken'),
      breakSource: () => aws.failRate(1, 'AccessDenied'),
    });
    subject({
      name: 'aws-iam', params: { audience: 'https://registry.example.com', region: 'eu-west-1' }, target: target('registry.example.com'), secrets,
      services: () => standInServices(aws),
      // Presigned locally with the node's keys: no AWS call at all.
      mints: () => aws.calls(),
    });
  });

  describe('Google-backed', () => {
    const gce = useMetadataStandIn();
    const services = () => createCredentialServices({ cache: { backoffInitialMs: 50, backoffMaxMs: 200 } });
    subject({
      name: 'gcp-access-token', params: {}, target: target('europe-docker.pkg.dev'), secrets: [STANDIN_GCP_ACCESS_TOKEN], services,
      mints: () => gce.standIn.calls('instance/service-accounts/default/token'),
      breakSource: () => gce.standIn.stop(),
    });
    subject({
      name: 'gcp-id-token', params: { audience: 'https://registry.example.com' }, target: target('registry.example.com'), secrets: [], services,
      mints: () => gce.standIn.calls('instance/service-accounts/default/identity'),
      breakSource: () => gce.standIn.stop(),
    });
  });

  describe('local', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-provider-conformance-'));
    const file = join(dir, 'config.json');
    const password = 'static-conformance-pw';
    beforeEach(() => writeFileSync(file, JSON.stringify({ auths: { 'registry.example.com': { auth: Buffer.from(`robot:${password}`).toString('base64') } } })));
    after(() => rmSync(dir, { recursive: true, force: true }));

    subject({
      name: 'static', params: { file }, target: target('registry.example.com'), secrets: [password],
      services: () => createCredentialServices(),
      breakSource: () => rmSync(file),
    });
    subject({
      name: 'kubelet', params: {}, target: target('registry.example.com'), secrets: [],
      kubeletAuth: { username: 'kube', password: new Secret('kubelet-sent-pw'), serverAddress: 'registry.example.com' },
      services: () => createCredentialServices(),
    });
  });

  it('covers every registered provider', () => {
    assert.deepEqual([...described].sort(), builtinProviderFactories.names().sort());
  });
});
