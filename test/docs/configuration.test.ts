/**
 * docs/configuration.md is checked against the code: every key of the zod
 * schemas (image service, credential rules and each provider's `with:`,
 * credential provider, the registry facade's file with each upstream auth
 * kind and each authenticator's options) appears in the page's YAML blocks,
 * and every key there exists in a schema. Every flag and environment
 * variable of each command appears in that command's section, and every
 * flag the section names exists.
 */
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import type { z } from 'zod';
import { bindings as hostpatchBindings } from '../../hostpatch/command';
import type { Binding } from '../../src/config/load';
import { pluginBindings } from '../../src/credential-provider/args';
import { pluginSchema } from '../../src/credential-provider/settings';
import { builtinProviderFactories } from '../../src/credentials/providers';
import { imageServiceBindings, imageServiceSchema } from '../../src/cri/config';
import { bindings as outboundBindings } from '../../src/outbound/bindings';
import { schema as awsIam } from '../../src/registry/auth/authenticators/aws-iam';
import { schema as htpasswd } from '../../src/registry/auth/authenticators/htpasswd';
import { schema as jwt } from '../../src/registry/auth/authenticators/jwt';
import { schema as ldap } from '../../src/registry/auth/authenticators/ldap';
import { schema as moduleOptions } from '../../src/registry/auth/authenticators/module';
import { schema as introspection } from '../../src/registry/auth/authenticators/oauth2-introspection';
import { schema as staticUsers } from '../../src/registry/auth/authenticators/static';
import { schema as webhook } from '../../src/registry/auth/authenticators/webhook';
import { bindings as registryBindings, schema as registryFileSchema } from '../../src/registry/command';
import { codeBlocks, readDoc, section } from '../support/docs';

/** The authenticator types of `registry.auth.chain`, by the name the config gives them. */
const AUTHENTICATORS: Record<string, z.ZodType> = {
  htpasswd, static: staticUsers, jwt, 'aws-iam': awsIam, ldap, 'oauth2-introspection': introspection, webhook, module: moduleOptions,
};

type Def = { type: string; shape?: Record<string, z.ZodType>; element?: z.ZodType; innerType?: z.ZodType; in?: z.ZodType };
const def = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

/**
 * Key paths of a schema: `a.b`, list items as `a[]`. A path whose value is a
 * record, `unknown` or a union is a leaf; it is "open" when it holds keys of
 * its own choosing (record, unknown), so documented keys below it are fine.
 */
function schemaPaths(schema: z.ZodType, prefix: string, out: Map<string, boolean>): void {
  const d = def(schema);
  switch (d.type) {
    case 'optional': case 'nullable': case 'default': case 'prefault': case 'readonly': case 'catch':
      return schemaPaths(d.innerType!, prefix, out);
    case 'pipe':
      return schemaPaths(d.in!, prefix, out);
    case 'array':
      return schemaPaths(d.element!, `${prefix}[]`, out);
    case 'object':
      for (const [key, child] of Object.entries(d.shape ?? {})) {
        const path = prefix ? `${prefix}.${key}` : key;
        out.set(path, false);
        schemaPaths(child, path, out);
      }
      return;
    case 'record': case 'unknown': case 'any':
      if (prefix) out.set(prefix, true);
      return;
    default:
      return;
  }
}

/** Every key path the code accepts, with the provider and authenticator schemas put where the config names them. */
function codePaths(): Map<string, boolean> {
  const paths = new Map<string, boolean>();
  schemaPaths(imageServiceSchema, '', paths);
  schemaPaths(pluginSchema, '', paths);
  schemaPaths(registryFileSchema, '', paths);
  const withPath = 'credentials.rules[].with';
  assert.equal(paths.get(withPath), true, `${withPath} is the providers' open record`);
  paths.delete(withPath);
  for (const name of builtinProviderFactories.names()) {
    paths.set(`${withPath}<${name}>`, false);
    schemaPaths(builtinProviderFactories.get(name)!.params, `${withPath}<${name}>`, paths);
  }
  const chain = 'registry.auth.chain[]';
  assert.equal(paths.get(chain), true, `${chain} is open in the registry schema`);
  paths.delete(chain);
  paths.set(`${chain}.name`, false);
  for (const [type, schema] of Object.entries(AUTHENTICATORS)) {
    paths.set(`${chain}.${type}`, false);
    schemaPaths(schema, `${chain}.${type}`, paths);
  }
  return paths;
}

