import type Docker from 'dockerode';
import type { Image } from '../../generated/runtime/v1/Image';
import { BoundedCache } from '../../lib/bounded-cache';
import { normaliseReference } from '../reference';

/** The parts of Docker's image inspect and list answers that make a CRI Image. */
export interface DockerImageFacts {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Size: number;
  /** Only from inspect; list answers lack it. */
  Config?: { User?: string } | null;
}

/**
 * Builds the CRI Image: `id` is Docker's image ID (`sha256:<config digest>`),
 * tags and digests fully qualified (`docker.io/library/busybox:latest`),
 * uid or username from the image config's `User` (`user:group` takes the user).
 */
export function toCriImage(facts: DockerImageFacts, user: string | undefined): Image {
  const image: Image = {
    id: facts.Id,
    repoTags: qualify(facts.RepoTags),
    repoDigests: qualify(facts.RepoDigests),
    size: String(Math.max(facts.Size, 1)),
    uid: null,
    username: '',
    spec: null,
    pinned: false,
  };
  const name = (user ?? '').split(':')[0];
  if (/^\d+$/.test(name)) image.uid = { value: name };
  else image.username = name;
  return image;
}

/** The verbose `info` of ImageStatus: one `info` key holding JSON, as cri-dockerd and containerd do. */
export function verboseInfo(inspect: Docker.ImageInspectInfo): Record<string, string> {
  return {
    info: JSON.stringify({
      id: inspect.Id,
      created: inspect.Created,
      architecture: inspect.Architecture,
      os: inspect.Os,
      labels: inspect.Config?.Labels ?? {},
      imageSpec: { config: inspect.Config, rootfs: inspect.RootFS },
    }),
  };
}

/** Docker's names, fully qualified; each spelling is parsed once (bounded memo) so long lists stay cheap. */
function qualify(names: string[] | null | undefined): string[] {
  const out: string[] = [];
  for (const name of names ?? []) {
    if (!name.startsWith('<none>')) out.push(qualified(name));
  }
  return out;
}

const MEMO_MAX = 20_000;
const memo = new BoundedCache<string, string>({ max: MEMO_MAX });

function qualified(name: string): string {
  let full = memo.get(name);
  if (full === undefined) {
    try {
      full = normaliseReference(name);
    } catch {
      full = name;
    }
    memo.set(name, full);
  }
  return full;
}
