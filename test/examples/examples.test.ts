/**
 * Every file in examples/ goes through the real validation of the command it
 * configures, so none can rot: the image service's loadImageServiceConfig
 * (and its credential rules built), the outbound proxy's loadSettings, and
 * the registry facade started for real by the CLI (schema, authenticator
 * chain, upstream auth), listening on a free loopback port until it logs
 * that it listens, then stopped.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { choosePullCredentials, loadImageServiceConfig } from '../../src/cri/config';
import { createLogger } from '../../src/log/logger';
import { loadSettings } from '../../src/outbound/settings';
import { startCli } from '../support/cri-cli';

const EXAMPLES = resolve(__dirname, '../../examples');

/** KEY=value lines of an env file (comments and blank lines skipped), as `set -a; . file` reads these. */
function envFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]] = m[2];
    else assert.ok(line.trim() === '' || line.trim().startsWith('#'), `not KEY=value: ${line}`);
  }
  return env;
}

/** Starts `imagegate registry --config <file>` on 127.0.0.1:0 and resolves when it listens; rejects with its stderr if it exits. */
async function facadeStarts(file: string, env: NodeJS.ProcessEnv): Promise<string> {
  const run = startCli(['registry', '--config', file, '--listen', '127.0.0.1:0', '--metrics-listen', ''], env);
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (/registry facade listening/.test(run.stdout() + run.stderr())) return run.stdout() + run.stderr();
      const exited = await Promise.race([run.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 100))]);
      if (exited !== undefined) throw new Error(`imagegate registry exited ${exited}: ${run.stderr()}${run.stdout()}`);
    }
    throw new Error(`imagegate registry did not start: ${run.stderr()}${run.stdout()}`);
  } finally {
    run.child.kill('SIGTERM');
    await run.exited;
  }
}

describe('examples/: every file loads through the real validation', function () {
  this.timeout(120_000);

  it('covers every file in examples/', () => {
    assert.deepEqual(readdirSync(EXAMPLES).sort(), [
      'image-service-eks.yaml',
      'outbound-proxy.env',
      'registry-dockerhub-mirror.yaml',
      'registry-facade-ecr.yaml',
      'registry-ldap.yaml',
    ]);
  });

  it('image-service-eks.yaml: cri backend and ECR rules that build', () => {
    const { config } = loadImageServiceConfig(['--config', join(EXAMPLES, 'image-service-eks.yaml')], {});
    assert.equal(config.backend, 'cri');
    assert.deepEqual(config.credentials!.rules.map((r) => r.name), ['team-a', 'ecr', 'ecr-public']);
    choosePullCredentials(config, createLogger({ level: 'error' }));
  });

  it('outbound-proxy.env: pinned mode with its audience', () => {
    const loaded = loadSettings([], envFile(readFileSync(join(EXAMPLES, 'outbound-proxy.env'), 'utf8')));
    assert.ok('settings' in loaded);
    const s = loaded.settings;
    assert.equal(s.upstreamScheme, 'https');
    assert.deepEqual(s.upstreamAllow, ['api.example.com']);
    assert.equal(JSON.stringify(s.upstreamHost).includes('api.example.com'), true);
  });

  it('registry-facade-ecr.yaml: the facade starts (htpasswd file made next to it, as its header says)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-example-'));
    copyFileSync(join(EXAMPLES, 'registry-facade-ecr.yaml'), join(dir, 'facade.yaml'));
    // A placeholder entry (the facade reads the file at start and on change; no login is tried here).
    writeFileSync(join(dir, 'users.htpasswd'), 'alice:$2y$05$qNQz8v7G1t0M8yJQ6r1mS.9qvQ8b1k0nF5N3p8Gx2Hc7Dq4m3uO7a\n');
    const out = await facadeStarts(join(dir, 'facade.yaml'), {});
    assert.match(out, /team-a → ecr/);
  });

  it('registry-dockerhub-mirror.yaml: the facade starts', async () => {
    const out = await facadeStarts(join(EXAMPLES, 'registry-dockerhub-mirror.yaml'), { DOCKERHUB_TOKEN: 'dckr_pat_example' });
    assert.match(out, /hub → docker-hub/);
  });

  it('registry-ldap.yaml: the facade starts with its LDAP authenticator', async () => {
    const out = await facadeStarts(join(EXAMPLES, 'registry-ldap.yaml'), { INTERNAL_REGISTRY_PASSWORD: 'example' });
    assert.match(out, /internal/);
  });
});
