import type { HostFs } from './host';

/** Directories systemd reads unit files from, highest priority first (`/etc` > `/run` > `/usr/lib`). */
export const UNIT_DIRS = ['/etc/systemd/system', '/run/systemd/system', '/usr/lib/systemd/system', '/lib/systemd/system'];

/** One `Key=value` line of a unit file, with continuation lines joined. */
export interface UnitEntry {
  section: string;
  key: string;
  value: string;
}

/** Parses a unit file or drop-in: sections, comments (`#`, `;`), trailing-backslash continuations. */
export function parseUnit(text: string): UnitEntry[] {
  const entries: UnitEntry[] = [];
  let section = '';
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i].trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[') && line.endsWith(']')) {
      section = line.slice(1, -1);
      continue;
    }
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = line.slice(0, -1) + ' ' + lines[++i].trim();
    }
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    entries.push({ section, key: line.slice(0, eq).trim(), value: line.slice(eq + 1).trim() });
  }
  return entries;
}

/** A unit file or drop-in the kubelet unit is made of, as a host path with its text. */
export interface UnitSource {
  hostPath: string;
  text: string;
}

/** The kubelet unit as systemd would load it: the fragment, then the drop-ins in systemd's order. */
export interface LoadedUnit {
  fragment?: UnitSource;
  dropIns: UnitSource[];
}

/**
 * Finds a unit's fragment (first of /etc, /run, /usr/lib, /lib) and its
 * `*.conf` drop-ins, ordered by file name across all directories; of two
 * drop-ins with one name the one in the higher-priority directory wins.
 * `exclude` names drop-ins to leave out (the patcher's own).
 */
export async function loadUnit(host: HostFs, unit: string, exclude: string[] = []): Promise<LoadedUnit> {
  let fragment: UnitSource | undefined;
  for (const dir of UNIT_DIRS) {
    const text = await host.read(`${dir}/${unit}`);
    if (text !== undefined) {
      fragment = { hostPath: `${dir}/${unit}`, text };
      break;
    }
  }
  const byName = new Map<string, UnitSource>();
  for (const dir of UNIT_DIRS) {
    for (const name of await host.list(`${dir}/${unit}.d`)) {
      if (!name.endsWith('.conf') || byName.has(name) || exclude.includes(name)) continue;
      const text = await host.read(`${dir}/${unit}.d/${name}`);
      if (text !== undefined) byName.set(name, { hostPath: `${dir}/${unit}.d/${name}`, text });
    }
  }
  const dropIns = [...byName.keys()].sort().map((name) => byName.get(name)!);
  return { fragment, dropIns };
}

/** The `ExecStart=` lines in effect after the fragment and every drop-in (an empty `ExecStart=` resets the list). */
export function effectiveExecStart(unit: LoadedUnit): string[] {
  let exec: string[] = [];
  for (const source of [...(unit.fragment ? [unit.fragment] : []), ...unit.dropIns]) {
    for (const e of parseUnit(source.text)) {
      if (e.section !== 'Service' || e.key !== 'ExecStart') continue;
      exec = e.value === '' ? [] : [...exec, e.value];
    }
  }
  return exec;
}

/** The drop-ins (by host path) that set `ExecStart=` and sort after `name`. */
export function laterExecStartDropIns(unit: LoadedUnit, name: string): string[] {
  return unit.dropIns
    .filter((d) => d.hostPath.split('/').pop()! > name)
    .filter((d) => parseUnit(d.text).some((e) => e.section === 'Service' && e.key === 'ExecStart'))
    .map((d) => d.hostPath);
}
