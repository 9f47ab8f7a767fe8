/**
 * Reading the project's Markdown (README.md and docs/*.md) in tests: pages,
 * sections by heading, fenced code blocks with the HTML comment marker on the
 * line before them (`<!-- fragment: … -->`, `<!-- checked: … -->`,
 * `<!-- readme-test: … -->`), links and heading anchors as GitHub makes them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(__dirname, '../..');

/** README.md and every docs/*.md, as paths relative to the repository root. */
export function markdownFiles(root = ROOT): string[] {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

export function readDoc(relative: string, root = ROOT): string {
  return readFileSync(join(root, relative), 'utf8');
}

/** The text under the heading `heading` (any level) up to the next heading of the same or a higher level. */
export function section(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => /^#{1,6} /.test(l) && l.replace(/^#+ /, '') === heading);
  if (start < 0) throw new Error(`no heading "${heading}"`);
  const level = /^#+/.exec(lines[start])![0].length;
  let end = lines.length;
  let inCode = false;
  for (let i = start + 1; i < lines.length; i++) {
    if (lines[i].startsWith('```')) inCode = !inCode;
    const m = !inCode && /^(#+) /.exec(lines[i]);
    if (m && m[1].length <= level) {
      end = i;
      break;
    }
  }
  return lines.slice(start + 1, end).join('\n');
}

export interface CodeBlock {
  lang: string;
  body: string;
  /** The HTML comment on the line before the fence, without `<!--`/`-->`, e.g. `fragment: needs root`. */
  marker?: string;
  /** 1-based line of the opening fence. */
  line: number;
}

/** Every fenced code block of `text`, with its marker. */
export function codeBlocks(text: string): CodeBlock[] {
  const lines = text.split('\n');
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && l.startsWith('```'));
    if (end < 0) throw new Error(`unclosed code block at line ${i + 1}`);
    const before = i > 0 ? /^<!--\s*(.*?)\s*-->$/.exec(lines[i - 1].trim()) : null;
    blocks.push({ lang: open[1], body: lines.slice(i + 1, end).join('\n') + '\n', marker: before?.[1], line: i + 1 });
    i = end;
  }
  return blocks;
}

/** The blocks marked `<!-- readme-test: name -->`, by name. */
export function testBlocks(text: string): Map<string, CodeBlock> {
  const found = new Map<string, CodeBlock>();
  for (const block of codeBlocks(text)) {
    const m = /^readme-test:\s*(\S+)$/.exec(block.marker ?? '');
    if (m) found.set(m[1], block);
  }
  return found;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped except `-` and `_`, spaces to `-`. */
export function anchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of every heading outside code blocks (duplicates get `-1`, `-2`, as on GitHub). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let inCode = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const m = !inCode && /^#{1,6} (.*)$/.exec(line);
    if (!m) continue;
    const base = anchor(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Markdown links `[text](target)` outside code blocks and inline code, with their line. */
export function links(text: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  let inCode = false;
  text.split('\n').forEach((line, i) => {
    if (line.startsWith('```')) inCode = !inCode;
    if (inCode) return;
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) out.push({ target: m[1], line: i + 1 });
  });
  return out;
}
