import http from 'node:http';
import { chmodSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { ConfigError } from '../config/errors';
import { CredentialError } from '../credentials/errors';
import { clearSocket } from '../cri/server';
import { silentLogger, type Logger } from '../log/logger';
import { AGENT_PATH, MAX_REQUEST_BYTES, parseRequest, RequestError } from './api';
import type { CredentialProviderService } from './service';

export interface AgentOptions {
  socket: string;
  service: CredentialProviderService;
  logger?: Logger;
  /** Default 0600: only root (kubelet, and the plugin it runs) may ask. */
  socketMode?: number;
}

/**
 * The node agent: serves kubelet's credential provider requests, forwarded by
 * the plugin, over HTTP on a Unix socket, from one CredentialProviderService
 * (so one token cache for every pull on the node). Answers 200 with the
 * response, 400 `{error}` for bad input, 502 `{error}` when nothing could be
 * minted, 500 with a generic message for anything else (logged).
 */
export class CredentialProviderAgent {
  private constructor(
    readonly socket: string,
    private readonly server: http.Server,
  ) {}

  static async start(options: AgentOptions): Promise<CredentialProviderAgent> {
    const logger = options.logger ?? silentLogger;
    mkdirSync(dirname(options.socket), { recursive: true, mode: 0o755 });
    await clearSocket(options.socket);
    const server = http.createServer({ keepAliveTimeout: 1000 }, (req, res) => void handle(req, res, options.service, logger));
    const temporary = `${options.socket}.${process.pid}.tmp`;
    rmSync(temporary, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(temporary, () => resolve());
    });
    chmodSync(temporary, options.socketMode ?? 0o600);
    renameSync(temporary, options.socket);
    logger.info('credential provider agent listening', { socket: options.socket });
    return new CredentialProviderAgent(options.socket, server);
  }

  /** Stops listening, ends open connections and removes the socket. The service is the caller's to close. */
  async close(): Promise<void> {
    rmSync(this.socket, { force: true });
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse, service: CredentialProviderService, logger: Logger): Promise<void> {
  const send = (status: number, doc: unknown) => {
    const body = JSON.stringify(doc);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  };
  if (req.method !== 'POST' || req.url !== AGENT_PATH) return send(404, { error: `POST ${AGENT_PATH} only` });
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_REQUEST_BYTES) return send(413, { error: `stdin: request larger than ${MAX_REQUEST_BYTES / 1024} KiB` });
      chunks.push(chunk as Buffer);
    }
    send(200, await service.answer(parseRequest(Buffer.concat(chunks).toString('utf8'))));
  } catch (err) {
    if (err instanceof RequestError) return send(400, { error: err.message });
    if (err instanceof CredentialError || err instanceof ConfigError) {
      logger.warn('credential provider request failed', { error: err.message });
      return send(502, { error: err.message });
    }
    logger.error('credential provider request failed unexpectedly', { error: (err as Error).message });
    send(500, { error: 'internal error in the imagegate agent (see its log)' });
  }
}
