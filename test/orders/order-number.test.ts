import { sql } from 'kysely';
import t from 'tap';
import { createPendingOrder } from '../support/payment-fixtures.js';
import { testEnv } from '../support/harness.js';

/** lpad truncates: without 2026120950 the millionth order was AGP-100000 again and failed on the unique number. */
t.test('order numbers stay six digits wide and grow past a million without colliding', async (t) => {
  const { db } = await testEnv(t);
  await sql`SELECT setval('order_number_seq', 999998)`.execute(db);
  const numbers: string[] = [];
  for (let i = 0; i < 3; i++) {
    const { orderId } = await createPendingOrder(db);
    numbers.push((await db.selectFrom('orders').select('number').where('id', '=', orderId).executeTakeFirstOrThrow()).number);
  }
  t.same(numbers, ['AGP-999999', 'AGP-1000000', 'AGP-1000001']);
  const { rows } = await sql<{ n: string }>`SELECT padded_number('SUP-', 42) AS n`.execute(db);
  t.equal(rows[0].n, 'SUP-000042', 'small numbers keep their padding');
});
