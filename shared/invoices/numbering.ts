import { sql } from 'kysely';
import type { Trx } from '../db/index.js';
import { isUniqueViolation } from '../errors.js';

export const INVOICE_TIME_ZONE = 'Africa/Lagos';

/** The invoice year is the shop's calendar year (Lagos time) of the payment. */
export function invoiceYear(at: Date): number {
  return Number(
    new Intl.DateTimeFormat('en-GB', { timeZone: INVOICE_TIME_ZONE, year: 'numeric' }).format(at),
  );
}

export const invoiceNumber = (year: number, sequence: number) =>
  `INV-${year}-${String(sequence).padStart(6, '0')}`;

/**
 * Gives an order its invoice number, once. Gap-free: the year's counter row is incremented under its row
 * lock in the same transaction that inserts the invoice row, so a rolled-back attempt rolls its number
 * back too, and concurrent payers queue on the counter row for the few milliseconds until commit.
 * Idempotent: an order that already has an invoice keeps its number (invoices.order_id is unique).
 */
export async function assignInvoiceNumber(trx: Trx, orderId: string, issuedAt: Date) {
  const existing = await trx
    .selectFrom('invoices')
    .selectAll()
    .where('orderId', '=', orderId)
    .executeTakeFirst();
  if (existing) return { invoice: existing, created: false };

  const year = invoiceYear(issuedAt);
  await trx
    .insertInto('invoiceCounters')
    .values({ year, lastValue: 0 })
    .onConflict((oc) => oc.column('year').doNothing())
    .execute();
  const { lastValue } = await trx
    .updateTable('invoiceCounters')
    .set({ lastValue: sql`last_value + 1` })
    .where('year', '=', year)
    .returning('lastValue')
    .executeTakeFirstOrThrow();
  try {
    const invoice = await trx
      .insertInto('invoices')
      .values({ orderId, year, sequence: lastValue, number: invoiceNumber(year, lastValue) })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { invoice, created: true };
  } catch (err) {
    // Another job won the race for this order: our transaction (and its counter step) must roll back.
    if (isUniqueViolation(err, 'invoices_order_id_key')) throw new InvoiceRaceError();
    throw err;
  }
}

/** Raised when two renders of one order raced; the caller's transaction rolls back and it retries. */
export class InvoiceRaceError extends Error {
  constructor() {
    super('invoice for this order was created concurrently');
    this.name = 'InvoiceRaceError';
  }
}
