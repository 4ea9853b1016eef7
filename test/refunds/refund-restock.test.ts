import { randomUUID } from 'node:crypto';
import t from 'tap';
import type { Db } from '../../shared/db/index.js';
import { createPaidOrder } from '../support/fleet-fixtures.js';
import { startPaymentStack } from '../support/payment-fixtures.js';
import { onHand, processAtPaystack, refundRequest } from '../support/refund-fixtures.js';

/**
 * `restock` puts back only the `items` a refund names (every line not yet restocked when the refund is
 * full and names none), each unit at most once across all refunds: order_items.restocked_quantity with
 * a CHECK (≤ quantity) in the database.
 */

type Stack = Awaited<ReturnType<typeof startPaymentStack>>;

/** A paid order of 3 × ₦1,000 (line A) and 2 × ₦2,000 (line B): ₦7,000, stock 10 of each before the sale. */
async function twoLineOrder(db: Db, stack: Stack) {
  const order = await createPaidOrder(db, stack, {
    price: 100_000,
    quantity: 3,
    onHand: 10,
    extraLines: [{ price: 200_000, quantity: 2 }],
  });
  const lines = await db
    .selectFrom('orderItems')
    .select(['id', 'variantId'])
    .where('orderId', '=', order.orderId)
    .execute();
  const a = lines.find((l) => l.variantId === order.variantId)!;
  const b = lines.find((l) => l.variantId === order.extraLines[0].variantId)!;
  return { ...order, a: { id: a.id, variantId: a.variantId! }, b: { id: b.id, variantId: b.variantId! } };
}

const restocked = async (db: Db, orderItemId: string) =>
  (
    await db
      .selectFrom('orderItems')
      .select('restockedQuantity')
      .where('id', '=', orderItemId)
      .executeTakeFirstOrThrow()
  ).restockedQuantity;

t.test(
  'a partial refund restocks only the items named; repeated refunds never restock a unit twice',
  async (t) => {
    const stack = await startPaymentStack(t, { queues: ['payment', 'refund'] });
    const { db, emu } = stack;
    const order = await twoLineOrder(db, stack);
    t.equal(order.total, 700_000);
    t.same([await onHand(db, order.a.variantId), await onHand(db, order.b.variantId)], [7, 8], 'sold');

    const one = await refundRequest(stack, order.orderId, {
      amount: 100_000,
      reason: 'one wrapper returned',
      restock: true,
      items: [{ orderItemId: order.a.id, quantity: 1 }],
    });
    t.equal(one.statusCode, 202, one.body);
    t.same(one.json().items, [{ orderItemId: order.a.id, quantity: 1 }]);
    await processAtPaystack(db, emu, one.json<{ id: string }>().id);
    t.same(
      [await onHand(db, order.a.variantId), await onHand(db, order.b.variantId)],
      [8, 8],
      'one unit of A back, B untouched',
    );

    const more = await refundRequest(stack, order.orderId, {
      amount: 400_000,
      reason: 'two wrappers and a gele returned',
      restock: true,
      items: [
        { orderItemId: order.a.id, quantity: 2 },
        { orderItemId: order.b.id, quantity: 1 },
      ],
    });
    t.equal(more.statusCode, 202, more.body);
    await processAtPaystack(db, emu, more.json<{ id: string }>().id);
    t.same([await onHand(db, order.a.variantId), await onHand(db, order.b.variantId)], [10, 9]);

    const fourth = await refundRequest(stack, order.orderId, {
      amount: 100_000,
      reason: 'a fourth wrapper?',
      restock: true,
      items: [{ orderItemId: order.a.id, quantity: 1 }],
    });
    t.equal(fourth.statusCode, 409, 'all three units of A are back already');
    t.match(fourth.json(), {
      code: 'refund_quantity_exceeded',
      items: [{ orderItemId: order.a.id, bought: 3, restocked: 3, left: 0, requested: 1 }],
    });

    // The rest of the money, restocking without naming items: every unit not yet back, none twice.
    const rest = await refundRequest(stack, order.orderId, { reason: 'everything else', restock: true });
    t.equal(rest.statusCode, 202, rest.body);
    t.equal(rest.json().amount, 200_000);
    await processAtPaystack(db, emu, rest.json<{ id: string }>().id);
    t.same([await onHand(db, order.a.variantId), await onHand(db, order.b.variantId)], [10, 10]);
    t.same([await restocked(db, order.a.id), await restocked(db, order.b.id)], [3, 2]);
    const movements = await db
      .selectFrom('inventoryMovements')
      .select(['variantId', 'deltaOnHand'])
      .where('orderId', '=', order.orderId)
      .where('reason', '=', 'restock')
      .execute();
    const sum = (v: string) =>
      movements.filter((m) => m.variantId === v).reduce((s, m) => s + m.deltaOnHand, 0);
    t.same(
      [sum(order.a.variantId), sum(order.b.variantId)],
      [3, 2],
      'the ledger agrees: each unit back once',
    );
    t.equal(
      (
        await db
          .selectFrom('orders')
          .select('status')
          .where('id', '=', order.orderId)
          .executeTakeFirstOrThrow()
      ).status,
      'refunded',
    );

    // The database refuses a unit restocked twice, whatever the code does.
    const twice = await db
      .updateTable('orderItems')
      .set((eb) => ({ restockedQuantity: eb('restockedQuantity', '+', 1) }))
      .where('id', '=', order.b.id)
      .execute()
      .catch((err: unknown) => err);
    t.match(twice, { code: '23514' }, 'CHECK restocked_quantity <= quantity');
  },
);

