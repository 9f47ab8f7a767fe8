import assert from 'node:assert/strict';
import { commands } from '../../bin/commands';
import type { Command, Subcommand } from '../../src/cli/command';
import { fieldAt, fieldDefault, showDefault } from '../../src/config/help';
import type { FlagTable } from '../../src/config/load';
import { runCli } from '../support/cri-cli';

/**
 * `imagegate --help` and `imagegate <command> [<subcommand>] --help`, run as
 * the real CLI, against each command's flag table (bin/commands.ts is the one
 * list): every command and subcommand is listed, every flag of the table is in
 * the help with its short form, its variable and the default its schema (or
 * embedded defaults) gives, no flag is in the help that the table lacks, every
 * flag is bound to a field the schema has, and no binding writes a default of
 * its own beside the schema's.
 */
describe('CLI help lists every flag and subcommand', function () {
  this.timeout(180_000);
  const helps = new Map<string, string>();

  const targets: { argv: string[]; flags?: FlagTable; subcommands?: readonly Subcommand[] }[] = [];
  for (const c of commands as Command[]) {
    targets.push({ argv: [c.name], flags: c.flags, subcommands: c.subcommands });
    for (const s of c.subcommands ?? []) if (s.flags) targets.push({ argv: [c.name, s.name], flags: s.flags });
  }

  before(async () => {
    const { code, stdout } = await runCli(['--help']);
    assert.equal(code, 0);
    helps.set('', stdout);
    // Two at a time: each is a Node process on a shared 2-core machine.
    const queue = [...targets];
    await Promise.all(
      [0, 1].map(async () => {
        for (let t = queue.shift(); t; t = queue.shift()) {
          const run = await runCli([...t.argv, '--help']);
          assert.equal(run.code, 0, `imagegate ${t.argv.join(' ')} --help exited ${run.code}: ${run.stderr}`);
          helps.set(t.argv.join(' '), run.stdout);
        }
      }),
    );
  });

  it('imagegate --help names every command and every subcommand', () => {
    const top = helps.get('')!;
    for (const c of commands) {
      assert.match(top, new RegExp(`^  ${c.name} `, 'm'), c.name);
      for (const s of c.subcommands ?? []) assert.match(top, new RegExp(`^  ${c.name} ${s.name} `, 'm'), `${c.name} ${s.name}`);
    }
    for (const name of ['help', 'version']) assert.match(top, new RegExp(`^  ${name} `, 'm'), name);
  });

  it('each command with subcommands lists them in its own --help', () => {
    for (const t of targets.filter((x) => x.subcommands?.length)) {
      const help = helps.get(t.argv.join(' '))!;
      assert.match(help, /^subcommands:$/m, t.argv.join(' '));
      for (const s of t.subcommands!) assert.match(help, new RegExp(`^  ${s.name} +\\S`, 'm'), `${t.argv.join(' ')} ${s.name}`);
    }
  });

  it('each command that reads flags has a flag table (serve alone takes none)', () => {
    assert.deepEqual(commands.filter((c) => !c.flags).map((c) => c.name), ['serve']);
  });

  it("each --help shows exactly its table's flags, with short form, variable and the schema's default", () => {
    let checked = 0;
    for (const t of targets.filter((x) => x.flags)) {
      const name = t.argv.join(' ');
      const rows = flagRows(helps.get(name)!);
      const { schema, bindings, defaults } = t.flags!;
      assert.deepEqual([...rows.keys()].sort(), ['config', 'help', ...bindings.map((b) => b.flag)].sort(), `${name}: flags in --help`);
      for (const b of bindings) {
        const row = rows.get(b.flag)!;
        const field = fieldAt(schema, b.path);
        assert.ok(field, `${name} --${b.flag}: bound to ${b.path}, which the schema does not have`);
        if (b.short) assert.ok(row.startsWith(`-${b.short}, --${b.flag}`), `${name} --${b.flag}: -${b.short} in ${row}`);
        if (b.env) assert.ok(row.includes(`(env ${b.env})`), `${name} --${b.flag}: ${b.env} in ${row}`);
        const shown = showDefault(fieldDefault(field)) ?? showDefault(valueAt(defaults, b.path));
        if (shown !== undefined) {
          assert.ok(row.includes(`(default ${shown})`), `${name} --${b.flag}: default ${shown} in ${row}`);
          assert.ok(!/\bdefault\b/i.test(b.help ?? ''), `${name} --${b.flag}: its help writes a default beside the schema's: ${b.help}`);
        }
        checked++;
      }
    }
    assert.ok(checked > 60, `${checked} flags checked`);
  });
});

/** The flag rows of a help text: flag name → the whole row. */
function flagRows(help: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of help.split('\n')) {
    const m = /^  (?:-\w, )?--([a-z][a-z0-9-]*)/.exec(line);
    if (m) rows.set(m[1], line.trim());
  }
  return rows;
}

function valueAt(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[key] : undefined;
  return current;
}
