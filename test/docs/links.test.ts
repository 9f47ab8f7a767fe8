/**
 * Every relative link in README.md and docs/*.md points to a file or folder
 * that exists, and every `#anchor` to a heading of the page it names (GitHub's
 * anchor rules). External links (http, https, mailto) are not fetched.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { anchors, links, markdownFiles, readDoc, ROOT } from '../support/docs';

describe('docs: relative links and anchors', () => {
  const files = markdownFiles();

  it('finds the README and the docs pages', () => {
    assert.ok(files.length >= 10, files.join(', '));
  });

  for (const file of files) {
    it(`${file}: every relative link resolves`, () => {
      const broken: string[] = [];
      for (const { target, line } of links(readDoc(file))) {
        if (/^[a-z]+:/i.test(target)) continue;
        const [path, hash] = target.split('#');
        const resolved = path === '' ? file : normalize(join(dirname(file), path));
        if (!existsSync(join(ROOT, resolved))) {
          broken.push(`${file}:${line}: ${target} (no ${resolved})`);
          continue;
        }
        if (hash !== undefined) {
          if (!resolved.endsWith('.md')) broken.push(`${file}:${line}: ${target} (an anchor into a file that is not Markdown)`);
          else if (!anchors(readDoc(resolved)).has(hash)) broken.push(`${file}:${line}: ${target} (no heading #${hash} in ${resolved})`);
        }
      }
      assert.deepEqual(broken, []);
    });
  }
});