t.test('refund items are validated against the order: foreign lines 400, too many units 409', async (t) => {
  const stack = await startPaymentStack(t, { worker: false });
  const { db } = stack;
  const order = await twoLineOrder(db, stack);
  const other = await createPaidOrder(db, stack);
  const foreignItem = await db
    .selectFrom('orderItems')
    .select('id')
    .where('orderId', '=', other.orderId)
    .executeTakeFirstOrThrow();
  const ask = (body: Record<string, unknown>) =>
    refundRequest(stack, order.orderId, { amount: 100_000, reason: 'check', ...body });

  const foreign = await ask({ items: [{ orderItemId: foreignItem.id, quantity: 1 }] });
  t.equal(foreign.statusCode, 400, 'another order’s line');
  t.match(foreign.json(), { code: 'unknown_order_item', errors: [{ path: '/items/0/orderItemId' }] });
  const made_up = await ask({
    restock: true,
    items: [
      { orderItemId: order.a.id, quantity: 1 },
      { orderItemId: randomUUID(), quantity: 1 },
    ],
  });
  t.equal(made_up.statusCode, 400);
  t.match(made_up.json(), { code: 'unknown_order_item', errors: [{ path: '/items/1/orderItemId' }] });
  const twiceNamed = await ask({
    items: [
      { orderItemId: order.a.id, quantity: 1 },
      { orderItemId: order.a.id, quantity: 1 },
    ],
  });
  t.equal(twiceNamed.statusCode, 400);
  t.equal(twiceNamed.json().code, 'validation_failed');
  const zero = await ask({ items: [{ orderItemId: order.a.id, quantity: 0 }] });
  t.equal(zero.statusCode, 400);

  const beyond = await ask({ items: [{ orderItemId: order.a.id, quantity: 4 }] });
  t.equal(beyond.statusCode, 409, 'more than bought');
  t.match(beyond.json(), {
    code: 'refund_quantity_exceeded',
    items: [{ orderItemId: order.a.id, bought: 3, requested: 4 }],
  });
  const noItems = await ask({ restock: true });
  t.equal(noItems.statusCode, 400, 'a partial refund restocks only what it names');
  t.equal(noItems.json().code, 'restock_items_required');

  // Units claimed by a pending refund are not left for another.
  t.equal((await ask({ restock: true, items: [{ orderItemId: order.a.id, quantity: 2 }] })).statusCode, 202);
  const claimed = await ask({ restock: true, items: [{ orderItemId: order.a.id, quantity: 2 }] });
  t.equal(claimed.statusCode, 409);
  t.match(claimed.json(), { code: 'refund_quantity_exceeded', items: [{ claimed: 2, left: 1 }] });
  t.equal((await ask({ restock: true, items: [{ orderItemId: order.a.id, quantity: 1 }] })).statusCode, 202);
  t.equal(
    (await ask({ items: [{ orderItemId: order.a.id, quantity: 3 }] })).statusCode,
    202,
    'without restock, a refund may name any units bought',
  );

  // Ten refunds racing for the two units of B: the order lock lets exactly two claim one each.
  const race = await Promise.all(
    Array.from({ length: 10 }, () =>
      refundRequest(stack, order.orderId, {
        amount: 10_000,
        reason: 'race',
        restock: true,
        items: [{ orderItemId: order.b.id, quantity: 1 }],
      }),
    ),
  );
  t.same(
    race.map((r) => r.statusCode).sort(),
    [202, 202, ...Array<number>(8).fill(409)],
    'two accepted, eight refused',
  );
  t.ok(race.filter((r) => r.statusCode === 409).every((r) => r.json().code === 'refund_quantity_exceeded'));
});
