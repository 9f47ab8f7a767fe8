import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromDockerConfigFile } from '../../src/credentials';
import type { PullTarget } from '../../src/credentials/pull-credentials';

const target = (registry: string): PullTarget => ({ image: `${registry}/app:1`, registry, repository: 'app', labels: {} });
const basic = (user: string, pass: string) => Buffer.from(`${user}:${pass}`).toString('base64');

describe('static provider', () => {
  const dir = mkdtempSync(join(tmpdir(), 'imagegate-static-'));

  it('reads a Docker config.json (auth, identity token) and a .dockerconfigjson', async () => {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: basic('hub', 'p:w') }, 'ghcr.io': { identitytoken: 'refresh' } } }));
    const provider = fromDockerConfigFile({ file }, { setting: 's' });
    const hub = await provider.resolve(target('docker.io'), undefined);
    assert.deepEqual([hub?.username, hub?.password?.reveal()], ['hub', 'p:w']);
    assert.equal((await provider.resolve(target('ghcr.io'), undefined))?.identityToken?.reveal(), 'refresh');
    assert.equal(await provider.resolve(target('quay.io'), undefined), undefined, 'no entry → no opinion');
  });

  it('re-reads the file when a Secret update swaps it', async () => {
    const file = join(dir, '.dockerconfigjson');
    writeFileSync(file, JSON.stringify({ auths: { '127.0.0.1:5001': { username: 'old', password: 'one' } } }));
    const provider = fromDockerConfigFile({ file }, { setting: 's' });
    assert.equal((await provider.resolve(target('127.0.0.1:5001'), undefined))?.username, 'old');
    writeFileSync(join(dir, 'next'), JSON.stringify({ auths: { '127.0.0.1:5001': { username: 'new', password: 'two' } } }));
    renameSync(join(dir, 'next'), file);
    assert.equal((await provider.resolve(target('127.0.0.1:5001'), undefined))?.username, 'new');
  });

  it('fails the pull with a clear message when the file turns unreadable', async () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{"auths":{}}');
    const provider = fromDockerConfigFile({ file }, { setting: 's' });
    writeFileSync(file, 'not json at all');
    await assert.rejects(provider.resolve(target('x'), undefined), /^CredentialError: static: cannot read .*broken\.json/);
  });
});
