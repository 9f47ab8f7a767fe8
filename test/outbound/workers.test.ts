import assert from 'node:assert/strict';
import { AwsStandIn } from '../../testing/aws';
import { echoed, send, type Answer } from './support/fixture';
import { ProxyProcess } from './support/proxy-process';
import { JwtCheckingUpstream } from './support/upstream';

/** The JSON log lines of a proxy process (every line must be one: a non-JSON line fails the test). */
function jsonLines(proxy: ProxyProcess): Record<string, unknown>[] {
  return proxy.lines.filter((l) => l.trim() !== '' && !/NodeVersionSupportWarning|^\(Use `node/.test(l)).map((l) => {
    try {
      return JSON.parse(l) as Record<string, unknown>;
    } catch {
      throw new Error(`not a JSON log line: ${l}`);
    }
  });
}

/** The pids the primary reported in its `workers started` line. */
function workerPids(proxy: ProxyProcess): number[] {
  const started = jsonLines(proxy).find((l) => l.message === 'workers started');
  assert.ok(started, 'no "workers started" line');
  return started.pids as number[];
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** `n` requests, each on a connection of its own (so that round-robin spreads them over the workers), `parallel` at a time. */
async function many(port: number, n: number, parallel: number, options: Parameters<typeof send>[1] = {}): Promise<Answer[]> {
  const answers: Answer[] = [];
  for (let i = 0; i < n; i += parallel) {
    answers.push(...(await Promise.all(Array.from({ length: Math.min(parallel, n - i) }, () => send(port, options)))));
  }
  return answers;
}

async function metric(proxy: ProxyProcess, pattern: RegExp): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${proxy.metricsPort}/metrics`)).text();
  const m = pattern.exec(text);
  assert.ok(m, `no ${pattern} in /metrics:\n${text.slice(0, 3000)}`);
  return Number(m[1]);
}

