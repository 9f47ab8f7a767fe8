import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { native } from '../native';

/** Runs in each worker: bcryptjs, synchronous, one job at a time, off the main event loop. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcryptjs);
// Linux: give way to the event loop. SCHED_IDLE through the native add-on; without it, nice on this thread's id.
let idle = false;
try {
  idle = Boolean(workerData.native) && require(workerData.native).idleThread() === true;
} catch {}
if (!idle) try {
  const tid = Number(require('node:fs').readlinkSync('/proc/thread-self').split('/').pop());
  if (tid > 0) require('node:os').setPriority(tid, workerData.nice);
} catch {}
parentPort.on('message', (job) => {
  try {
    const result = job.op === 'compare' ? bcrypt.compareSync(job.password, job.hash) : bcrypt.hashSync(job.password, job.cost);
    parentPort.postMessage({ id: job.id, result });
  } catch (err) {
    parentPort.postMessage({ id: job.id, error: String((err && err.message) || err) });
  }
});
`;

/** How much lower than the event loop the hash workers run when SCHED_IDLE is not available (Linux nice, per thread). */
const WORKER_NICE = 10;

type Job = { op: 'compare'; password: string; hash: string } | { op: 'hash'; password: string; cost: number };

interface Pending {
  job: Job & { id: number };
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  busy?: Pending;
}

/** Default number of workers: one core left to the event loop, at least one. */
export function defaultHashWorkers(): number {
  return Math.max(1, availableParallelism() - 1);
}

/**
 * bcrypt on worker threads, so that a burst of logins never blocks the event
 * loop that serves pulls, health checks and metrics. On Linux each worker
 * thread puts itself in SCHED_IDLE (through the native add-on; nice 10 when
 * the add-on is not built), so that when the cores are busy the event loop
 * is served first and logins wait. `size` workers each check
 * one password at a time; further jobs wait in FIFO order. The queue is not
 * bounded here: the access gate bounds the logins in flight
 * (`registry.rateLimit.maxInFlight`), and so this queue. Workers are started
 * on first use, keep the process alive only while they run a job, and a worker that dies is
 * replaced (its job fails).
 */
export class HashPool {
  readonly #slots: Slot[] = [];
  readonly #queue: Pending[] = [];
  #nextId = 0;
  #size: number;

  constructor(size = defaultHashWorkers()) {
    this.#size = Math.max(1, size);
  }

  /** Changes the number of workers; idle extra workers stop at once, busy ones after their job. */
  resize(size: number): void {
    this.#size = Math.max(1, size);
    for (const slot of [...this.#slots]) if (this.#slots.length > this.#size && !slot.busy) this.#retire(slot);
    this.#pump();
  }

  /** Jobs waiting for a worker (not counting those being run). */
  get queued(): number {
    return this.#queue.length;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.#run({ op: 'compare', password, hash }) as Promise<boolean>;
  }

  hash(password: string, cost: number): Promise<string> {
    return this.#run({ op: 'hash', password, cost }) as Promise<string>;
  }

  /** Stops every worker (tests); later jobs start new ones. */
  async close(): Promise<void> {
    await Promise.all(this.#slots.splice(0).map((s) => s.worker.terminate()));
  }

  #run(job: Job): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ job: { ...job, id: this.#nextId++ }, resolve, reject });
      this.#pump();
    });
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => !s.busy);
      if (!slot && this.#slots.length < this.#size) slot = this.#spawn();
      if (!slot) return;
      const next = this.#queue.shift()!;
      slot.busy = next;
      slot.worker.ref();
      slot.worker.postMessage(next.job);
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcryptjs: require.resolve('bcryptjs'), nice: WORKER_NICE, native: native.available ? native.path : undefined } });
    const slot: Slot = { worker };
    worker.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const done = slot.busy;
      slot.busy = undefined;
      worker.unref();
      if (done && done.job.id === msg.id) {
        if (msg.error !== undefined) done.reject(new Error(`bcrypt: ${msg.error}`));
        else done.resolve(msg.result);
      }
      if (this.#slots.length > this.#size) this.#retire(slot);
      this.#pump();
    });
    const lost = (why: string) => {
      const i = this.#slots.indexOf(slot);
      if (i >= 0) this.#slots.splice(i, 1);
      slot.busy?.reject(new Error(`bcrypt worker ${why}`));
      slot.busy = undefined;
      this.#pump();
    };
    worker.on('error', (err) => lost(`failed: ${err.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    worker.unref();
    this.#slots.push(slot);
    return slot;
  }

  #retire(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i >= 0) this.#slots.splice(i, 1);
    void slot.worker.terminate();
  }
}

/** The process's one pool: CPU is a process-wide resource, so every facade and authenticator shares it. */
export const hashPool = new HashPool();
