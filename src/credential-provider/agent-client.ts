import http from 'node:http';
import { AGENT_PATH } from './api';

/** What the agent said: an answer (the response JSON), a definite failure, or nothing (not running, not answering). */
export type AgentReply = { kind: 'answer'; body: string } | { kind: 'failed'; message: string } | { kind: 'absent'; why: string };

/**
 * Forwards one request to the node agent. `absent` means the plugin should
 * mint itself: no socket, nothing listening, the connection dropped before an
 * answer, or no answer within `timeoutMs`. A failure the agent reports is
 * final (falling back would only repeat the same AWS call).
 */
export function askAgent(socket: string, request: string, timeoutMs: number): Promise<AgentReply> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (reply: AgentReply) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(reply);
    };
    const req = http.request(
      { socketPath: socket, path: AGENT_PATH, method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(request) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => done({ kind: 'absent', why: err.message }));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) return done({ kind: 'answer', body });
          let message = `agent answered HTTP ${res.statusCode}`;
          try {
            message = (JSON.parse(body) as { error?: string }).error ?? message;
          } catch {
            // keep the status line
          }
          done({ kind: 'failed', message });
        });
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done({ kind: 'absent', why: `no answer within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'absent', why: err.code ?? err.message }));
    req.end(request);
  });
}
