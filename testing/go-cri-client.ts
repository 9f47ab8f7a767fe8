/**
 * The CRI client kubelet uses: grpc-go, dialing a Unix socket the way each
 * kubelet era does (testing/cri-go/main.go). Built once per source change
 * from Debian's golang-go and golang-google-grpc-dev (grpc-go 1.33), in GOPATH
 * mode; requests and responses are encoded with the project's own proto
 * definitions, so answers compare equal to what the grpc-js client decodes.
 */
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { criProto, healthProto } from '../src/cri/proto';

const run = promisify(execFile);
const REPO = join(__dirname, '..');
const SOURCE = join(__dirname, 'cri-go/main.go');

/**
 * How the client dials: `path` as kubelet ≤ 1.30 and crictl ≤ 1.30 (`:authority` = the socket path),
 * `localhost` as kubelet ≥ 1.31 (WithAuthority("localhost")), `empty` with an empty `:authority`.
 */
export type DialForm = 'path' | 'localhost' | 'empty';
export const DIAL_FORMS: readonly DialForm[] = ['path', 'localhost', 'empty'];

/** kubelet's versions for each form, for test names. */
export const KUBELET_ERA: Record<DialForm, string> = { path: 'kubelet ≤ 1.30', localhost: 'kubelet ≥ 1.31', empty: 'empty :authority' };

let built: Promise<string> | undefined;

/**
 * The client's binary, statically linked (so the systemd-node containers can run it from the mounted
 * repository), under `.ci/work/bin/`. Fails, never skips, when Go or grpc-go is missing.
 */
export function goCriClientBinary(): Promise<string> {
  built ??= (async () => {
    const hash = createHash('sha256').update(readFileSync(SOURCE)).digest('hex').slice(0, 12);
    const dir = join(REPO, '.ci/work/bin');
    const binary = join(dir, `cri-go-client-${hash}`);
    if (existsSync(binary)) return binary;
    mkdirSync(dir, { recursive: true });
    const temporary = `${binary}.${process.pid}.tmp`;
    try {
      await run('go', ['build', '-o', temporary, '.'], {
        cwd: join(__dirname, 'cri-go'),
        env: { ...process.env, GO111MODULE: 'off', GOPATH: '/usr/share/gocode', CGO_ENABLED: '0' },
        timeout: 300_000,
      });
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`building the grpc-go CRI client failed (needs Debian's golang-go and golang-google-grpc-dev; .ci/setup installs them): ${e.stderr || e.message}`);
    }
    renameSync(temporary, binary);
    return binary;
  })();
  built.catch(() => (built = undefined));
  return built;
}

interface Reply {
  id: number;
  code: number;
  message: string;
  body: string;
}

interface MethodCodec {
  path: string;
  requestSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

/** A gRPC error as grpc-js shapes it (`code`, `details`), so tests assert the same way for both clients. */
export interface GoCallError extends Error {
  code: status;
  details: string;
}

/**
 * One grpc-go connection to a CRI socket, held open like kubelet's, serving
 * concurrent calls. `call('ImageFsInfo', {})` takes and returns the same objects
 * as the grpc-js client.
 */
export class GoCriClient {
  #next = 1;
  readonly #pending = new Map<number, { resolve(reply: Reply): void }>();
  #stderr = '';

  private constructor(
    readonly form: DialForm,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const reply = JSON.parse(line) as Reply;
      this.#pending.get(reply.id)?.resolve(reply);
      this.#pending.delete(reply.id);
    });
    child.stderr.on('data', (chunk: Buffer) => (this.#stderr += chunk.toString()));
    child.on('exit', (code) => {
      for (const [id, { resolve }] of this.#pending) {
        resolve({ id, code: status.UNAVAILABLE, message: `cri-go-client exited ${code}: ${this.#stderr.trim()}`, body: '' });
      }
      this.#pending.clear();
    });
  }

  static async start(socket: string, form: DialForm): Promise<GoCriClient> {
    const child = spawn(await goCriClientBinary(), ['-socket', socket, '-dial', form, 'serve'], { stdio: 'pipe' });
    return new GoCriClient(form, child);
  }

  /** One unary runtime.v1.ImageService call. */
  call<Res = any>(method: string, request: object, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<Res> {
    const codec = (criProto().runtime.v1.ImageService.service as unknown as Record<string, MethodCodec>)[method];
    if (!codec) throw new Error(`no ImageService method ${method}`);
    return this.#invoke(codec, request, options) as Promise<Res>;
  }

  /** grpc.health.v1.Health/Check. */
  healthCheck(service: string): Promise<{ status: string }> {
    const codec = (healthProto().grpc.health.v1.Health.service as unknown as Record<string, MethodCodec>).Check;
    return this.#invoke(codec, { service }, {}) as Promise<{ status: string }>;
  }

  async #invoke(codec: MethodCodec, request: object, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<unknown> {
    const id = this.#next++;
    const replied = new Promise<Reply>((resolve) => this.#pending.set(id, { resolve }));
    const body = codec.requestSerialize(request).toString('base64');
    this.child.stdin.write(`${JSON.stringify({ id, method: codec.path, body, timeoutMs: options.timeoutMs ?? 0 })}\n`);
    options.signal?.addEventListener('abort', () => this.child.stdin.write(`${JSON.stringify({ id, cancel: true })}\n`), { once: true });
    const reply = await replied;
    if (reply.code !== status.OK) {
      throw Object.assign(new Error(`${status[reply.code]}: ${reply.message}`), { code: reply.code, details: reply.message }) as GoCallError;
    }
    return codec.responseDeserialize(Buffer.from(reply.body, 'base64'));
  }

  /** Closes the connection (the process ends once its calls have answered). */
  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end();
    await exited;
  }
}
