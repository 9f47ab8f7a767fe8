/**
 * The node admission policy (daemonset/base/node-policy.yaml) as rendered by
 * `kubectl kustomize`, its CEL evaluated by a CEL implementation
 * (@marcbachmann/cel-js) against AdmissionRequests shaped as the API server
 * sends them for a `kubectl label`-style merge patch of a Node (operation
 * UPDATE, object and oldObject, userInfo of a bound service-account token
 * with the pod's node in extra). As Kubernetes does: matchConditions first
 * (false → the policy does not apply), then variables, then validations; an
 * evaluation error denies (failurePolicy: Fail). No API server runs here, so
 * this checks the expressions' logic, not the API server's type checker.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { NODE_ANNOTATION, NODE_LABEL } from '../../hostpatch/kube-api';

const run = promisify(execFile);
const ROOT = resolve(__dirname, '../..');
const SA = 'system:serviceaccount:imagegate:imagegate';

interface Policy {
  spec: {
    matchConditions: { name: string; expression: string }[];
    variables: { name: string; expression: string }[];
    validations: { expression: string; message?: string; messageExpression?: string }[];
  };
}
type Evaluate = (expression: string, context: Record<string, unknown>) => unknown;

const node = (name: string, labels: Record<string, string>, annotations: Record<string, string>, spec: Record<string, unknown> = { podCIDR: '10.0.1.0/24', providerID: 'aws:///eu-west-1a/i-0123' }) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels, annotations },
  spec,
  status: { nodeInfo: { kubeletVersion: 'v1.31.2' } },
});
const BASE_LABELS = { 'kubernetes.io/hostname': 'node-a', 'node.kubernetes.io/instance-type': 'm6i.large' };
const BASE_ANNOTATIONS = { 'node.alpha.kubernetes.io/ttl': '0' };

function request(opts: { user?: string; nodeName?: string | null; name?: string; operation?: string; subResource?: string; oldObject: unknown; object: unknown }) {
  const extra = opts.nodeName === null ? undefined : { 'authentication.kubernetes.io/node-name': [opts.nodeName ?? 'node-a'], 'authentication.kubernetes.io/pod-name': ['imagegate-x1'] };
  return {
    request: {
      operation: opts.operation ?? 'UPDATE',
      name: opts.name ?? 'node-a',
      subResource: opts.subResource ?? '',
      userInfo: { username: opts.user ?? SA, groups: ['system:serviceaccounts', 'system:serviceaccounts:imagegate', 'system:authenticated'], ...(extra ? { extra } : {}) },
    },
    object: opts.object,
    oldObject: opts.oldObject,
  };
}

describe('install: the node admission policy (CEL)', function () {
  this.timeout(60_000);
  let policy: Policy;
  let evaluate: Evaluate;

  before(async () => {
    const { stdout } = await run('kubectl', ['kustomize', join(ROOT, 'daemonset/overlays/eks')], { maxBuffer: 8 << 20 });
    policy = YAML.parseAllDocuments(stdout).map((d) => d.toJS()).find((o) => o.kind === 'ValidatingAdmissionPolicy');
    assert.ok(policy, 'the overlay renders the policy');
    const cel = (await import('@marcbachmann/cel-js')) as { evaluate: Evaluate };
    evaluate = cel.evaluate;
  });

  /** 'not-matched' | 'allowed' | the first failing validation's message (or the evaluation error). */
  function admit(req: ReturnType<typeof request>): string {
    for (const c of policy.spec.matchConditions) if (evaluate(c.expression, req) !== true) return 'not-matched';
    const variables: Record<string, unknown> = {};
    for (const v of policy.spec.variables) variables[v.name] = evaluate(v.expression, { ...req, variables });
    for (const v of policy.spec.validations) {
      let ok: unknown;
      try {
        ok = evaluate(v.expression, { ...req, variables });
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
      if (ok !== true) return v.message ?? String(evaluate(v.messageExpression!, { ...req, variables }));
    }
    return 'allowed';
  }

  const unmarked = node('node-a', BASE_LABELS, BASE_ANNOTATIONS);
  const marked = (state: string) => node('node-a', { ...BASE_LABELS, [NODE_LABEL]: state }, { ...BASE_ANNOTATIONS, [NODE_ANNOTATION]: '{"result":"applied"}' });

  it("admits the patcher's label and annotation on its own node (first set, then changed)", () => {
    assert.equal(admit(request({ oldObject: unmarked, object: marked('applied') })), 'allowed');
    assert.equal(admit(request({ oldObject: marked('applied'), object: marked('handover') })), 'allowed');
  });
  it('admits removing its own label', () => {
    assert.equal(admit(request({ oldObject: marked('applied'), object: unmarked })), 'allowed');
  });
  it("denies the same write to another node (a compromised pod labelling node-b)", () => {
    const b = (o: ReturnType<typeof node>) => ({ ...o, metadata: { ...o.metadata, name: 'node-b' } });
    assert.match(admit(request({ name: 'node-b', oldObject: b(unmarked), object: b(marked('applied')) })), /only change its own Node \(node-a\), not node-b/);
  });
  it('denies a token without the node-name extra (hand-minted, or a cluster before 1.30)', () => {
    assert.match(admit(request({ nodeName: null, oldObject: unmarked, object: marked('applied') })), /only change its own Node/);
  });
  it('denies a taint or a cordon on its own node (spec changes)', () => {
    const tainted = node('node-a', BASE_LABELS, BASE_ANNOTATIONS, { podCIDR: '10.0.1.0/24', providerID: 'aws:///eu-west-1a/i-0123', taints: [{ key: 'x', effect: 'NoSchedule' }] });
    assert.match(admit(request({ oldObject: unmarked, object: tainted })), /spec/);
    const cordoned = node('node-a', BASE_LABELS, BASE_ANNOTATIONS, { podCIDR: '10.0.1.0/24', providerID: 'aws:///eu-west-1a/i-0123', unschedulable: true });
    assert.match(admit(request({ oldObject: unmarked, object: cordoned })), /spec/);
  });
  it('denies labels and annotations outside imagegate.dev/: added, changed or removed', () => {
    assert.match(admit(request({ oldObject: unmarked, object: node('node-a', { ...BASE_LABELS, 'node-role.kubernetes.io/control-plane': '' }, BASE_ANNOTATIONS) })), /labels under imagegate\.dev/);
    assert.match(admit(request({ oldObject: unmarked, object: node('node-a', { ...BASE_LABELS, 'node.kubernetes.io/instance-type': 'x' }, BASE_ANNOTATIONS) })), /labels under imagegate\.dev/);
    assert.match(admit(request({ oldObject: unmarked, object: node('node-a', { 'kubernetes.io/hostname': 'node-a' }, BASE_ANNOTATIONS) })), /labels under imagegate\.dev/);
    assert.match(admit(request({ oldObject: unmarked, object: node('node-a', BASE_LABELS, {}) })), /annotations under imagegate\.dev/);
    assert.match(admit(request({ oldObject: unmarked, object: node('node-a', BASE_LABELS, { ...BASE_ANNOTATIONS, 'imagegate.devx/y': '1' }) })), /annotations under imagegate\.dev/);
  });
  it('denies deletes and status writes', () => {
    assert.match(admit(request({ operation: 'DELETE', oldObject: unmarked, object: null })), /only update Node metadata/);
    assert.match(admit(request({ subResource: 'status', oldObject: unmarked, object: unmarked })), /only update Node metadata/);
  });
  it('does not apply to anyone else (kubelet, controllers, admins)', () => {
    assert.equal(admit(request({ user: 'system:node:node-a', oldObject: unmarked, object: marked('applied') })), 'not-matched');
    assert.equal(admit(request({ user: 'system:serviceaccount:other:imagegate', oldObject: unmarked, object: marked('applied') })), 'not-matched');
  });
});
