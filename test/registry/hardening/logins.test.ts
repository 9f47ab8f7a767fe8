/**
 * Regression tests for issue 19, items 1, 2 and 9: the login rate limit under
 * parallel attempts, a login flood against the facade's latency, and user
 * names in another case. Real servers: the facade (in-process, or as its own
 * process for timing), a webhook authenticator counting the checks it is
 * asked for, slapd, the CI's docker-registry upstream.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { requireTcp } from '../../../testing/services';
import { LDAP_HOST_PORT, LDAP_USERS, ldapOptions } from '../auth/support/ldap';
import { basic, startTestFacade, testConfig } from '../support/facade';
import { startFacadeProcess, type FacadeProcess } from '../../../testing/registry/facade-process';
import { raw } from '../support/raw';
import { upstreams } from '../../../testing/registry/upstreams';

const TOKEN = '/token?service=imagegate-registry&scope=repository:basic/test/busybox:pull';

describe('registry hardening: logins under attack', function () {
  this.timeout(180_000);

  describe('parallel brute force (issue 19, item 1)', () => {
    const checked: string[] = [];
    let hook: http.Server;
    let facade: Awaited<ReturnType<typeof startTestFacade>>;
    before(async () => {
      // A webhook that takes 100 ms per check, as a bcrypt or directory check does, and counts the checks.
      hook = http.createServer((req, res) => {
        let text = '';
        req.on('data', (c) => (text += String(c)));
        req.on('end', () => {
          const body = JSON.parse(text) as { username: string; password: string };
          checked.push(body.username);
          setTimeout(() => {
            if (body.username === 'alice' && body.password === 'alice-hook-pw') res.writeHead(200, { 'content-type': 'application/json' }).end('{"identity":"alice"}');
            else res.writeHead(403).end();
          }, 100);
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      facade = await startTestFacade(testConfig({
        auth: { chain: [{ webhook: { url: `http://127.0.0.1:${(hook.address() as import('node:net').AddressInfo).port}` } }], rules: [{ identity: 'alice', repositories: ['**'] }] },
        rateLimit: { perClientAndUser: 10, perClient: 100 },
      }));
    });
    after(async () => {
      await facade?.close(1000);
      hook?.close();
    });

    it('checks at most the limit of 120 parallel guesses for one user, counted by the authenticator, and refuses the rest with 429', async () => {
      const guesses = Array.from({ length: 119 }, (_, i) => `guess-${i}`).concat('alice-hook-pw');
      const answers = await Promise.all(guesses.map((password) => raw(facade.url, TOKEN, { headers: { authorization: basic({ username: 'alice', password }) } })));
      const count = checked.filter((u) => u === 'alice').length;
      assert.ok(count <= 10, `the authenticator checked ${count} passwords (limit 10)`);
      const statuses = answers.map((a) => a.status);
      assert.ok(statuses.filter((s) => s === 429).length >= 110, statuses.join(','));
      for (const a of answers.filter((x) => x.status === 429)) {
        assert.equal(a.json.errors[0].code, 'TOOMANYREQUESTS');
        assert.ok(Number(a.headers['retry-after']) >= 1);
      }
    });
  });

  describe('user names in another case (issue 19, item 9)', () => {
    let facade: Awaited<ReturnType<typeof startTestFacade>>;
    before(async () => {
      await requireTcp('slapd', LDAP_HOST_PORT);
      facade = await startTestFacade(testConfig({
        auth: { chain: [{ name: 'corp', ldap: ldapOptions() }], rules: [{ identity: 'alice', repositories: ['**'] }] },
        rateLimit: { perClientAndUser: 10, perClient: 100, failureDelay: 0 },
      }));
    });
    after(() => facade?.close(1000));

    it('gives alice, Alice, ALICE, aLice and alIce one budget of 10 guesses (counted by the directory checks made)', async () => {
      const statuses: number[] = [];
      for (const name of ['alice', 'Alice', 'ALICE', 'aLice', 'alIce']) {
        for (let i = 0; i < 10; i++) statuses.push((await raw(facade.url, TOKEN, { headers: { authorization: basic({ username: name, password: `wrong-${i}` }) } })).status);
      }
      const metrics = await facade.metrics.getSingleMetricAsString('imagegate_registry_auth_decisions_total');
      const checked = [...metrics.matchAll(/authenticator="corp"[^}]*} (\d+)/g)].reduce((sum, m) => sum + Number(m[1]), 0);
      assert.equal(checked, 10, metrics);
      assert.equal(statuses.filter((s) => s === 401).length, 10, statuses.join(','));
      assert.equal(statuses.filter((s) => s === 429).length, 40, statuses.join(','));
      const ok = await raw(facade.url, '/v2/basic/test/busybox/manifests/1', { headers: { authorization: basic({ username: 'alice', password: LDAP_USERS.alice.password }) } });
      assert.equal(ok.status, 429, 'the budget is spent for this client, whatever the case');
    });
  });

  describe('a login flood (issue 19, item 2)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-login-flood-'));
    let facade: FacadeProcess;
    before(async () => {
      await requireTcp('basic upstream', upstreams.basic);
      writeFileSync(join(dir, 'users.htpasswd'), `alice:${bcrypt.hashSync('alice-pw', 8)}\nbob:${bcrypt.hashSync('bob-pw', 8)}\n`);
      facade = await startFacadeProcess(dir, 'flood', {
        upstreams: [{ name: 'basic', prefix: 'basic', url: `http://${upstreams.basic}`, auth: { basic: { username: upstreams.user, password: { value: upstreams.password } } } }],
        auth: { chain: [{ htpasswd: { file: join(dir, 'users.htpasswd') } }], rules: [{ identity: 'bob', repositories: ['**'] }] },
        // Every one of the 400 logins is let through to be checked: the worst case the limits allow.
        rateLimit: { perClientAndUser: 1000, perClient: 1000, maxInFlight: 400 },
        limits: { maxConnectionsPerClient: 512 },
      });
    });
    after(() => facade?.stop());

    it('keeps /healthz (both listeners) and a warm-token manifest pull under 100 ms at p99 while 400 logins queue', async () => {
      const token = (await json(`${facade.url}/token?service=imagegate-registry&scope=repository:basic/test/busybox:pull`, basic({ username: 'bob', password: 'bob-pw' }))).token as string;
      const accept = 'application/vnd.docker.distribution.manifest.v2+json';
      const manifest = await raw(facade.url, '/v2/basic/test/busybox/manifests/1', { headers: { authorization: `Bearer ${token}`, accept } });
      assert.equal(manifest.status, 200);
      const digest = String(manifest.headers['docker-content-digest']);
      // The flood comes from another address than the probes (127.0.0.2: all of 127/8 is loopback).
      const agent = new http.Agent({ keepAlive: true, maxSockets: 400, localAddress: '127.0.0.2' } as http.AgentOptions);
      let done = 0;
      const flood = Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          request(`${facade.url}${TOKEN}`, { authorization: basic({ username: i % 2 ? 'alice' : `nobody-${i}`, password: `flood-${i}` }) }, agent).then((r) => {
            done++;
            return r.status;
          }),
        ),
      );
      const samples: Record<string, number[]> = { 'traffic /healthz': [], 'metrics /healthz': [], 'manifest by digest': [] };
      await new Promise((r) => setTimeout(r, 100));
      const probe = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (done < 400) {
        samples['traffic /healthz'].push(await timed(`${facade.url}/healthz`, {}, probe));
        samples['metrics /healthz'].push(await timed(`${facade.metricsUrl}/healthz`, {}, probe));
        samples['manifest by digest'].push(await timed(`${facade.url}/v2/basic/test/busybox/manifests/${digest}`, { authorization: `Bearer ${token}`, accept }, probe));
        await new Promise((r) => setTimeout(r, 5));
      }
      const statuses = await flood;
      process.stdout.write(`      flood of 400 logins: ${Object.entries(samples).map(([k, v]) => `${k} p99 ${p99(v).toFixed(1)} ms (${v.length} samples)`).join(', ')}\n`);
      agent.destroy();
      probe.destroy();
      assert.equal(statuses.filter((s) => s === 401).length, 400, 'every flood login was checked and refused');
      for (const [what, ms] of Object.entries(samples)) {
        assert.ok(p99(ms) < 100, `${what}: p99 ${p99(ms).toFixed(1)} ms over ${ms.length} samples during the flood (max ${Math.max(...ms).toFixed(1)} ms)`);
        assert.ok(ms.length >= 10, `${what}: only ${ms.length} samples during the flood`);
      }
    });
  });
});

function p99(ms: number[]): number {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

function request(url: string, headers: Record<string, string>, agent: http.Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += String(c)));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).once('error', reject);
  });
}

async function timed(url: string, headers: Record<string, string>, agent: http.Agent): Promise<number> {
  const started = process.hrtime.bigint();
  const res = await request(url, headers, agent);
  assert.equal(res.status, 200, `${url}: ${res.status}`);
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function json(url: string, authorization: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { headers: { authorization } });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}
