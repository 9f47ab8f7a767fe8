const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * Shows `⠋ pulling <image> 3.4s` on one line while a long call runs, only when
 * the stream is a terminal; `stop()` clears the line. A no-op otherwise, so
 * scripts see only the result.
 */
export function startSpinner(label: string, stream: NodeJS.WriteStream = process.stdout): { stop(): void } {
  if (!stream.isTTY) return { stop: () => undefined };
  const started = Date.now();
  let frame = 0;
  const draw = () => stream.write(`\r${FRAMES[frame++ % FRAMES.length]} ${label} ${((Date.now() - started) / 1000).toFixed(1)}s\x1b[K`);
  const timer = setInterval(draw, 100);
  draw();
  return {
    stop() {
      clearInterval(timer);
      stream.write('\r\x1b[K');
    },
  };
}
