/** Timing helpers shared by the token benchmarks (bench/tokens.ts, bench/tokens-multicloud.ts). */

/** The p-th percentile of the values (floor rank). */
export function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `fn(0)`…`fn(n - 1)` one after another; the milliseconds each took. */
export async function timed(n: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn(i);
    out.push(performance.now() - t);
  }
  return out;
}