describe('outbound: WORKERS > 1 (the real CLI as a process: node:cluster workers, one token cache in the primary)', function () {
  this.timeout(120_000);
  let aws: AwsStandIn;
  let upstream: JwtCheckingUpstream;
  const started: ProxyProcess[] = [];
  const start = async (env: Record<string, string>) => {
    const proxy = await ProxyProcess.start({ ...aws.env('eu-west-1'), UPSTREAM_SCHEME: 'http', ...env });
    started.push(proxy);
    return proxy;
  };

  before(async () => {
    aws = await AwsStandIn.start();
    upstream = await JwtCheckingUpstream.start({ jwksUrl: aws.jwksUrl, issuer: aws.issuer });
  });
  after(async () => {
    for (const p of started) await p.stop('SIGKILL');
    await upstream?.close();
    await aws?.close();
  });
  beforeEach(() => {
    aws.reset();
    upstream.reset();
  });

  it('pinned: 2 workers both serve, every request carries a valid JWT, STS is called once, logs stay JSON', async () => {
    upstream.audiences = ['http://127.0.0.1'];
    const proxy = await start({ UPSTREAM_HOST: upstream.host, WORKERS: '2', LOG_LEVEL: 'debug' });
    const pids = workerPids(proxy);
    assert.equal(pids.length, 2);
    const answers = await many(proxy.port, 60, 10);
    const jtis = new Set(answers.map((a) => echoed(a).claims.jti));
    assert.equal(jtis.size, 1, 'both workers send the one token of the primary cache');
    assert.equal(aws.calls('sts:GetWebIdentityToken'), 1, 'one STS call for 60 requests over 2 workers');
    await new Promise((r) => setTimeout(r, 200));
    const served = new Set(jsonLines(proxy).filter((l) => l.message === 'request').map((l) => l.worker));
    assert.deepEqual([...served].sort(), [1, 2], 'requests were served by both workers');
  });

  it('header-routed: one STS call per audience set across workers, whatever the number of requests', async () => {
    upstream.audiences = ['http://127.0.0.1', 'http://localhost'];
    const proxy = await start({ UPSTREAM_ALLOW: '127.0.0.1:*,localhost:*', WORKERS: '2' });
    const byIp = await many(proxy.port, 30, 10, { headers: { 'x-upstream-host': upstream.host } });
    const byName = await many(proxy.port, 30, 10, { headers: { 'x-upstream-host': `localhost:${upstream.port}` } });
    assert.deepEqual(new Set(byIp.map((a) => echoed(a).claims.aud)), new Set(['http://127.0.0.1']));
    assert.deepEqual(new Set(byName.map((a) => echoed(a).claims.aud)), new Set(['http://localhost']));
    assert.equal(aws.calls('sts:GetWebIdentityToken'), 2);
  });

  it('STS refusing: 502 token unavailable from every worker, with the primary\'s backoff (no STS call per request)', async () => {
    aws.failRate(1, 'AccessDenied');
    const proxy = await start({ UPSTREAM_HOST: upstream.host, WORKERS: '2', TOKEN_AUDIENCE: 'urn:refused' });
    const answers = await many(proxy.port, 20, 5);
    assert.deepEqual(new Set(answers.map((a) => `${a.status} ${a.body.trim()}`)), new Set(['502 token unavailable']));
    const calls = aws.calls('sts:GetWebIdentityToken');
    console.log(`      ${calls} STS calls for 20 refused requests`);
    assert.ok(calls <= 6, `${calls} STS calls for 20 refused requests (one mint with the SDK's retries, maybe a second after the 1 s backoff)`);
    aws.failRate(0);
  });

  it('/metrics sums the workers\' counters and adds the primary\'s token cache', async () => {
    upstream.audiences = ['http://127.0.0.1'];
    const proxy = await start({ UPSTREAM_HOST: upstream.host, WORKERS: '2' });
    await many(proxy.port, 24, 8);
    assert.equal(await metric(proxy, /^imagegate_outbound_requests_total\{status="200",source="upstream"\} (\d+)$/m), 24);
    assert.equal(await metric(proxy, /^imagegate_outbound_upstream_duration_seconds_count\{outcome="ok"\} (\d+)$/m), 24);
    assert.equal(await metric(proxy, /^imagegate_outbound_token_results_total\{result="ok"\} (\d+)$/m), 24);
    assert.ok((await metric(proxy, /^imagegate_credentials_cache_misses_total\{[^}]*\} (\d+)$/m)) >= 1);
    const rss = await metric(proxy, /^imagegate_process_resident_memory_bytes (\d+)$/m);
    assert.ok(rss > 3 * 30 * 1024 * 1024, `resident memory ${rss} is the sum of the primary and both workers`);
    assert.equal((await fetch(`http://127.0.0.1:${proxy.metricsPort}/readyz`)).status, 200);
  });

  it('a worker that dies is replaced; requests keep being answered', async () => {
    upstream.audiences = ['http://127.0.0.1'];
    const proxy = await start({ UPSTREAM_HOST: upstream.host, WORKERS: '2' });
    const [victim] = workerPids(proxy);
    process.kill(victim, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    // A connection the primary hands to the worker in the instant it dies is lost with it (as with any crashed
    // process); once the primary has seen the exit, new connections go to the survivor.
    while (!jsonLines(proxy).some((l) => l.message === 'worker exited; starting another') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const answers = await many(proxy.port, 20, 5);
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]), 'the other worker answers meanwhile');
    let replaced: Record<string, unknown> | undefined;
    while (!(replaced = jsonLines(proxy).find((l) => l.message === 'replacement worker listening')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.ok(replaced, 'a replacement worker started');
    const now = replaced.pids as number[];
    assert.equal(now.length, 2);
    assert.ok(!now.includes(victim) && now.every(alive));
    const after = await many(proxy.port, 20, 5);
    assert.deepEqual(new Set(after.map((a) => a.status)), new Set([200]));
  });

  it('SIGTERM: in-flight requests on every worker finish, all workers exit, the primary exits 0', async () => {
    upstream.audiences = ['http://127.0.0.1'];
    const proxy = await start({ UPSTREAM_HOST: upstream.host, WORKERS: '2', SHUTDOWN_GRACE: '10s', LOG_LEVEL: 'debug' });
    const pids = workerPids(proxy);
    const inFlight = Array.from({ length: 6 }, () => send(proxy.port, { path: '/slow?ms=1500' }));
    await new Promise((r) => setTimeout(r, 400));
    const exit = proxy.stop('SIGTERM');
    const answers = await Promise.all(inFlight);
    assert.deepEqual(answers.map((a) => a.status), [200, 200, 200, 200, 200, 200]);
    assert.equal(await exit, 0);
    assert.deepEqual(pids.filter(alive), [], 'no worker outlives the primary');
    const drained = new Set(jsonLines(proxy).filter((l) => l.message === 'worker draining').map((l) => l.worker));
    assert.deepEqual([...drained].sort(), [1, 2]);
    const served = new Set(jsonLines(proxy).filter((l) => l.message === 'request' && l.path === '/slow').map((l) => l.worker));
    assert.deepEqual([...served].sort(), [1, 2], 'the in-flight requests were spread over both workers');
    await assert.rejects(send(proxy.port, {}, 2000));
  });
});
