/**
 * The suite every `Upstream` must pass (the contract in
 * src/registry/upstream/upstream.ts), whether it talks HTTP to a registry or
 * decorates another upstream (manifest cache, stale manifests, blob cache):
 * manifests and blobs whose bytes match their digests, HEAD without a body,
 * ranges, tag lists, what the upstream does not know as a RegistryError with
 * its OCI code, the same answer to concurrent callers, and `close()`.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { RegistryError } from '../../src/registry/errors';
import type { Upstream, UpstreamResponse } from '../../src/registry/upstream/upstream';

/** One implementation under test. */
export interface UpstreamSubject {
  /** How it is built, for the suite's title. */
  title: string;
  /** A fresh upstream; closed by the suite after each test. */
  create(): Upstream | Promise<Upstream>;
  /** The name it was configured under. */
  name: string;
  /** A repository (in the upstream's own names) holding `tag`. */
  repository: string;
  tag: string;
}

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
];

async function bytes(body: Readable | undefined): Promise<Buffer> {
  assert.ok(body, 'a GET answers with a body');
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** A digest nothing has: the hash of this text. */
const ABSENT = sha256(Buffer.from('imagegate upstream conformance: no such content'));

async function rejectsWithCode(promise: Promise<UpstreamResponse>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof RegistryError, `a RegistryError, not ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

/** Registers the shared suite for one Upstream implementation. */
export function describeUpstreamConformance(subject: UpstreamSubject): void {
  describe(`Upstream conformance: ${subject.title}`, function () {
    this.timeout(60_000);
    let upstream: Upstream;
    let closed: boolean;
    beforeEach(async () => {
      upstream = await subject.create();
      closed = false;
    });
    afterEach(async () => {
      if (!closed) await upstream.close();
    });

    const manifest = (method: 'GET' | 'HEAD', reference = subject.tag) =>
      upstream.fetch({ kind: 'manifest', method, repository: subject.repository, reference, accept: ACCEPT });
    const blob = (method: 'GET' | 'HEAD', digest: string, range?: string) => upstream.fetch({ kind: 'blob', method, repository: subject.repository, digest, range });

    /** The digest of a blob the tag's manifest (or its first platform's) refers to. */
    async function someBlob(): Promise<string> {
      let res = await manifest('GET');
      let doc = JSON.parse((await bytes(res.body)).toString('utf8')) as { manifests?: { digest: string }[]; config?: { digest: string }; layers?: { digest: string }[] };
      if (doc.manifests) {
        res = await manifest('GET', doc.manifests[0].digest);
        doc = JSON.parse((await bytes(res.body)).toString('utf8'));
      }
      return doc.layers?.[0]?.digest ?? doc.config!.digest;
    }

    it('has its configured name', () => {
      assert.equal(upstream.name, subject.name);
    });

    it('answers a manifest by tag whose bytes match its Docker-Content-Digest, and by that digest', async () => {
      const res = await manifest('GET');
      assert.equal(res.status, 200);
      assert.ok(res.headers['content-type'], 'a content type');
      const body = await bytes(res.body);
      const digest = res.headers['docker-content-digest'];
      assert.equal(digest, sha256(body));
      const byDigest = await manifest('GET', digest);
      assert.equal(byDigest.status, 200);
      assert.deepEqual(await bytes(byDigest.body), body);
    });

    it('answers HEAD for a manifest without a body, with the same digest', async () => {
      const get = await manifest('GET');
      await bytes(get.body);
      const head = await manifest('HEAD');
      assert.equal(head.status, 200);
      assert.equal(head.body, undefined);
      assert.equal(head.headers['docker-content-digest'], get.headers['docker-content-digest']);
    });

    it('answers a blob whose bytes hash to its digest, HEAD with its length, and a range with 206', async () => {
      const digest = await someBlob();
      const res = await blob('GET', digest);
      if (res.status >= 300 && res.status < 400) {
        assert.ok(res.location && /^https?:\/\//.test(res.location), 'a passed redirect is absolute');
        res.body?.destroy();
        return;
      }
      assert.equal(res.status, 200);
      const body = await bytes(res.body);
      assert.equal(sha256(body), digest);
      const head = await blob('HEAD', digest);
      assert.equal(head.status, 200);
      assert.equal(head.body, undefined);
      assert.equal(Number(head.headers['content-length']), body.length);
      const part = await blob('GET', digest, 'bytes=0-9');
      assert.equal(part.status, 206);
      assert.deepEqual(await bytes(part.body), body.subarray(0, 10));
    });

    it('lists the repository’s tags', async () => {
      const res = await upstream.fetch({ kind: 'tags', repository: subject.repository });
      assert.equal(res.status, 200);
      const list = JSON.parse((await bytes(res.body)).toString('utf8')) as { tags: string[] };
      assert.ok(list.tags.includes(subject.tag), JSON.stringify(list));
    });

    it('rejects what the upstream does not know with a RegistryError and its OCI code', async () => {
      await rejectsWithCode(manifest('GET', 'no-such-tag-for-conformance'), 'MANIFEST_UNKNOWN');
      await rejectsWithCode(manifest('GET', ABSENT), 'MANIFEST_UNKNOWN');
      const absentBlob = await blob('GET', ABSENT).catch((err: unknown) => err);
      if (absentBlob instanceof Error) {
        await rejectsWithCode(Promise.reject(absentBlob), 'BLOB_UNKNOWN');
      } else {
        // An upstream in `redirects: pass` mode hands the client the storage host's URL unchecked; that host says 404.
        const passed = absentBlob as UpstreamResponse;
        assert.ok(passed.status >= 300 && passed.status < 400 && passed.location, `BLOB_UNKNOWN or a passed redirect, not ${passed.status}`);
        passed.body?.destroy();
      }
    });

    it('answers 10 concurrent callers alike', async () => {
      const answers = await Promise.all(Array.from({ length: 10 }, async () => {
        const res = await manifest('GET');
        return sha256(await bytes(res.body));
      }));
      assert.equal(new Set(answers).size, 1);
    });

    it('closes once at shutdown, resolving', async () => {
      await bytes((await manifest('GET')).body);
      closed = true;
      assert.equal(await upstream.close(), undefined);
    });
  });
}
