import type { Db } from '../../shared/db/index.js';
import type { PaystackClient } from '../../shared/integrations/paystack/client.js';
import { applyVerification } from '../../shared/payments/verify.js';
import type { PaystackEmulator } from './paystack-emulator.js';
import { createPendingOrder, type PendingOrderOptions } from './payment-fixtures.js';

/**
 * A PAID order made the real way: the pending-order fixture (stock reserved,
 * transaction initialized at the emulator), the emulator "pays" it, and the production verify path
 * applies the result (order paid, payment recorded, reservation sold, confirmation + invoice jobs queued).
 */
export async function createPaidOrder(
  db: Db,
  stack: { emu: PaystackEmulator; paystack: PaystackClient; config: { PUBLIC_URL: string } },
  opts: Omit<PendingOrderOptions, 'paystack'> & {
    totals?: { discount?: number; shipping?: number; tax?: number; couponCode?: string };
  } = {},
) {
  const pending = await createPendingOrder(db, { ...opts, paystack: stack.paystack });
  let total = pending.total;
  if (opts.totals) {
    // Discount, shipping and VAT lines as checkout would have priced them; Paystack is paid the new total.
    const { discount = 0, shipping = 0, tax = 0, couponCode } = opts.totals;
    total = pending.total - discount + shipping + tax;
    await db
      .updateTable('orders')
      .set({
        discount,
        shipping,
        tax,
        total,
        couponCode: couponCode ?? null,
        shippingMethodName: 'Standard delivery',
      })
      .where('id', '=', pending.orderId)
      .execute();
    await db
      .updateTable('payments')
      .set({ amount: total })
      .where('reference', '=', pending.reference)
      .execute();
  }
  // A full address as checkout stores it (the order read model requires name, phone, state).
  const address = {
    name: 'Ada Obi',
    phone: '+2348012345678',
    line1: '1 Marina',
    city: 'Lagos',
    state: 'Lagos',
    country: 'NG',
  };
  await db
    .updateTable('orders')
    .set({ shippingAddress: JSON.stringify(address) })
    .where('id', '=', pending.orderId)
    .execute();
  await stack.emu.pay(pending.reference, { webhook: false, amount: total });
  const result = await applyVerification(db, pending.reference, {
    paystack: stack.paystack,
    publicUrl: stack.config.PUBLIC_URL,
    source: 'verify',
  });
  if (result.orderStatus !== 'paid') throw new Error(`fixture: order not paid (${result.outcome})`);
  return { ...pending, total };
}
