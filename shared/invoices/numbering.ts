import { sql } from 'kysely';
import type { Selectable } from 'kysely';
import type { Trx } from '../db/index.js';
import type { Invoices } from '../db/types.js';
import { isUniqueViolation } from '../errors.js';

export const INVOICE_TIME_ZONE = 'Africa/Lagos';

/** The invoice year is the shop's calendar year (Lagos time) of the payment. */
export function invoiceYear(at: Date): number {
  return Number(
    new Intl.DateTimeFormat('en-GB', { timeZone: INVOICE_TIME_ZONE, year: 'numeric' }).format(at),
  );
}

/**
 * Gives an order its invoice number, once. Gap-free: the year's counter row is incremented under its row
 * lock in the same transaction that inserts the invoice row, so a rolled-back attempt rolls its number
 * back too, and concurrent payers queue on the counter row until commit.
 * Idempotent: an order that already has an invoice keeps its number (invoices.order_id is unique).
 * The number reads `INV-<year>-<sequence>`, the sequence zero-padded to six digits (longer past 999,999).
 *
 * One statement (existing invoice, counter step, invoice row): the counter row is locked from this
 * statement to the caller's COMMIT, one round trip, instead of across four; at a few ms per round trip
 * that lock was what bounded invoices per second, however many render jobs ran at once.
 */
export async function assignInvoiceNumber(trx: Trx, orderId: string, issuedAt: Date) {
  const year = invoiceYear(issuedAt);
  try {
    const { rows } = await sql<Selectable<Invoices> & { created: boolean }>`
      WITH existing AS (
        SELECT * FROM invoices WHERE order_id = ${orderId}
      ), counter AS (
        INSERT INTO invoice_counters (year, last_value)
        SELECT ${year}, 1 WHERE NOT EXISTS (SELECT 1 FROM existing)
        ON CONFLICT (year) DO UPDATE SET last_value = invoice_counters.last_value + 1
        RETURNING last_value
      ), created AS (
        INSERT INTO invoices (order_id, year, sequence, number)
        SELECT ${orderId}, ${year}, last_value,
               'INV-' || ${year}::int || '-' || lpad(last_value::text, greatest(6, length(last_value::text)), '0')
        FROM counter
        RETURNING *
      )
      SELECT *, true AS created FROM created
      UNION ALL
      SELECT *, false AS created FROM existing`.execute(trx);
    const { created, ...invoice } = rows[0];
    return { invoice, created };
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
