/**
 * Every code block in README.md and docs/*.md either runs as written or says
 * it is a fragment: the line before it is `<!-- fragment: why -->`,
 * `<!-- checked: test/… -->` (a test that loads it, which must exist and read
 * that page) or `<!-- readme-test: name -->` (run by readme-commands.test.ts).
 * The blocks this file checks itself go through the real validation.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadImageServiceConfig } from '../../src/cri/config';
import { registrySchema } from '../../src/registry/config';
import { codeBlocks, markdownFiles, readDoc, ROOT } from '../support/docs';

const THIS_TEST = 'test/docs/doc-blocks.test.ts';

/** Blocks marked as checked by this test, by the name in brackets after it: `<!-- checked: test/docs/doc-blocks.test.ts (image-service) -->`. */
function checkedHere(file: string, name: string) {
  const blocks = codeBlocks(readDoc(file)).filter((b) => b.marker === `checked: ${THIS_TEST} (${name})`);
  assert.equal(blocks.length, 1, `${file} has one block checked here as "${name}"`);
  return blocks[0];
}

describe('docs: every code block runs as written or is marked a fragment', () => {
  for (const file of markdownFiles()) {
    it(`${file}: every block is marked`, () => {
      const problems: string[] = [];
      for (const block of codeBlocks(readDoc(file))) {
        const marker = block.marker ?? '';
        const checked = /^checked: (\S+)/.exec(marker);
        if (/^fragment: \S/.test(marker) || /^readme-test: \S+$/.test(marker)) continue;
        if (!checked) {
          problems.push(`${file}:${block.line}: a ${block.lang || 'plain'} block with no <!-- fragment: … -->, <!-- checked: … --> or <!-- readme-test: … --> line before it`);
          continue;
        }
        const test = checked[1];
        if (!existsSync(join(ROOT, test))) problems.push(`${file}:${block.line}: ${test} does not exist`);
        else if (!readFileSync(join(ROOT, test), 'utf8').includes(file)) problems.push(`${file}:${block.line}: ${test} does not read ${file}`);
      }
      assert.deepEqual(problems, []);
    });
  }

  it('README.md stays short (at most 250 lines) and links every docs page', () => {
    const readme = readDoc('README.md');
    assert.ok(readme.split('\n').length <= 250, `README.md has ${readme.split('\n').length} lines`);
    const pages = markdownFiles().filter((f) => f.startsWith('docs/'));
    assert.deepEqual(pages.filter((page) => !readme.includes(`](${page})`)), [], 'docs pages the README does not link');
  });

  it('docs/image-service.md: the example file loads as the image service configuration', () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagegate-docs-'));
    const file = join(dir, 'image-service.yaml');
    writeFileSync(file, checkedHere('docs/image-service.md', 'image-service').body);
    const { config } = loadImageServiceConfig(['--config', file], {});
    assert.deepEqual(config.pinnedImages, ['registry.k8s.io/pause:3.10']);
    assert.equal(config.pullProgressTimeout, 120_000);
  });

  it('docs/registry.md: the upstream examples are a valid registry section', () => {
    const block = parse(checkedHere('docs/registry.md', 'registry schema').body) as { registry: unknown };
    const config = registrySchema.parse(block.registry);
    assert.deepEqual(config.upstreams.map((u) => [u.name, Object.keys(u.auth).find((k) => u.auth[k as keyof typeof u.auth] !== undefined)]), [
      ['ecr', 'ecr'], ['docker-hub', 'anonymous'], ['docker-hub-private', 'basic'], ['gar-minted', 'gcp'], ['gar', 'basic'],
    ]);
  });
});
