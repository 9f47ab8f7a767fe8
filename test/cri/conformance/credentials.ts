import assert from 'node:assert/strict';
import type { Image__Output } from '../../../src/generated/runtime/v1/Image';
import { services, testImages } from '../../../testing/services';
import { type Conformance, authed, kubeletAuthForm, kubeletPassword } from './context';

/** Registry credentials in kubelet's AuthConfig, and keeping them out of the log. */
export function credentialSpecs(t: Conformance): void {
  describe('registry credentials', () => {
    it('pulls from the htpasswd registry with kubelet AuthConfig username/password', async () => {
      const imageRef = await t.pull(authed(testImages.auth), kubeletPassword);
      assert.equal(((await t.status(authed(testImages.auth))).image as Image__Output).id, imageRef);
    });

    it('pulls from the htpasswd registry with kubelet AuthConfig auth (base64 user:password)', async () => {
      const imageRef = await t.pull(authed(testImages.auth), kubeletAuthForm);
      assert.equal(((await t.status(authed(testImages.auth))).image as Image__Output).id, imageRef);
    });

    it('fails without credentials with a message that says so and names the registry', async () => {
      const details = await t.pull(authed(testImages.auth)).then(
        () => assert.fail('pull without credentials succeeded'),
        (err: { details: string }) => err.details,
      );
      assert.match(details, /credential|unauthori[sz]ed|authentication/i);
      assert.ok(details.includes(services.registryHtpasswd), details);
    });

    it('fails with wrong credentials the same way', async () => {
      const details = await t.pull(authed(testImages.auth), { username: 'kubelet', password: 'wrong' }).then(
        () => assert.fail('pull with a wrong password succeeded'),
        (err: { details: string }) => err.details,
      );
      assert.match(details, /credential|unauthori[sz]ed|authentication/i);
      assert.ok(details.includes(services.registryHtpasswd), details);
    });

    it('never writes the password or the auth form to its log', async () => {
      await t.pull(authed(testImages.auth), kubeletPassword);
      await t.pull(authed(testImages.auth), kubeletAuthForm);
      const text = t.gate.logs.join('\n');
      assert.ok(t.gate.logs.length > 0);
      assert.ok(!text.includes(services.htpasswdPassword));
      assert.ok(!text.includes(kubeletAuthForm.auth));
    });
  });
}