/** Key paths of a parsed YAML value, in the same notation; a rule's `with` is qualified by its provider. */
function yamlPaths(value: unknown, prefix: string, out: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) yamlPaths(item, `${prefix}[]`, out);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  const object = value as Record<string, unknown>;
  for (const [key, child] of Object.entries(object)) {
    const name = key === 'with' && prefix === 'credentials.rules[]' && typeof object.provider === 'string' ? `with<${object.provider}>` : key;
    const path = prefix ? `${prefix}.${name}` : name;
    out.add(path);
    yamlPaths(child, path, out);
  }
}

function documentedPaths(page: string): Set<string> {
  const out = new Set<string>();
  for (const block of codeBlocks(page).filter((b) => b.lang === 'yaml')) yamlPaths(parse(block.body), '', out);
  return out;
}

/** The flags named in the first column of the tables of `text`. */
function tableFlags(text: string): Set<string> {
  const flags = new Set<string>();
  for (const line of text.split('\n').filter((l) => l.startsWith('| `--'))) {
    for (const m of line.split('|')[1].matchAll(/`--([a-z0-9-]+)`/g)) flags.add(m[1]);
  }
  return flags;
}

describe('docs/configuration.md against the schemas and flags', () => {
  const page = readDoc('docs/configuration.md');
  const code = codePaths();
  const documented = documentedPaths(page);

  it('walks schemas of every command (sanity)', () => {
    for (const path of ['socket', 'credentials.rules[].match.registry', 'credentials.rules[].with<sts-jwt>.audiences', 'credentialProvider.serviceAccount.fallback',
      'registry.upstreams[].auth.basic.password.env', 'registry.cache.blobs.dir', 'registry.auth.chain[].ldap.bindDN', 'log.level']) {
      assert.ok(code.has(path), path);
    }
  });

  it('documents every key the schemas accept', () => {
    const missing = [...code.keys()].filter((path) => !documented.has(path));
    assert.deepEqual(missing, [], 'keys in the schemas but not in docs/configuration.md');
  });

  it('documents no key the schemas would refuse', () => {
    const unknown = [...documented].filter((path) => {
      if (code.has(path)) return false;
      const parts = path.split('.');
      for (let i = parts.length - 1; i > 0; i--) {
        const prefix = parts.slice(0, i).join('.');
        if (code.has(prefix)) return code.get(prefix) !== true;
      }
      return true;
    });
    assert.deepEqual(unknown, [], 'keys in docs/configuration.md that no schema has');
  });

  const commands: [string, Binding[]][] = [
    ['Image service', imageServiceBindings],
    ['Credential provider', pluginBindings],
    ['Registry facade (`registry:`)', registryBindings],
    ['Outbound proxy', outboundBindings],
    ['Host patcher', hostpatchBindings],
  ];
  for (const [heading, bindings] of commands) {
    it(`"${heading}": every flag and environment variable, and no other flag`, () => {
      const text = section(page, heading);
      const flags = tableFlags(text);
      const missing = bindings.flatMap((b) => [
        ...(flags.has(b.flag) ? [] : [`--${b.flag}`]),
        ...(b.env && !text.includes(`\`${b.env}\``) ? [b.env] : []),
      ]);
      assert.deepEqual(missing, [], `not in the "${heading}" section`);
      const known = new Set([...bindings.map((b) => b.flag), 'config', 'help']);
      assert.deepEqual([...flags].filter((f) => !known.has(f)), [], `flags in the "${heading}" section that the command does not have`);
    });
  }
});
