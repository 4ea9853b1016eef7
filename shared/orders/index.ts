/**
 * Orders. Exposed to other domains (payments, checkout) and to the API:
 *  - transitionOrder(trx, orderId, to, {actorId?, note?, set?}): the one state machine (row lock, history,
 *    owner notice); canTransition / transitions / paidStatuses, everPaidStatuses.
 *  - cancelOrder(trx, orderId, {actorId?, note?, reason?}): transition + stock/coupon release (+ restock and
 *    needs_refund when it was paid; the refund itself is shared/payments/order-status.ts).
 *  - advanceOrder(trx, orderId, {status, trackingNumber?, carrier?, note?}, actorId): processing, shipped
 *    (with the shipment mail), delivered.
 *  - expireOrder: cancels one expired unpaid order (the expiry loop, which asks Paystack first, is
 *    shared/payments/expiry.ts: the minute job and checkout's lazy expiry).
 *  - orderView(db, id): the read model of GET /orders/:id (payments, refunds, invoice included).
 *  - orderLink / orderLinkToken / checkOrderLinkToken: signed, expiring links for guests' mail.
 */
export {
  advanceOrder,
  cancelOrder,
  expireOrder,
  ORDER_SHIPPED_TEMPLATE,
  type AdvanceInput,
} from './lifecycle.js';
export { checkOrderLinkToken, orderLink, orderLinkToken, type OrderLinkCheck, type OrderLinkConfig } from './links.js';
export { findAccessibleOrder, isOwner, listOrders, orderView, type OrderCaller, type OrderListQuery, type OrderView } from './read.js';
export { canTransition, everPaidStatuses, orderStatuses, paidStatuses, transitionOrder, wasEverPaid, transitions, type OrderStatus, type TransitionOptions, type TransitionResult } from './state.js';
