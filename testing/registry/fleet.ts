import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FacadeProcess, startFacadeProcess } from './facade-process';
import { freePort } from '../ports';


/** Writes a fresh EC P-256 private key (PKCS#8 PEM) to `file`. */
export function writeEcKey(file: string): string {
  writeFileSync(file, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

export interface Replica {
  name: string;
  /** Fixed traffic port (kept across restarts, so nginx's upstream list stays true). */
  port: number;
  url: string;
  process?: FacadeProcess;
}

export interface FleetOptions {
  dir: string;
  replicas: number;
  /** The `registry` section of replica `i` (listen is set by the fleet). */
  config: (i: number) => Record<string, unknown>;
  /** nginx `limit_rate` towards clients (e.g. `16m`), to keep pulls in flight long enough to interrupt. Default none. */
  limitRate?: string;
}

/**
 * Facade replicas (`imagegate registry` processes on fixed loopback ports)
 * behind a real nginx doing round robin, as a Service or cloud load balancer
 * would: failed connects go to the next replica (`proxy_next_upstream
 * error`), a replica that failed is left out for a second, streams are not
 * buffered. nginx runs in the foreground as our child, with its config and
 * temp files under `dir`.
 */
export class Fleet {
  readonly replicas: Replica[] = [];
  url = '';
  /** `127.0.0.1:port` of nginx, as used in image references. */
  host = '';
  #nginx?: ChildProcess;
  #conf = '';
  #nginxDir = '';
  /** Replicas taken out of the balancer. */
  readonly #out = new Set<number>();

  private constructor(private readonly options: FleetOptions) {}

  static async start(options: FleetOptions): Promise<Fleet> {
    mkdirSync(options.dir, { recursive: true });
    const fleet = new Fleet(options);
    for (let i = 0; i < options.replicas; i++) {
      const port = await freePort();
      fleet.replicas.push({ name: `replica-${String.fromCharCode(97 + i)}`, port, url: `http://127.0.0.1:${port}` });
    }
    const front = await freePort();
    fleet.host = `127.0.0.1:${front}`;
    fleet.url = `http://${fleet.host}`;
    try {
      await Promise.all(fleet.replicas.map((_, i) => fleet.startReplica(i)));
      await fleet.#startNginx();
    } catch (err) {
      await fleet.close();
      throw err;
    }
    return fleet;
  }

  /** Starts replica `i` (again) on its port, with `config` or the fleet's config for it. */
  async startReplica(i: number, config = this.options.config(i)): Promise<void> {
    const r = this.replicas[i];
    r.process = await startFacadeProcess(this.options.dir, r.name, { ...config, listen: `127.0.0.1:${r.port}` });
  }

  /** SIGTERM (graceful: in-flight requests finish) and wait for the exit. */
  async stopReplica(i: number): Promise<void> {
    await this.replicas[i].process?.stop();
    this.replicas[i].process = undefined;
  }

  /**
   * A rolling restart as Kubernetes does it: each replica in turn is taken out
   * of the balancer (endpoints removed, the preStop sleep), stopped with
   * SIGTERM, started with `config(i)`, and put back once it listens.
   */
  async rollingRestart(config: (i: number) => Record<string, unknown>): Promise<void> {
    for (let i = 0; i < this.replicas.length; i++) {
      this.#out.add(i);
      await this.#reload();
      await this.stopReplica(i);
      await this.startReplica(i, config(i));
      this.#out.delete(i);
      await this.#reload();
    }
  }

  /** Prometheus text of replica `i`'s metrics listener. */
  async metrics(i: number): Promise<string> {
    const p = this.replicas[i].process;
    if (!p) throw new Error(`${this.replicas[i].name} is not running`);
    return (await fetch(`${p.metricsUrl}/metrics`)).text();
  }

  async close(): Promise<void> {
    if (this.#nginx && this.#nginx.exitCode === null) {
      const exited = new Promise((r) => this.#nginx!.once('exit', r));
      this.#nginx.kill('SIGQUIT');
      await exited;
    }
    await Promise.allSettled(this.replicas.map((r) => r.process?.stop()));
  }

  /** Rewrites nginx.conf for the replicas in the balancer and has nginx reload it (old workers finish their requests). */
  async #reload(): Promise<void> {
    this.#writeConf();
    this.#nginx!.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 500));
  }

  #writeConf(): void {
    const dir = this.#nginxDir;
    writeFileSync(
      this.#conf,
      `worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 2048; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  upstream facade {
${this.replicas.map((r, i) => `    server 127.0.0.1:${r.port} max_fails=1 fail_timeout=1s${this.#out.has(i) ? ' down' : ''};`).join('\n')}
    keepalive 256;
  }
  server {
    listen ${this.host};
    client_max_body_size 1m;
    proxy_buffering off;
    proxy_request_buffering off;
    proxy_http_version 1.1;
    proxy_read_timeout 120s;
    ${this.options.limitRate ? `limit_rate ${this.options.limitRate};` : ''}
    location / {
      proxy_pass http://facade;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_next_upstream_tries 3;
    }
  }
}
`,
    );
  }

  async #startNginx(): Promise<void> {
    const dir = join(this.options.dir, 'nginx');
    mkdirSync(join(dir, 'tmp'), { recursive: true });
    this.#nginxDir = dir;
    this.#conf = join(dir, 'nginx.conf');
    this.#writeConf();
    const child = spawn('nginx', ['-p', dir, '-c', this.#conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#nginx = child;
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += String(c)));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}${safeRead(join(dir, 'error.log'))}`);
      const ok = await fetch(`${this.url}/healthz`).then((r) => r.ok, () => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`nginx did not answer on ${this.host}: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function safeRead(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export { freePort };
