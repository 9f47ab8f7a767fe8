import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { createLogger } from '../../src/log/logger';
import { Secret } from '../../src/log/secret';

describe('secrets in logs', () => {
  it('a Secret prints *** from toString, JSON and inspect, and reveals on request', () => {
    const s = new Secret('hunter2');
    assert.equal(`${s}`, '***');
    assert.equal(JSON.stringify({ s }), '{"s":"***"}');
    assert.equal(inspect({ s }), '{ s: *** }');
    assert.equal(s.reveal(), 'hunter2');
  });

  it('redacts Secrets anywhere in metadata and secret-named keys by name', () => {
    const lines: string[] = [];
    const log = createLogger({ sink: lines });
    log.info('pull', {
      auth: { username: 'AWS', password: new Secret('p4ss') },
      headers: { Authorization: 'Basic dXNlcjpwYXNz' },
      token: 'eyJhbGciOi.x.y',
      nested: [{ identityToken: 'abc' }],
      registry: '127.0.0.1:5000',
      passwordFile: '/var/lib/imagegate/demo-password',
    });
    assert.equal(lines.length, 1);
    for (const secret of ['p4ss', 'dXNlcjpwYXNz', 'eyJhbGciOi', 'abc"']) assert.ok(!lines[0].includes(secret), lines[0]);
    const entry = JSON.parse(lines[0]);
    assert.equal(entry.registry, '127.0.0.1:5000');
    assert.equal(entry.auth.username, 'AWS');
    assert.equal(entry.auth.password, '***');
    assert.equal(entry.passwordFile, '/var/lib/imagegate/demo-password');
  });

  it('writes readable text lines when asked', () => {
    const lines: string[] = [];
    createLogger({ sink: lines, format: 'text' }).warn('slow pull', { image: 'busybox' });
    assert.match(lines[0], /warn slow pull \{"image":"busybox"\}/);
  });
});
