import type { Trx } from '../db/index.js';
import { commitOrderReservation } from '../inventory/index.js';
import { transitionOrder } from '../orders/state.js';
import { enqueuePaidJobs } from './notices.js';

export interface PaidOrder {
  id: string;
  number: string;
  userId: string | null;
  email: string;
  customerName: string | null;
  total: number;
  currency: string;
}

/**
 * The one way an unpaid order becomes paid, under its row lock in the caller's transaction: its reservation
 * becomes sold, the transition (history, the customer's notice), the books (`amount_paid` = every tender that
 * paid it: Paystack's verified amount plus the store credit spent) and the paid jobs (confirmation mail,
 * invoice, staff notice). Verify calls it on Paystack's word; checkout when store credit covers the total.
 */
export async function markOrderPaid(trx: Trx, order: PaidOrder, paid: { amount: number; paidAt: Date; note: string }) {
  const committed = await commitOrderReservation(trx, order.id);
  await transitionOrder(trx, order.id, 'paid', {
    note: `${paid.note}${committed === 'released' ? '; reservation had been released' : ''}`,
  });
  await trx.updateTable('orders').set({ amountPaid: paid.amount, paidAt: paid.paidAt }).where('id', '=', order.id).execute();
  await enqueuePaidJobs(trx, order);
}
