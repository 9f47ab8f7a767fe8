import assert from 'node:assert/strict';
import { derivedAudience, globProblem, HostAllowlist, parseUpstreamHost } from '../../src/outbound/host';

describe('outbound: upstream host parsing', () => {
  const cases: [string, string | undefined][] = [
    ['api.example.com', 'api.example.com'],
    ['API.Example.COM:8443', 'api.example.com:8443'],
    ['127.0.0.1:9000', '127.0.0.1:9000'],
    ['[::1]:8443', '[::1]:8443'],
    ['[2001:DB8::1]', '[2001:db8::1]'],
    ['host.', 'host'],
    ['https://api.example.com', undefined],
    ['api.example.com/path', undefined],
    ['user@api.example.com', undefined],
    ['api.example.com:0', undefined],
    ['api.example.com:70000', undefined],
    ['api..example.com', undefined],
    ['-bad.example.com', undefined],
    ['::1', undefined],
    ['a b', undefined],
    ['', undefined],
  ];
  for (const [text, authority] of cases) {
    it(`${JSON.stringify(text)} → ${authority ?? 'rejected'}`, () => {
      assert.equal(parseUpstreamHost(text)?.authority, authority);
    });
  }
});

describe('outbound: derived audience (as aws-outbound-jwt-proxy)', () => {
  const cases: [string, string, string][] = [
    ['https', 'API.example.com:8443', 'https://api.example.com'],
    ['HTTP', 'svc.internal', 'http://svc.internal'],
    ['https', '[2001:db8::1]:443', 'https://[2001:db8::1]'],
    ['https', '10.0.0.1:9443', 'https://10.0.0.1'],
  ];
  for (const [scheme, host, audience] of cases) {
    it(`${scheme} + ${host} → ${audience}`, () => {
      assert.equal(derivedAudience(scheme, parseUpstreamHost(host)!), audience);
    });
  }
});

describe('outbound: upstream allowlist', () => {
  const allow = new HostAllowlist(['api.example.com', '*.svc.example.com', '**.corp.example', '10.0.0.1:8443', 'localhost:*', '[::1]']);
  const cases: [string, boolean][] = [
    ['api.example.com', true],
    ['API.EXAMPLE.COM:9999', true],
    ['evil.api.example.com', false],
    ['a.svc.example.com', true],
    ['a.b.svc.example.com', false],
    ['svc.example.com', false],
    ['x.y.corp.example', true],
    ['corp.example', false],
    ['10.0.0.1:8443', true],
    ['10.0.0.1', false],
    ['localhost:1234', true],
    ['[::1]:8080', true],
    ['example.com', false],
  ];
  for (const [host, allowed] of cases) {
    it(`${host} is ${allowed ? 'allowed' : 'refused'}`, () => {
      assert.equal(allow.allows(parseUpstreamHost(host)!, 443), allowed);
    });
  }

  it('rejects patterns that are not host globs or allow everything', () => {
    assert.ok(globProblem('*'));
    assert.ok(globProblem('**'));
    assert.ok(globProblem('*:443'));
    assert.ok(globProblem('http://x.example.com'));
    assert.ok(globProblem('x.example.com/path'));
    assert.equal(globProblem('*.example.com'), undefined);
  });
});
