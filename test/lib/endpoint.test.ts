import assert from 'node:assert/strict';
import { EndpointError, grpcTarget, isEndpoint, parseEndpoint } from '../../src/lib/endpoint';

describe('lib: endpoints', () => {
  // [text, display, grpc-js target]: the forms Docker's --docker-host, a runtime's CRI endpoint and the client's -i accepted before.
  const good: [string, string, string][] = [
    ['unix:///var/run/docker.sock', 'unix:///var/run/docker.sock', 'unix:///var/run/docker.sock'],
    ['/var/run/crio/crio.sock', 'unix:///var/run/crio/crio.sock', 'unix:///var/run/crio/crio.sock'],
    ['unix:/run/x.sock', 'unix:///run/x.sock', 'unix:///run/x.sock'],
    ['  unix:///run/containerd/containerd.sock ', 'unix:///run/containerd/containerd.sock', 'unix:///run/containerd/containerd.sock'],
    ['tcp://127.0.0.1:2375', 'tcp://127.0.0.1:2375', '127.0.0.1:2375'],
    ['tcp://127.0.0.1:2375/', 'tcp://127.0.0.1:2375', '127.0.0.1:2375'],
    ['tcp://[::1]:1234', 'tcp://[::1]:1234', '[::1]:1234'],
    ['tcp://docker_dind:2375', 'tcp://docker_dind:2375', 'docker_dind:2375'],
    ['localhost:1234', 'tcp://localhost:1234', 'localhost:1234'],
  ];
  for (const [text, display, target] of good) {
    it(`${JSON.stringify(text)} → ${target}`, () => {
      const endpoint = parseEndpoint(text);
      assert.equal(endpoint.display, display);
      assert.equal(grpcTarget(endpoint), target);
      assert.equal(isEndpoint(text), true);
    });
  }
  it('gives the parts', () => {
    assert.deepEqual(parseEndpoint('tcp://[::1]:2375'), { kind: 'tcp', host: '::1', port: 2375, display: 'tcp://[::1]:2375' });
    assert.deepEqual(parseEndpoint('/x.sock'), { kind: 'unix', path: '/x.sock', display: 'unix:///x.sock' });
  });
  const bad = ['', 'unix://relative.sock', 'unix:relative.sock', 'containerd.sock', 'http://127.0.0.1:2375', 'tcp://host', 'tcp://host:0', 'tcp://host:65536', 'tcp://a b:1', 'tcp://host:1/path', 'npipe:////./pipe/docker_engine'];
  for (const text of bad) {
    it(`refuses ${JSON.stringify(text)} saying which forms are accepted`, () => {
      assert.throws(() => parseEndpoint(text), (err: unknown) => err instanceof EndpointError && /must be unix:\/\/\/path\/to\/socket or tcp:\/\/host:port/.test(err.message));
      assert.equal(isEndpoint(text), false);
    });
  }
});
