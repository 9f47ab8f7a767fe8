import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { listenAddress } from '../../src/config/address';
import { duration, parseDuration } from '../../src/config/duration';
import { ConfigError } from '../../src/config/errors';
import { type Binding, loadConfig } from '../../src/config/load';

const schema = z.object({
  server: z.object({
    socket: z.string().default('/run/x.sock'),
    workers: z.number().int().min(1).max(64).default(4),
    timeout: duration('30s'),
    listen: listenAddress('127.0.0.1:9464'),
    pinned: z.array(z.string()).default([]),
    debug: z.boolean().default(false),
  }).prefault({}),
});
const bindings: Binding[] = [
  { flag: 'socket', env: 'T_SOCKET', path: 'server.socket' },
  { flag: 'workers', env: 'T_WORKERS', path: 'server.workers', type: 'number' },
  { flag: 'timeout', env: 'T_TIMEOUT', path: 'server.timeout' },
  { flag: 'listen', path: 'server.listen' },
  { flag: 'pinned', env: 'T_PINNED', path: 'server.pinned', type: 'list' },
  { flag: 'debug', env: 'T_DEBUG', path: 'server.debug', type: 'boolean' },
];
const load = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  loadConfig({ command: 'test', schema, bindings, argv, env, configEnv: 'T_CONFIG' });

function throwsSetting(fn: () => unknown, setting: string, problem?: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.setting, setting);
    if (problem) assert.match(err.problem, problem);
    return true;
  });
}

describe('config loading', () => {
  it('fills defaults when nothing is given', () => {
    const { config } = load([]);
    assert.equal(config.server.socket, '/run/x.sock');
    assert.equal(config.server.timeout, 30_000);
    assert.deepEqual(config.server.listen, { host: '127.0.0.1', port: 9464 });
  });

  it('layers file < environment < flag', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'server:\n  socket: /from/file\n  workers: 2\n  timeout: 5m\n');
    const { config } = load(['--config', file, '--workers', '8'], { T_SOCKET: '/from/env', T_WORKERS: '3' });
    assert.equal(config.server.socket, '/from/env');
    assert.equal(config.server.workers, 8);
    assert.equal(config.server.timeout, 300_000);
  });

  it('reads the file named by the config environment variable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'server: {socket: /env/file}\n');
    assert.equal(load([], { T_CONFIG: file }).config.server.socket, '/env/file');
  });

  it('splits and repeats list settings', () => {
    assert.deepEqual(load(['--pinned', 'a,b', '--pinned', 'c']).config.server.pinned, ['a', 'b', 'c']);
    assert.deepEqual(load([], { T_PINNED: 'x, y' }).config.server.pinned, ['x', 'y']);
  });

  it('parses booleans from flags and the environment', () => {
    assert.equal(load(['--debug']).config.server.debug, true);
    assert.equal(load(['--no-debug'], { T_DEBUG: 'true' }).config.server.debug, false);
    assert.equal(load([], { T_DEBUG: 'yes' }).config.server.debug, true);
    throwsSetting(() => load([], { T_DEBUG: 'maybe' }), 'T_DEBUG', /true or false/);
  });

  it('names the flag or variable that holds a bad value', () => {
    throwsSetting(() => load(['--workers', '99']), '--workers', /64/);
    throwsSetting(() => load([], { T_WORKERS: 'many' }), 'T_WORKERS', /number/);
    throwsSetting(() => load(['--timeout', 'soon']), '--timeout', /duration/);
    throwsSetting(() => load(['--listen', 'nowhere']), '--listen', /listen address/);
  });

  it('names the YAML path when the file holds a bad value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'server:\n  pinned: [1, "x"]\n');
    throwsSetting(() => load(['--config', file]), 'server.pinned[0]');
  });

  it('refuses unknown flags, stray arguments, missing and malformed files', () => {
    throwsSetting(() => load(['--nope']), '--nope', /Unknown option/);
    throwsSetting(() => load(['stray']), 'stray', /unexpected/);
    throwsSetting(() => load(['--config', '/does/not/exist.yaml']), '--config', /cannot read/);
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    writeFileSync(join(dir, 'bad.yaml'), 'server: [unclosed\n');
    throwsSetting(() => load(['--config', join(dir, 'bad.yaml')]), '--config', /not valid YAML/);
  });

  it('reports --help without failing validation', () => {
    const loaded = load(['--help']);
    assert.equal(loaded.helpRequested, true);
    assert.match(loaded.help, /--socket VALUE .*T_SOCKET/);
  });
});

describe('durations', () => {
  const table: Array<[string, number | undefined]> = [
    ['500ms', 500], ['30s', 30_000], ['5m', 300_000], ['1h30m', 5_400_000], ['90', 90_000], ['1.5s', 1500],
    ['', undefined], ['5 m', undefined], ['1d', undefined], ['m5', undefined],
  ];
  for (const [text, ms] of table) {
    it(`"${text}" → ${String(ms)}`, () => assert.equal(parseDuration(text), ms));
  }
});
