import assert from 'node:assert/strict';
import { SingleFlight, untilAborted } from '../../src/lib/single-flight';

/** Work the test finishes by hand, recording whether it was aborted. */
function gate<T>() {
  let finish!: (value: T) => void;
  let fail!: (err: unknown) => void;
  const state = { calls: 0, aborted: false };
  const work = (signal: AbortSignal) => {
    state.calls++;
    signal.addEventListener('abort', () => (state.aborted = true));
    return new Promise<T>((resolve, reject) => ((finish = resolve), (fail = reject)));
  };
  return { work, state, finish: (v: T) => finish(v), fail: (e: unknown) => fail(e) };
}

describe('lib: SingleFlight', () => {
  it('runs one piece of work per key and shares its outcome', async () => {
    const flights = new SingleFlight<string>();
    const g = gate<string>();
    const a = flights.run('k', g.work);
    const b = flights.run('k', g.work, new AbortController().signal);
    const other = flights.run('other', async () => 'x');
    assert.equal(g.state.calls, 1, 'the work started at once, and only once');
    g.finish('v');
    assert.deepEqual(await Promise.all([a, b, other]), ['v', 'v', 'x']);
    assert.equal(flights.size, 0);
  });

  it('frees the key before any caller sees the outcome', async () => {
    const flights = new SingleFlight<string>();
    const g = gate<string>();
    const p = flights.run('k', g.work).then(() => flights.has('k'));
    g.finish('v');
    assert.equal(await p, false);
  });

  it('shares a failure, then runs afresh; a synchronous throw is a rejection', async () => {
    const flights = new SingleFlight<string>();
    const g = gate<string>();
    const both = Promise.allSettled([flights.run('k', g.work), flights.run('k', g.work)]);
    g.fail(new Error('boom'));
    assert.deepEqual((await both).map((r) => r.status), ['rejected', 'rejected']);
    await assert.rejects(flights.run('k', () => { throw new Error('sync'); }), /sync/);
    assert.equal(await flights.run('k', async () => 'again'), 'again');
  });

  it('lets one caller give up at once without stopping the work for the others', async () => {
    const flights = new SingleFlight<string>();
    const g = gate<string>();
    const quitter = new AbortController();
    const a = flights.run('k', g.work, quitter.signal);
    const b = flights.run('k', g.work, new AbortController().signal);
    quitter.abort(new Error('gave up'));
    await assert.rejects(a, /gave up/);
    assert.equal(g.state.aborted, false);
    g.finish('v');
    assert.equal(await b, 'v');
  });

  it('aborts the work when every caller has given up, and a new caller starts afresh', async () => {
    const flights = new SingleFlight<string>();
    const g = gate<string>();
    const one = new AbortController();
    const two = new AbortController();
    const a = flights.run('k', g.work, one.signal);
    const b = flights.run('k', g.work, two.signal);
    one.abort(new Error('one'));
    two.abort(new Error('two'));
    await Promise.allSettled([a, b]);
    assert.equal(g.state.aborted, true);
    assert.equal(flights.has('k'), false);
    assert.equal(await flights.run('k', async () => 'fresh'), 'fresh');
  });

  it('keys may be objects', async () => {
    const flights = new SingleFlight<number, object>();
    const key = {};
    assert.equal(await flights.run(key, async () => 1), 1);
  });
});

describe('lib: untilAborted', () => {
  it('settles as the promise does, or with the signal’s reason as soon as it aborts', async () => {
    assert.equal(await untilAborted(Promise.resolve(1), new AbortController().signal), 1);
    const c = new AbortController();
    const never = new Promise<number>(() => undefined);
    const waiting = untilAborted(never, c.signal);
    c.abort(new Error('deadline'));
    await assert.rejects(waiting, /deadline/);
    await assert.rejects(untilAborted(Promise.resolve(1), c.signal), /deadline/);
  });
});
