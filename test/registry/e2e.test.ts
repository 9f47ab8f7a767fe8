import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { buildPullCredentials, credentialsSchema } from '../../src/credentials';
import { DockerBackend } from '../../src/cri/docker/backend';
import { parseDockerHost } from '../../src/cri/docker/engine';
import type { RunningRegistry } from '../../src/registry/server';
import { AwsStandIn, standInCredentials } from '../../testing/aws';
import { TestImagegate } from '../support/cri-server';
import { requireUnixSocket, services } from '../../testing/services';
import { startTestFacade, testConfig } from './support/facade';
import { freePort } from '../../testing/ports';

const run = promisify(execFile);

const ROLE = 'arn:aws:iam::444455556666:role/team-a-pull';

describe('end to end: image service (sts-jwt) → registry facade (jwt) → upstream → Docker Engine', function () {
  this.timeout(120_000);
  let aws: AwsStandIn;
  let facade: RunningRegistry;
  let imagegate: TestImagegate;
  let image: string;
  const facadeLogs: string[] = [];

  before(async () => {
    await requireUnixSocket('Docker Engine', services.dockerSocket);
    aws = await AwsStandIn.start();
    // sts-jwt's default audience is https://<registry host>: the facade's own address, so pick the port first.
    const port = await freePort();
    facade = await startTestFacade(
      testConfig({
        listen: `127.0.0.1:${port}`,
        auth: {
          chain: [{ name: 'aws', jwt: { issuer: aws.issuer, jwksUrl: aws.jwksUrl, audience: `https://127.0.0.1:${port}`, algorithms: ['RS256', 'ES384'], profile: 'aws-sts' } }],
          rules: [{ claims: { account: '444455556666' }, repositories: ['token/**'] }],
        },
      }),
      facadeLogs,
    );
    image = `127.0.0.1:${port}/token/test/busybox:3`;
    await run('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
    const credentials = buildPullCredentials(
      credentialsSchema().parse({
        rules: [{ name: 'facade', match: { registry: `127.0.0.1:${port}` }, provider: 'sts-jwt', with: { roleArn: ROLE } }],
      }),
      { aws: { region: 'us-east-1', endpoints: { sts: aws.url, ecr: aws.url, ecrPublic: aws.url }, credentials: standInCredentials } },
    );
    const backend = new DockerBackend({ endpoint: parseDockerHost(`unix://${services.dockerSocket}`)!, pullProgressTimeoutMs: 60_000 });
    imagegate = await TestImagegate.start(backend, { credentials });
  });
  after(async () => {
    await run('docker', ['image', 'rm', '-f', image]).catch(() => undefined);
    await imagegate?.stop();
    await facade?.close(1000);
    await aws?.close();
  });

  it('pulls with the minted STS JWT accepted by the facade, and the image lands in Docker and runs', async () => {
    const res = await imagegate.call<{ imageRef: string }>('pullImage', { image: { image } });
    assert.match(res.imageRef, /^sha256:[0-9a-f]{64}$/);
    assert.equal(aws.calls('sts:GetWebIdentityToken'), 1);
    const { stdout } = await run('docker', ['image', 'inspect', '--format', '{{.Id}}', image]);
    assert.equal(stdout.trim(), res.imageRef);
    const said = await run('docker', ['run', '--rm', image, 'echo', 'end-to-end']);
    assert.equal(said.stdout.trim(), 'end-to-end');
    assert.ok(!facadeLogs.some((l) => /eyJ[A-Za-z0-9_-]{20,}\./.test(l)), 'no JWT in the facade logs');
  });

  it('is refused for a repository the role’s account may not pull', async () => {
    const other = image.replace('/token/', '/basic/');
    await assert.rejects(imagegate.call('pullImage', { image: { image: other } }));
  });
});
