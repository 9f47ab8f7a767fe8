import type { Image__Output } from '../../generated/runtime/v1/Image';
import type { ImageFsInfoResponse__Output } from '../../generated/runtime/v1/ImageFsInfoResponse';

/** `1.9MB`, `18.8MB`, `512B`: decimal units, as docker and crictl print sizes. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)}${units[unit]}`;
}

/** Lays out rows under headers with two spaces between columns. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [headers, ...rows].map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]))).join('  ')).join('\n') + '\n';
}

/** One row per tag (or one `<none>` row), as `crictl images` prints them. */
export function imagesTable(images: Image__Output[], verbose: boolean): string {
  const rows: string[][] = [];
  for (const image of images) {
    const names = image.repoTags.length > 0 ? image.repoTags : image.repoDigests.map((d) => d.split('@')[0] + ':<none>');
    for (const name of names.length > 0 ? names : ['<none>:<none>']) {
      const colon = name.lastIndexOf(':');
      const repository = name.slice(0, colon);
      const digest = image.repoDigests.find((d) => d.startsWith(`${repository}@`))?.split('@')[1] ?? '<none>';
      const id = image.id.replace(/^sha256:/, '').slice(0, 13);
      const row = [repository, name.slice(colon + 1), id, humanSize(Number(image.size))];
      rows.push(verbose ? [...row.slice(0, 2), digest.slice(0, 19), ...row.slice(2)] : row);
    }
  }
  const headers = verbose ? ['IMAGE', 'TAG', 'DIGEST', 'IMAGE ID', 'SIZE'] : ['IMAGE', 'TAG', 'IMAGE ID', 'SIZE'];
  return table(headers, rows);
}

/** One row per image and container filesystem. */
export function fsInfoTable(info: ImageFsInfoResponse__Output): string {
  const rows = [
    ...info.imageFilesystems.map((fs) => ['image', fs]),
    ...info.containerFilesystems.map((fs) => ['container', fs]),
  ].map(([kind, fs]) => {
    const usage = fs as ImageFsInfoResponse__Output['imageFilesystems'][number];
    return [kind as string, usage.fsId?.mountpoint ?? '', humanSize(Number(usage.usedBytes?.value ?? 0)), usage.inodesUsed?.value ?? '0'];
  });
  return table(['FILESYSTEM', 'MOUNTPOINT', 'USED', 'INODES USED'], rows);
}

/** JSON as the CLI prints it: two-space indented, one trailing newline. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}
