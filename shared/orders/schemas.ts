import { StringEnum } from '../schemas.js';

/** Every order status; the transitions between them are shared/orders/state.ts. */
export const orderStatuses = [
  'pending_payment',
  'paid',
  'processing',
  'shipped',
  'delivered',
  'cancelled',
  'partially_refunded',
  'refunded',
] as const;
export type OrderStatus = (typeof orderStatuses)[number];
export const OrderStatusSchema = StringEnum(orderStatuses);

/** What staff may set by hand (PATCH /admin/orders/:id/status); paid and the refund states come from payments. */
export const staffOrderStatuses = ['processing', 'shipped', 'delivered', 'cancelled'] as const satisfies readonly OrderStatus[];
export type StaffOrderStatus = (typeof staffOrderStatuses)[number];
