/**
 * `npm run bench:credential-provider`: wall time per exec of the kubelet
 * credential provider plugin (the self-contained executable), from spawn to
 * a parsed response, as kubelet runs it: one fresh process per request.
 *
 *   - with the agent: `imagegate image-service` (a real process, as the
 *     DaemonSet runs it) serves the requests from its warm token cache;
 *   - without it: the socket is absent, so every exec mints from AWS itself;
 *   - bare start: the same executable's empty run (`version`), and `node -e 0`.
 *
 * 200 sequential execs each over 10 keys (ECR hosts), interleaved in blocks of
 * 20 so drift on a shared machine hits every target alike. AWS is the
 * stand-in on loopback. Target: with the agent, p50 ≤ 2× the bare start;
 * AWS calls with the agent = keys.
 *
 * Environment: BENCH_CREDPROV_EXECS (default 200).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import YAML from 'yaml';
import { AwsStandIn } from '../testing/aws';
import { AgentProcess } from '../testing/credential-provider/agent-process';
import { pluginExecutable } from '../testing/credential-provider/plugin';

const EXECS = Number(process.env.BENCH_CREDPROV_EXECS ?? 200);
const KEYS = 10;
const BLOCK = 20;
const hosts = Array.from({ length: KEYS }, (_, i) => `${String(100000000000 + i)}.dkr.ecr.eu-west-1.amazonaws.com`);
const config = {
  credentials: { rules: [{ name: 'ecr', match: { registry: '*.dkr.ecr.*.amazonaws.com' }, provider: 'ecr' }] },
  credentialProvider: { serviceAccount: { fallback: 'node' } },
};

/** Spawns `cmd args`, writes `stdin`, resolves with the wall time once the output is parsed (or the exit, with no stdin). */
function exec(cmd: string, args: string[], env: NodeJS.ProcessEnv, stdin?: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${cmd} exited ${code}: ${err}`));
      if (stdin !== undefined) {
        const res = JSON.parse(out) as { auth: Record<string, { password: string }> };
        if (Object.keys(res.auth).length !== 1) return reject(new Error(`unexpected answer ${out}`));
      }
      resolve(performance.now() - started);
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const executable = await pluginExecutable();
  const aws = await AwsStandIn.start();
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-bench-credprov-'));
  const file = join(dir, 'plugin.yaml');
  writeFileSync(file, YAML.stringify(config));
  const env = { PATH: '/usr/bin:/bin', ...aws.env('eu-west-1') };
  const request = (i: number) => JSON.stringify({ apiVersion: 'credentialprovider.kubelet.k8s.io/v1', kind: 'CredentialProviderRequest', image: `${hosts[i % KEYS]}/app:${i}` });
  const agent = await AgentProcess.start(dir, config, aws.env('eu-west-1'));
  const absent = join(dir, 'absent.sock');
  const load = loadavg()[0].toFixed(1);
  const times: Record<string, number[]> = { agent: [], direct: [], bare: [], node: [] };
  const calls: Record<string, number> = { agent: 0, direct: 0 };
  try {
    for (let done = 0; done < EXECS; done += BLOCK) {
      for (let i = done; i < done + BLOCK; i++) {
        const before = aws.calls();
        times.agent.push(await exec(executable, ['--config', file, '--agent-socket', agent.agentSocket], env, request(i)));
        calls.agent += aws.calls() - before;
      }
      for (let i = done; i < done + BLOCK; i++) {
        const before = aws.calls();
        times.direct.push(await exec(executable, ['--config', file, '--agent-socket', absent], env, request(i)));
        calls.direct += aws.calls() - before;
      }
      for (let i = done; i < done + BLOCK; i++) times.bare.push(await exec(executable, ['version'], env));
      for (let i = done; i < done + BLOCK; i++) times.node.push(await exec(process.execPath, ['-e', '0'], env));
    }
  } finally {
    await agent.stop();
    await aws.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const bareP50 = pct(times.bare, 50);
  const row = (name: string, key: string, aws?: number) =>
    `| ${name} | ${pct(times[key], 50).toFixed(1)} | ${pct(times[key], 99).toFixed(1)} | ${(pct(times[key], 50) / bareP50).toFixed(2)}× | ${aws ?? '–'} |`;
  process.stdout.write([
    `bench:credential-provider — ${EXECS} sequential execs per target over ${KEYS} keys, ${cpus().length} cores, load average ${load} at the start`,
    '',
    '| exec (spawn → parsed response) | p50 ms | p99 ms | p50 / bare start | AWS calls |',
    '|---|---|---|---|---|',
    row('plugin, agent running (image service, warm cache)', 'agent', calls.agent),
    row('plugin, no agent (mints itself every exec)', 'direct', calls.direct),
    row('bare start of the same executable (`version`)', 'bare'),
    row('`node -e 0` (for scale)', 'node'),
    '',
    `target: with the agent p50 ≤ 2× bare start → ${(pct(times.agent, 50) / bareP50).toFixed(2)}× (${pct(times.agent, 50) / bareP50 <= 2 ? 'met' : 'MISSED'}); AWS calls with the agent = keys → ${calls.agent} = ${KEYS} (${calls.agent === KEYS ? 'met' : 'MISSED'})`,
    '',
  ].join('\n'));
}

main().catch((err: Error) => {
  process.stderr.write(`bench:credential-provider: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
