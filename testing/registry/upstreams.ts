/**
 * The facade's test upstreams, started by .ci/services/60-registry-upstreams.sh
 * (see that script for what each one is). All hold test/busybox:1, :2, :3,
 * :oci and test/large:1.
 */
export const upstreams = {
  /** docker-registry with htpasswd Basic auth. */
  basic: '127.0.0.1:5010',
  /** docker-registry with `auth: token`. */
  token: '127.0.0.1:5011',
  /** Its token issuer; GET /stats → {issued}. */
  issuer: '127.0.0.1:5012',
  /** nginx front of `basic` redirecting blob GETs to the storage host 127.0.0.2:5015 (which refuses Authorization). */
  redirecting: '127.0.0.1:5013',
  /** The storage host the redirecting front sends blob GETs to. */
  storage: '127.0.0.2:5015',
  /** nginx front of `basic` redirecting blob GETs with a relative Location. */
  relative: '127.0.0.1:5016',
  /** docker-registry over the same storage as `basic`, accepting user AWS with the AWS stand-in's ECR password. */
  ecr: '127.0.0.1:5017',
  user: 'upstream',
  password: 'upstream-s3cret',
  /** Where the token registry keeps its files (the benchmark writes blobs there). */
  tokenStorage: '.ci/work/registry-upstreams/storage-b',
} as const;
