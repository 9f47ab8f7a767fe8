/**
 * Writes each process warning — the AWS SDK's multi-line Node.js version
 * notice, deprecations — as one JSON log line on stderr instead of Node's raw
 * text, so the log stream stays one JSON object per line. Called once by the
 * `imagegate` entry point.
 */
export function logProcessWarnings(write: (line: string) => void = (line) => process.stderr.write(line)): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning: Error) => {
    const text = warning.message.replace(/\s+/g, ' ').trim();
    write(`${JSON.stringify({ level: 'warn', message: 'process warning', name: warning.name, warning: text, timestamp: new Date().toISOString() })}\n`);
  });
}
