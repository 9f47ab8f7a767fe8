import { readFileSync, readdirSync } from 'node:fs';

/** What the benchmarks read from /proc about the processes they measure. */

const TICK = 100; // USER_HZ on Linux

/** The fields of /proc/<pid>/stat after the command name; undefined when the process is gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** utime + stime of a process and all its threads, in seconds; 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  return fields ? (Number(fields[11]) + Number(fields[12])) / TICK : 0;
}

/** Voluntary context switches of a process's main thread: how often its event loop went to sleep waiting for work. */
export function sleeps(pid: number): number {
  try {
    return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** The children of `pid` (an nginx master's workers). */
export function childrenOf(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (/^\d+$/.test(entry) && Number(statFields(Number(entry))?.[1]) === pid) found.push(Number(entry));
  }
  return found;
}
