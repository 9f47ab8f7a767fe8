import type net from 'node:net';
import { Duplex } from 'node:stream';
import { AuthorityNormalizer } from './normalizer';

/**
 * Wraps an accepted connection so that what the server reads from it passes
 * through an AuthorityNormalizer; what the server writes goes to the socket
 * unchanged. Backpressure holds both ways. A client that breaks the framing
 * rules is reported through `onViolation` and disconnected, as nghttp2 itself
 * would do with a GOAWAY.
 */
export function normalizedConnection(socket: net.Socket, onViolation: (err: Error) => void): Duplex {
  const normalizer = new AuthorityNormalizer();
  const connection = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, done) {
      if (socket.write(chunk)) done();
      else socket.once('drain', () => done());
    },
    final(done) {
      socket.end(done);
    },
    destroy(err, done) {
      socket.destroy();
      done(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    let pieces: Buffer[];
    try {
      pieces = normalizer.push(chunk);
    } catch (err) {
      onViolation(err as Error);
      connection.destroy();
      return;
    }
    let room = true;
    for (const piece of pieces) room = connection.push(piece) && room;
    if (!room) socket.pause();
  });
  socket.on('end', () => connection.push(null));
  socket.on('error', (err) => connection.destroy(err));
  socket.on('close', () => connection.destroy());
  return connection;
}
