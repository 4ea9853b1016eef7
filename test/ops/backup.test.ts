/**
 * The backup procedure of docs/backup.md, end to end: a database with paid, refunded and pending orders
 * is dumped by scripts/backup.ts (pg_dump), restored into a database that did not exist (pg_restore),
 * and the restored one has the same rows in every table and the same ledger totals. A restore that
 * lost data, or a target that is not empty, is refused.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import t, { type Test } from 'tap';
import { repoRoot } from '../../shared/config.js';
import { onPath } from '../../scripts/dev-services.js';
import { backup, computeManifest, manifestPath, restore, type Manifest } from '../../scripts/backup.js';
import { createPendingOrder } from '../support/payment-fixtures.js';
import { ADMIN_URL, testEnv } from '../support/harness.js';
import type { Db } from '../../shared/db/index.js';

const skip =
  onPath('pg_dump') && onPath('pg_restore')
    ? false
    : 'pg_dump/pg_restore are not installed (Debian: apt-get install postgresql-client)';

let counter = 0;
/** A database name that does not exist yet, dropped when the test ends. */
function freshDatabase(t: Test): string {
  const name = `agape_restore_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  t.teardown(async () => {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  });
  return url.toString();
}

/** Three orders: paid, paid then partly refunded, still pending (each with its payment row); NGN amounts in kobo. */
async function seedShop(db: Db) {
  const paid = await createPendingOrder(db, { price: 1_250_000, quantity: 2 });
  const refunded = await createPendingOrder(db, {
    price: 800_000,
    quantity: 1,
    extraLines: [{ price: 150_000, quantity: 3 }],
  });
  await createPendingOrder(db, { price: 99_900, quantity: 1 });
  for (const [i, order] of [paid, refunded].entries()) {
    const payment = await db
      .updateTable('payments')
      .set({
        status: 'success',
        paidAmount: order.total,
        paidCurrency: 'NGN',
        paidAt: new Date(),
        providerTransactionId: 9_000 + i,
      })
      .where('reference', '=', order.reference)
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .updateTable('orders')
      .set({ status: 'paid', amountPaid: order.total, paidAt: new Date() })
      .where('id', '=', order.orderId)
      .execute();
    if (order === refunded) {
      const refund = await db
        .insertInto('refunds')
        .values({
          orderId: order.orderId,
          amount: 300_000,
          currency: 'NGN',
          reason: 'wrong size',
          status: 'processed',
          settledAt: new Date(),
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      await db
        .insertInto('refundParts')
        .values({
          refundId: refund.id,
          paymentId: payment.id,
          amount: 300_000,
          currency: 'NGN',
          status: 'processed',
          providerRefundId: 77_001,
        })
        .execute();
      await db
        .updateTable('orders')
        .set({ status: 'partially_refunded', amountRefunded: 300_000 })
        .where('id', '=', order.orderId)
        .execute();
    }
  }
}

t.test(
  'backup → restore into a new database: same rows in every table, same ledger totals',
  { skip },
  async (t) => {
    const { config, db } = await testEnv(t);
    await seedShop(db);
    const dir = mkdtempSync(path.join(tmpdir(), 'agape-backup-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'shop.dump');

    const taken = await backup(config.DATABASE_URL, file);
    t.equal(taken.rowCounts['public.orders'], 3);
    t.equal(taken.rowCounts['public.payments'], 3);
    t.equal(taken.ledger['payments.success.paid_amount.NGN'], String(2_500_000 + 800_000 + 450_000));
    t.equal(taken.ledger['refund_parts.processed.amount.NGN'], '300000');
    t.equal(taken.ledger['orders.amount_refunded.NGN'], '300000');
    t.ok(taken.lastMigration, 'the manifest names the schema version');
    t.same(
      (JSON.parse(readFileSync(manifestPath(file), 'utf8')) as Manifest).rowCounts,
      taken.rowCounts,
      'the manifest is written beside the dump',
    );

    // Writes after the backup are not in it: the dump and the manifest describe one instant.
    await sql`DELETE FROM orders WHERE status = 'pending_payment'`.execute(db);

    const target = freshDatabase(t);
    const { manifest, differences } = await restore(file, target);
    t.same(differences, [], 'row counts and ledger totals match');
    t.same(manifest.rowCounts, taken.rowCounts);
    t.same(manifest.ledger, taken.ledger);
    t.ok(Object.keys(manifest.rowCounts).length > 20, 'every table was compared');

    const again = await restore(file, target).catch((err: Error) => err);
    t.match(again, { message: /already has tables/ }, 'a database with tables is never restored over');
  },
);

t.test(
  'a restore that does not match its manifest is reported, and the command exits 1',
  { skip },
  async (t) => {
    const { config, db } = await testEnv(t);
    await seedShop(db);
    const dir = mkdtempSync(path.join(tmpdir(), 'agape-backup-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'shop.dump');

    const cli = (args: string[]) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'scripts', 'backup.ts'), ...args], {
        cwd: repoRoot,
        env: { ...process.env, DATABASE_URL: config.DATABASE_URL },
        encoding: 'utf8',
      });
    const made = cli(['backup', '--out', file]);
    t.equal(made.status, 0, made.stderr);
    t.match(made.stdout, /backup written/);

    // The manifest says there was one more order than the dump holds: as if the dump lost a row.
    const manifest = JSON.parse(readFileSync(manifestPath(file), 'utf8')) as Manifest;
    manifest.rowCounts['public.orders'] += 1;
    manifest.ledger['orders.total.NGN'] = '1';
    writeFileSync(manifestPath(file), JSON.stringify(manifest));

    const restored = cli(['restore', '--from', file, '--to', freshDatabase(t)]);
    t.equal(restored.status, 1);
    t.match(restored.stderr, /rows in public\.orders: expected 4, found 3/);
    t.match(restored.stderr, /ledger orders\.total\.NGN: expected 1, found/);
  },
);

t.test('the manifest counts what the database holds', async (t) => {
  const { config, db } = await testEnv(t);
  await seedShop(db);
  const client = new pg.Client({ connectionString: config.DATABASE_URL });
  await client.connect();
  t.teardown(() => client.end());
  const m = await computeManifest(client);
  const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM order_items');
  t.equal(m.rowCounts['public.order_items'], Number(rows[0].n));
  t.equal(m.ledger['orders.amount_paid.NGN'], String(2_500_000 + 800_000 + 450_000));
});
