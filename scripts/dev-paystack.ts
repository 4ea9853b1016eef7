import { randomBytes } from 'node:crypto';
import { startPaystackEmulator } from '../test/support/paystack-emulator.js';
import type { DevStandIn } from './dev-services.js';

/**
 * Development without a Paystack account: with no PAYSTACK_SECRET_KEY, `npm run dev` runs the same
 * emulator the tests use. Its authorization URLs open a local "pay" page (Pay / Decline) that completes
 * the transaction and posts the signed `charge.success` webhook to `${PUBLIC_URL}/api/v1/webhooks/paystack`.
 */
export const paystackStandIn: DevStandIn = {
  name: 'paystack emulator',
  async start({ config, log }) {
    if (config.PAYSTACK_SECRET_KEY) return undefined;
    const secretKey = `sk_test_dev_${randomBytes(12).toString('hex')}`;
    const webhookUrl = `${config.PUBLIC_URL.replace(/\/+$/, '')}/api/v1/webhooks/paystack`;
    const emulator = await startPaystackEmulator({
      secretKey,
      webhookUrl,
      webhookRetryMs: 10_000,
      webhookMaxAttempts: 10,
    });
    log(
      `paystack emulator at ${emulator.url} (pay pages at ${emulator.url}/pay/<reference>; webhooks to ${webhookUrl})`,
    );
    return {
      name: 'paystack emulator',
      env: { PAYSTACK_SECRET_KEY: secretKey, PAYSTACK_BASE_URL: emulator.url },
      stop: () => emulator.close(),
    };
  },
};
