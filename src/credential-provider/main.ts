/**
 * Entry point of the self-contained `imagegate-credential-provider`
 * executable (a Node.js single executable application, see build.ts): the
 * plugin kubelet runs, and `serve` for the node agent. Only what reading a
 * request and asking the agent needs is loaded up front; minting code is
 * required when the agent is absent.
 */
import { runPlugin } from './plugin';

function args(): string[] {
  // In a single executable application argv[1] repeats the executable's path; under node it is the script.
  return process.argv.slice(2);
}

async function main(): Promise<number> {
  const argv = args();
  if (argv[0] === 'version' || argv[0] === '--version') {
    process.stdout.write(`imagegate-credential-provider ${typeof BUILD_VERSION === 'string' ? BUILD_VERSION : 'dev'}\n`);
    return 0;
  }
  if (argv[0] === 'serve') return (require('./serve') as typeof import('./serve')).serveAgent(argv.slice(1));
  return runPlugin(argv, { stdin: process.stdin, stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env });
}

declare const BUILD_VERSION: string;

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`imagegate credential-provider: internal error: ${err?.message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
