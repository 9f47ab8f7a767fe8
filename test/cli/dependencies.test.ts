import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * Which top-level folders each folder may import from: one way only. src/ is
 * the parts and shared pieces; hostpatch/ builds on src/; bin/ is the edge
 * that assembles the command list from both; testing/ holds the stand-ins and
 * test servers that test/ and bench/ share; nothing imports test/ but test/.
 */
const ALLOWED: Record<string, string[]> = {
  src: ['src'],
  hostpatch: ['hostpatch', 'src'],
  bin: ['bin', 'src', 'hostpatch'],
  testing: ['testing', 'src', 'hostpatch', 'bin'],
  bench: ['bench', 'testing', 'src', 'hostpatch', 'bin'],
  test: ['test', 'testing', 'src', 'hostpatch', 'bin'],
};

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]*)['"]/gm;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === 'generated' ? [] : sources(path);
    return /\.(ts|cjs|js)$/.test(e.name) ? [path] : [];
  });
}

/** Every relative import in the tree as [importing file, top-level folder it reaches], both relative to the repository. */
function imports(): { file: string; target: string }[] {
  return Object.keys(ALLOWED).flatMap((top) =>
    sources(join(ROOT, top)).flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(SPECIFIER)].map((m) => ({
        file: relative(ROOT, file),
        target: relative(ROOT, resolve(dirname(file), m[1])).split('/')[0],
      })),
    ),
  );
}

describe('dependencies between the top-level folders go one way', () => {
  const found = imports();

  it('finds the imports it checks (the scan is not empty)', () => {
    assert.ok(found.length > 1000, `${found.length} imports`);
    assert.ok(found.some((i) => i.file.startsWith('hostpatch/') && i.target === 'src'), 'hostpatch imports src');
    assert.ok(found.some((i) => i.file.startsWith('bench/') && i.target === 'testing'), 'bench imports testing');
  });

  for (const [top, allowed] of Object.entries(ALLOWED)) {
    it(`${top}/ imports only ${allowed.join(', ')}`, () => {
      const wrong = found.filter((i) => i.file.startsWith(`${top}/`) && !allowed.includes(i.target)).map((i) => `${i.file} → ${i.target}/`);
      assert.deepEqual(wrong, []);
    });
  }
});
