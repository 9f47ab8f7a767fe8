/**
 * The agent path: the image service (a real process, as the DaemonSet runs
 * it) serves the plugin's requests on a Unix socket from one token cache;
 * the plugin (the real executable) mints itself when the agent is gone.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import YAML from 'yaml';
import { join } from 'node:path';
import { AwsStandIn } from '../../testing/aws';
import { AgentProcess } from '../../testing/credential-provider/agent-process';
import { checkResponse, V1 } from './support/kubelet-api';
import { execAsKubelet, pluginExecutable, type ProviderEntry } from '../../testing/credential-provider/plugin';

const hosts = Array.from({ length: 10 }, (_, i) => `1000000000${String(i).padStart(2, '0')}.dkr.ecr.eu-west-1.amazonaws.com`);
const config = {
  credentials: { rules: [{ name: 'ecr', match: { registry: '*.dkr.ecr.*.amazonaws.com' }, provider: 'ecr' }] },
  credentialProvider: { serviceAccount: { fallback: 'node' } },
};

describe('credential-provider agent: the image service answers for the plugin', function () {
  this.timeout(300_000);
  let aws: AwsStandIn;
  let dir: string;
  let agent: AgentProcess | undefined;

  before(async () => {
    await pluginExecutable();
    aws = await AwsStandIn.start();
  });
  after(() => aws?.close());
  beforeEach(() => {
    aws.reset();
    dir = mkdtempSync(join(tmpdir(), 'imagegate-agent-'));
  });
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * The provider entry: the same rules as the agent in its YAML, the agent socket in args, AWS through env for
   * direct minting. The YAML is written once per test: rewriting it while concurrent plugin processes read it
   * would hand some of them a truncated file.
   */
  const entry = (socket: string): ProviderEntry => {
    const file = join(dir, 'plugin.yaml');
    if (!existsSync(file)) writeFileSync(file, YAML.stringify(config));
    return {
    name: 'imagegate-credential-provider', matchImages: ['*.dkr.ecr.*.amazonaws.com'], defaultCacheDuration: '10m', apiVersion: V1,
    args: ['--config', file, '--agent-socket', socket],
    env: [
      ...Object.entries(aws.env('eu-west-1')).map(([name, value]) => ({ name, value })),
    ],
    };
  };
  const request = (i: number) => ({ apiVersion: V1, kind: 'CredentialProviderRequest', image: `${hosts[i % hosts.length]}/app/n${i}:1` });

  it('200 concurrent plugin processes for 10 keys → exactly 10 AWS calls', async () => {
    agent = await AgentProcess.start(dir, config, aws.env('eu-west-1'));
    const runs = await Promise.all(Array.from({ length: 200 }, (_, i) => execAsKubelet(entry(agent!.agentSocket), request(i))));
    runs.forEach((run, i) => {
      assert.equal(run.code, 0, `run ${i}: ${run.stderr}`);
      assert.equal(run.stderr, '');
      const res = checkResponse(run.stdout, request(i));
      assert.deepEqual(res.auth, { [hosts[i % 10]]: { username: 'AWS', password: aws.ecrPassword } });
      assert.equal(res.cacheKeyType, 'Registry');
    });
    assert.equal(aws.calls('ecr:GetAuthorizationToken'), 10);
    assert.deepEqual(new Set(aws.requests.map((r) => r.region)), new Set(['eu-west-1']));
  });

  it('agent stopped mid-run → the plugin mints directly and every request is answered', async () => {
    agent = await AgentProcess.start(dir, config, aws.env('eu-west-1'));
    const results: { code: number | null; stdout: string; stderr: string; afterStop: boolean }[] = [];
    let stopped = false;
    let next = 0;
    const worker = async () => {
      while (next < 60) {
        const i = next++;
        if (i === 20) {
          await agent!.stop();
          stopped = true;
        }
        const run = await execAsKubelet(entry(agent!.agentSocket), request(i));
        results[i] = { ...run, afterStop: stopped };
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    results.forEach((run, i) => {
      assert.equal(run.code, 0, `run ${i}: ${run.stderr}`);
      assert.deepEqual(checkResponse(run.stdout, request(i)).auth[hosts[i % 10]], { username: 'AWS', password: aws.ecrPassword }, `run ${i} (after stop: ${run.afterStop}): ${run.stdout} ${run.stderr}`);
    });
    assert.ok(results.filter((r) => r.afterStop).length >= 39);
    const calls = aws.calls('ecr:GetAuthorizationToken');
    assert.ok(calls > 10, `direct mints after the stop add AWS calls (${calls})`);
  });

  it('a failure the agent reports is final: one line, exit 1, no second mint', async () => {
    agent = await AgentProcess.start(dir, config, aws.env('eu-west-1'));
    aws.failNext('AccessDeniedException', 1, 'ecr:GetAuthorizationToken');
    const run = await execAsKubelet(entry(agent.agentSocket), request(0));
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.match(run.stderr, /^imagegate credential-provider: ecr: GetAuthorizationToken for 100000000000\.dkr\.ecr\.eu-west-1\.amazonaws\.com as the node identity failed: AccessDeniedException: .*\n$/);
    assert.equal(aws.calls('ecr:GetAuthorizationToken'), 1);
  });

  it('bad input is refused by the plugin before the agent is asked', async () => {
    agent = await AgentProcess.start(dir, config, aws.env('eu-west-1'));
    const run = await execAsKubelet(entry(agent.agentSocket), '{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest","image":""}');
    assert.equal(run.code, 1);
    assert.equal(run.stderr, 'imagegate credential-provider: image: missing or empty\n');
    assert.equal(aws.calls(), 0);
  });
});
