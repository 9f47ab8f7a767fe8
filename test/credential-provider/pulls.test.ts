/**
 * Real pulls with the plugin's answer, fed to clients the way kubelet feeds
 * them: Docker Engine (X-Registry-Auth), containerd's CRI PullImage
 * (AuthConfig), and the registry facade's jwt authenticator. Each pull
 * succeeds only with the minted credentials.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import Docker from 'dockerode';
import YAML from 'yaml';
import type { RunningRegistry } from '../../src/registry/server';
import { AwsStandIn } from '../../testing/aws';
import { startTestFacade, testConfig } from '../registry/support/facade';
import { CriTestClient } from '../support/containerd';
import { requireTcp, requireUnixSocket, services, testImages } from '../../testing/services';
import { ClusterIssuer } from './support/cluster-issuer';
import { checkResponse, V1 } from './support/kubelet-api';
import { execAsKubelet, pluginExecutable } from '../../testing/credential-provider/plugin';
import { freePort } from '../../testing/ports';

const ROLE = 'arn:aws:iam::444455556666:role/team-a-pull';


/** Pulls through Docker Engine with `auth` as X-Registry-Auth; rejects with the engine's error. */
async function dockerPull(docker: Docker, image: string, auth?: { username: string; password: string; serveraddress: string }): Promise<void> {
  const stream = await docker.pull(image, auth ? { authconfig: auth } : {});
  await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve())));
}

describe('credential-provider: real pulls with the minted answer', function () {
  this.timeout(180_000);
  let aws: AwsStandIn;
  let issuer: ClusterIssuer;
  let dir: string;
  let docker: Docker;

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    await requireUnixSocket('containerd (CRI)', services.containerdSocket);
    await requireTcp('ECR-like registry (.ci/services/30-ecr-registry.sh)', services.registryEcr);
    await pluginExecutable();
    aws = await AwsStandIn.start();
    issuer = await ClusterIssuer.start();
    aws.trustOidcProvider({ issuer: issuer.issuer, jwksUrl: issuer.jwksUrl });
    dir = mkdtempSync(join(tmpdir(), 'imagegate-credprov-pulls-'));
    docker = new Docker({ socketPath: services.dockerSocket });
  });
  after(async () => {
    await aws?.close();
    await issuer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the plugin for `image` with `rules`, as the pod's service account with the role annotation; returns its auth. */
  async function answer(rules: unknown[], image: string): Promise<{ key: string; username: string; password: string }> {
    const file = join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, YAML.stringify({ credentials: { rules } }));
    const req = {
      apiVersion: V1, kind: 'CredentialProviderRequest', image,
      serviceAccountToken: await issuer.token({ namespace: 'team-a', name: 'web' }),
      serviceAccountAnnotations: { 'eks.amazonaws.com/ecr-role-arn': ROLE },
    };
    const run = await execAsKubelet(
      { name: 'imagegate-credential-provider', matchImages: ['127.0.0.1:*'], defaultCacheDuration: '1m', apiVersion: V1, args: ['--config', file, '--agent-socket', ''], env: Object.entries(aws.env('us-east-1')).map(([name, value]) => ({ name, value })) },
      req,
    );
    assert.equal(run.code, 0, run.stderr);
    const [[key, auth]] = Object.entries(checkResponse(run.stdout, req).auth);
    return { key, ...auth };
  }

  const ecrRules = [{ name: 'ecr-mirror', match: { registry: services.registryEcr }, provider: 'ecr', with: { registry: '111122223333.dkr.ecr.us-east-1.amazonaws.com' } }];
  const ecrImage = `${services.registryEcr}/${testImages.busybox}`;

  it('Docker Engine pulls from the ECR-like registry with the plugin\'s auth, and only with it', async () => {
    await docker.getImage(ecrImage).remove({ force: true }).catch(() => undefined);
    await assert.rejects(dockerPull(docker, ecrImage), /no basic auth credentials|unauthorized|401/i);
    const auth = await answer(ecrRules, ecrImage);
    assert.equal(auth.key, services.registryEcr);
    await dockerPull(docker, ecrImage, { username: auth.username, password: auth.password, serveraddress: auth.key });
    assert.ok((await docker.getImage(ecrImage).inspect()).Id.startsWith('sha256:'));
    assert.deepEqual(aws.requests.slice(-2).map((r) => [r.action, r.principal]), [['sts:AssumeRoleWithWebIdentity', ROLE], ['ecr:GetAuthorizationToken', ROLE]]);
    await docker.getImage(ecrImage).remove({ force: true }).catch(() => undefined);
  });

  it('containerd\'s CRI PullImage pulls with the plugin\'s auth, and only with it', async () => {
    const cri = new CriTestClient(`unix://${services.containerdSocket}`);
    try {
      await cri.call('removeImage', { image: { image: ecrImage } });
      const refused = await cri.call('pullImage', { image: { image: ecrImage } }).catch((e: grpc.ServiceError) => e);
      assert.match((refused as grpc.ServiceError).details, /401 Unauthorized/);
      const auth = await answer(ecrRules, ecrImage);
      const { imageRef } = await cri.call('pullImage', { image: { image: ecrImage }, auth: { username: auth.username, password: auth.password } });
      assert.equal((await cri.call('imageStatus', { image: { image: ecrImage } })).image?.id, imageRef);
      await cri.call('removeImage', { image: { image: ecrImage } });
    } finally {
      cri.close();
    }
  });

  it('the registry facade\'s jwt authenticator accepts the STS JWT minted as the pod\'s role', async () => {
    const port = await freePort();
    let facade: RunningRegistry | undefined;
    const image = `127.0.0.1:${port}/token/test/busybox:3`;
    try {
      facade = await startTestFacade(testConfig({
        listen: `127.0.0.1:${port}`,
        auth: {
          chain: [{ name: 'aws', jwt: { issuer: aws.issuer, jwksUrl: aws.jwksUrl, audience: `https://127.0.0.1:${port}`, algorithms: ['RS256', 'ES384'], profile: 'aws-sts' } }],
          rules: [{ claims: { account: '444455556666' }, repositories: ['token/**'] }],
        },
      }));
      await docker.getImage(image).remove({ force: true }).catch(() => undefined);
      await assert.rejects(dockerPull(docker, image), /unauthorized|401|no basic auth|access denied/i);
      const auth = await answer([{ name: 'facade', match: { registry: `127.0.0.1:${port}` }, provider: 'sts-jwt' }], image);
      assert.equal(auth.username, 'sts-jwt');
      await dockerPull(docker, image, { username: auth.username, password: auth.password, serveraddress: auth.key });
      assert.ok((await docker.getImage(image).inspect()).Id.startsWith('sha256:'));
      await assert.rejects(dockerPull(docker, image.replace('/token/', '/basic/'), { username: auth.username, password: auth.password, serveraddress: auth.key }), 'the role\'s account may not pull basic/**');
    } finally {
      await docker.getImage(image).remove({ force: true }).catch(() => undefined);
      await facade?.close(1000);
    }
  });
});
