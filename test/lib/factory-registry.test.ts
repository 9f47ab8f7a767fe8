import assert from 'node:assert/strict';
import { z } from 'zod';
import { ConfigError } from '../../src/config/errors';
import { parseSetting } from '../../src/config/setting';
import { Factories, type Factory } from '../../src/lib/factory-registry';

const greeter: Factory<{ greeting: string; times: number }, { suffix: string }, string> = {
  name: 'greeter',
  params: z.strictObject({ greeting: z.string().min(1), times: z.number().int().positive().default(1), nested: z.strictObject({ a: z.number() }).optional() }),
  create: (p, deps) => `${p.greeting.repeat(p.times)}${deps.suffix}`,
};

function configError(path: string, problem: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof ConfigError && err.setting === path && problem.test(err.problem);
}

describe('lib: the factory registry', () => {
  it('creates by name with the parameters its schema parsed (defaults applied) and the shared deps', () => {
    const f = new Factories<{ suffix: string }, string>('greeting').register(greeter);
    assert.equal(f.create('greeter', { greeting: 'hi' }, { suffix: '!' }, 'x.greeter'), 'hi!');
    assert.equal(f.create('greeter', { greeting: 'ho', times: 2 }, { suffix: '' }, 'x.greeter'), 'hoho');
    assert.deepEqual(f.names(), ['greeter']);
    assert.ok(f.has('greeter') && !f.has('other'));
  });

  it('names the setting’s path in every problem with the parameters', () => {
    const f = new Factories<{ suffix: string }, string>('greeting').register(greeter);
    const deps = { suffix: '' };
    const table: [unknown, string, RegExp][] = [
      [{}, 'a.b[2].greeter.greeting', /expected string/i],
      [{ greeting: '' }, 'a.b[2].greeter.greeting', /./],
      [{ greeting: 'x', times: 0 }, 'a.b[2].greeter.times', /./],
      [{ greeting: 'x', typo: 1 }, 'a.b[2].greeter.typo', /^unknown setting$/],
      [{ greeting: 'x', nested: { a: 'no' } }, 'a.b[2].greeter.nested.a', /./],
      [{ greeting: 'x', nested: { a: 1, b: 1 } }, 'a.b[2].greeter.nested.b', /^unknown setting$/],
    ];
    for (const [raw, path, problem] of table) {
      assert.throws(() => f.create('greeter', raw, deps, 'a.b[2].greeter'), configError(path, problem), JSON.stringify(raw));
    }
  });

  it('refuses an unknown name with the one wording, listing what is registered in order', () => {
    const f = new Factories<unknown, string>('widget')
      .register({ name: 'b-one', params: z.object({}), create: () => 'b' })
      .register({ name: 'a-two', params: z.object({}), create: () => 'a' });
    assert.throws(() => f.create('nope', {}, undefined, 'widgets[0]'), configError('widgets[0]', /^unknown widget "nope" \(known: b-one, a-two\)$/));
    assert.equal(f.get('nope'), undefined);
  });

  it('refuses a duplicate or badly formed name at registration', () => {
    const f = new Factories<unknown, string>('widget').register({ name: 'one', params: z.object({}), create: () => '' });
    assert.throws(() => f.register({ name: 'one', params: z.object({}), create: () => '' }), (e: unknown) => e instanceof ConfigError && /"one": is already registered/.test(e.message));
    for (const name of ['My Type', '', '1st', 'a_b', 'x'.repeat(64)]) {
      assert.throws(() => f.register({ name, params: z.object({}), create: () => '' }), ConfigError, name);
    }
  });

  it('parseSetting treats absent parameters as {}', () => {
    assert.deepEqual(parseSetting(z.strictObject({ n: z.number().default(3) }), undefined, 'p'), { n: 3 });
  });
});
