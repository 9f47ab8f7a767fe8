import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import YAML from 'yaml';

const ROOT = resolve(__dirname, '../..');

/**
 * `imagegate image-service` as the DaemonSet runs it, with a
 * `credentialProvider:` section: a real process serving the CRI socket and
 * the credential provider agent socket from one token cache.
 */
export class AgentProcess {
  private stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly agentSocket: string,
  ) {
    child.stderr!.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-4000)));
  }

  static async start(dir: string, config: Record<string, unknown>, env: Record<string, string>): Promise<AgentProcess> {
    const agentSocket = join(dir, 'agent.sock');
    const file = join(dir, 'image-service.yaml');
    writeFileSync(file, YAML.stringify({
      ...config, socket: join(dir, 'cri.sock'), metricsListen: '127.0.0.1:0',
      credentialProvider: { ...(config.credentialProvider as object), agentSocket },
    }));
    const child = spawn(process.execPath, [join(ROOT, 'node_modules/tsx/dist/cli.mjs'), join(ROOT, 'bin/main.ts'), 'image-service', '--config', file], {
      env: { ...process.env, ...env, IMAGEGATE_LOG_LEVEL: 'warn', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const agent = new AgentProcess(child, agentSocket);
    for (let i = 0; i < 300 && !existsSync(agentSocket); i++) {
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (!existsSync(agentSocket)) {
      child.kill('SIGKILL');
      throw new Error(`image-service did not open the agent socket ${agentSocket}: ${agent.stderr}`);
    }
    return agent;
  }

  /** SIGTERM, and wait for the process to exit (it removes its sockets). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }

  get log(): string {
    return this.stderr;
  }
}
