import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { BodyTooLargeError, readCapped } from '../../src/lib/read-capped';

describe('lib: readCapped', () => {
  it('reads a body up to and including the cap, from Node and web streams', async () => {
    assert.equal((await readCapped(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 4)).toString(), 'abcd');
    assert.equal((await readCapped(Readable.from(['x', 'y']), 2)).toString(), 'xy');
    assert.equal((await readCapped(new Response('hello').body!, 5)).toString(), 'hello');
    assert.equal((await readCapped(Readable.from([]), 0)).length, 0);
  });

  it('refuses one byte past the cap and destroys a Node stream', async () => {
    const body = Readable.from([Buffer.alloc(3), Buffer.alloc(2)]);
    await assert.rejects(readCapped(body, 4), (err: unknown) => err instanceof BodyTooLargeError && err.limit === 4);
    assert.equal(body.destroyed, true);
  });

  it('stops pulling from an endless web stream at the cap', async () => {
    let pulls = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>({
      pull: (c) => void (pulls++, c.enqueue(new Uint8Array(1024))),
      cancel: () => void (cancelled = true),
    });
    await assert.rejects(readCapped(endless, 10 * 1024), BodyTooLargeError);
    assert.ok(pulls <= 12, `${pulls} chunks pulled`);
    assert.equal(cancelled, true);
  });

  it('stops reading a huge HTTP answer at the cap and drops the connection', async () => {
    let sent = 0;
    let closed: () => void;
    const connectionClosed = new Promise<void>((resolve) => (closed = resolve));
    const server = http.createServer((_req, res) => {
      res.socket?.once('close', () => closed());
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const write = () => {
        while (sent < 1024 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`http://127.0.0.1:${port}/`, resolve).on('error', reject));
      await assert.rejects(readCapped(res, 1024 * 1024), BodyTooLargeError);
      await connectionClosed;
      assert.ok(sent < 64 * 1024 * 1024, `the server wrote ${sent} bytes before the reader hung up`);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
