import t from 'tap';
import { address, createUser } from '../support/fixtures.js';
import { tokenFor } from '../support/harness.js';
import { createPendingOrder, startPaymentStack } from '../support/payment-fixtures.js';

/**
 * Issue 18, item 5: a customer racing verify against cancel must never cancel a paid order (which would
 * restock it and refund it: only staff may do that). The customer's cancel is decided under the order's
 * row lock, which verify holds while it marks the order paid. Real concurrency: both requests at once,
 * over real sockets, many times.
 */
t.test(
  'verify and the customer’s cancel at once, many times: a paid order is never cancelled by its customer',
  async (t) => {
    const stack = await startPaymentStack(t, { worker: false, env: { RATE_LIMIT_ALLOWLIST: '127.0.0.1' } });
    const { db, emu, paystack, app, url } = stack;
    const rounds = 40;
    const outcomes = { cancelledFirst: 0, paidFirst: 0 };

    for (let batch = 0; batch < rounds / 10; batch++) {
      const orders = await Promise.all(
        Array.from({ length: 10 }, async () => {
          const user = await createUser(db);
          const o = await createPendingOrder(db, { paystack, userId: user.id });
          // A full address as checkout stores it (the order view answered by cancel requires it).
          await db
            .updateTable('orders')
            .set({ shippingAddress: JSON.stringify(address) })
            .where('id', '=', o.orderId)
            .execute();
          await emu.pay(o.reference, { webhook: false });
          return { ...o, token: tokenFor(app, 'customer', user.id) };
        }),
      );
      await Promise.all(
        orders.map(async (o) => {
          // Verify asks Paystack before it locks; a small random head start for it spreads the rounds
          // over both orders of arrival and the moments in between.
          const [verify, cancel] = await Promise.all([
            fetch(`${url}/api/v1/payments/${o.reference}/verify`, { method: 'POST' }),
            new Promise((r) => setTimeout(r, Math.random() * 25)).then(() =>
              fetch(`${url}/api/v1/orders/${o.orderId}/cancel`, {
                method: 'POST',
                headers: { authorization: o.token },
              }),
            ),
          ]);
          const v = (await verify.json()) as { outcome: string };
          const c = (await cancel.json()) as { code?: string; status?: string };
          const order = await db
            .selectFrom('orders')
            .selectAll()
            .where('id', '=', o.orderId)
            .executeTakeFirstOrThrow();
          const history = await db
            .selectFrom('orderStatusHistory')
            .select(['fromStatus', 'toStatus'])
            .where('orderId', '=', o.orderId)
            .orderBy('id')
            .execute();
          const refunds = await db
            .selectFrom('refunds')
            .select(['reason'])
            .where('orderId', '=', o.orderId)
            .execute();
          const restocks = await db
            .selectFrom('inventoryMovements')
            .select('id')
            .where('orderId', '=', o.orderId)
            .where('reason', '=', 'restock')
            .execute();
          const story = `${o.number}: verify ${v.outcome}, cancel ${cancel.status} ${c.code ?? c.status}, history ${history.map((h) => `${h.fromStatus ?? ''}>${h.toStatus}`).join(' ')}`;

          if (!history.some((h) => h.fromStatus === 'paid' && h.toStatus === 'cancelled'))
            t.pass(`never paid → cancelled (${o.number})`);
          else t.fail(`a customer cancelled a paid order: ${story}`);
          t.equal(restocks.length, 0, `nothing sold was put back on the shelf by the customer (${o.number})`);
          if (cancel.status === 200) {
            // The cancel took the lock first: the order was still unpaid; the payment then landed on a
            // cancelled order and is given back by the payments domain (item 2), not by the cancel.
            outcomes.cancelledFirst++;
            t.equal(order.status, 'cancelled', story);
            t.equal(v.outcome, 'paid_but_cancelled', story);
            t.ok(
              refunds.every((r) => /paid after the order was cancelled/.test(r.reason)),
              `only the automatic refund of a late payment (${story})`,
            );
          } else {
            outcomes.paidFirst++;
            t.equal(cancel.status, 409, `the customer's cancel of a paid order is refused: ${story}`);
            t.equal(c.code, 'invalid_transition', story);
            t.equal(order.status, 'paid', story);
            t.equal(refunds.length, 0, `no refund (${story})`);
          }
        }),
      );
    }
    t.equal(outcomes.cancelledFirst + outcomes.paidFirst, rounds);
    t.comment(`cancel first ${outcomes.cancelledFirst}, paid first ${outcomes.paidFirst}`);
  },
);
