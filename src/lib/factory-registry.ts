import type { z } from 'zod';
import { ConfigError } from '../config/errors';
import { parseSetting } from '../config/setting';

/**
 * One named way to build a `T` (an image backend, a credential provider, an
 * authenticator, an upstream's credentials): the name the configuration uses,
 * a zod schema for its parameters, checked at start-up, and `create`, which
 * gets the parsed parameters and the dependencies its kind shares.
 */
export interface Factory<P, Deps, T> {
  readonly name: string;
  readonly params: z.ZodType<P>;
  create(params: P, deps: Deps): T;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Named factories of one extension point (distribution's `Register(name,
 * initFunc)`). Each component registers its built-ins in its `builtins.ts`.
 * Registering a bad or duplicate name, naming an unknown one, or parameters
 * that fail the schema are ConfigErrors naming the setting's path, so that
 * start-up stops with one line and exit code 2.
 */
export class Factories<Deps, T> {
  readonly #factories = new Map<string, Factory<unknown, Deps, T>>();

  /** `kind` names the extension point in messages: `image backend`, `authenticator type`… */
  constructor(readonly kind: string) {}

  /** Adds a factory under its name (lower-case letters, digits and dashes). */
  register<P>(factory: Factory<P, Deps, T>): this {
    if (!NAME.test(factory.name)) throw new ConfigError(`${this.kind} "${factory.name}"`, 'must be lower-case letters, digits and dashes');
    if (this.#factories.has(factory.name)) throw new ConfigError(`${this.kind} "${factory.name}"`, 'is already registered');
    this.#factories.set(factory.name, factory as Factory<unknown, Deps, T>);
    return this;
  }

  has(name: string): boolean {
    return this.#factories.has(name);
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.#factories.keys()];
  }

  /** The factory for `name`, or undefined. */
  get(name: string): Factory<unknown, Deps, T> | undefined {
    return this.#factories.get(name);
  }

  /** The factory for `name`; an unknown name is a ConfigError at `setting`. */
  require(name: string, setting: string): Factory<unknown, Deps, T> {
    const factory = this.#factories.get(name);
    if (!factory) throw new ConfigError(setting, this.unknownMessage(name));
    return factory;
  }

  /** `unknown <kind> "<name>" (known: a, b)`: the one wording for a name nobody registered. */
  unknownMessage(name: string): string {
    return `unknown ${this.kind} "${name}" (known: ${this.names().join(', ')})`;
  }

  /** Checks `raw` parameters against the named factory's schema; problems are ConfigErrors under `setting`. */
  parse(name: string, raw: unknown, setting: string): unknown {
    return parseSetting(this.require(name, setting).params, raw, setting);
  }

  /** Parses `raw` and creates the named thing. `setting` is where its parameters were written. */
  create(name: string, raw: unknown, deps: Deps, setting: string): T {
    const factory = this.require(name, setting);
    return factory.create(parseSetting(factory.params, raw, setting), deps);
  }
}
