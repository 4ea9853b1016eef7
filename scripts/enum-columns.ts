/**
 * Every enumerated text column, with the one `as const` list that defines its values. From this map
 * `npm run db:types` types the columns as unions (kysely-codegen overrides), and
 * test/platform/status-lists.test.ts checks that each column's CHECK in the migrated database allows
 * exactly the list's values, and that no list CHECK is left out of this map.
 */
import { couponKinds } from '../shared/coupons/schemas.js';
import { imageStorages, importStatuses, productStatuses } from '../shared/catalog/schemas.js';
import { roles, sessionRevokeReasons, userTokenPurposes } from '../shared/auth/schemas.js';
import { idempotencyStates } from '../shared/idempotency/schemas.js';
import { orderStatuses } from '../shared/orders/schemas.js';
import {
  discrepancyKinds,
  paymentProblemKinds,
  paymentProblems,
  paymentMethods,
  paymentProviders,
  paymentStatuses,
  reconciliationRunStatuses,
  reconciliationTriggers,
  refundDestinations,
  refundStatuses,
} from '../shared/payments/schemas.js';
import { jobNames, queueNames } from '../shared/queues.js';
import { creditEntryKinds } from '../shared/credit/schemas.js';
import { platforms } from '../shared/notifications/schemas.js';
import { recommendationKinds, runStatuses, runTriggers } from '../shared/recommendations/schemas.js';
import { reportReasons, reviewStates } from '../shared/reviews/schemas.js';
import { conversationStatuses, messageKinds, replyStatuses } from '../shared/support/schemas.js';
import { returnReasons, returnRefundStatuses, returnResolutions, returnStatuses } from '../shared/returns/schemas.js';

export interface EnumColumn {
  /** `table.column`, as in the database. */
  column: string;
  values: readonly string[];
  /** The union type, and the module (relative to shared/db/) that exports it. */
  type: string;
  from: string;
  /** The column has a default (the generated type wraps it in Generated<>). */
  generated?: boolean;
  nullable?: boolean;
}

const orders = { type: 'OrderStatus', from: '../orders/schemas.js', values: orderStatuses };
const payments = '../payments/schemas.js';

export const enumColumns: EnumColumn[] = [
  { column: 'orders.status', ...orders, generated: true },
  { column: 'order_status_history.from_status', ...orders, nullable: true },
  { column: 'order_status_history.to_status', ...orders },
  {
    column: 'payments.status',
    values: paymentStatuses,
    type: 'PaymentStatus',
    from: payments,
    generated: true,
  },
  {
    column: 'payments.provider',
    values: paymentMethods,
    type: 'PaymentMethod',
    from: payments,
    generated: true,
  },
  {
    column: 'webhook_events.provider',
    values: paymentProviders,
    type: 'PaymentProvider',
    from: payments,
    generated: true,
  },
  { column: 'refunds.status', values: refundStatuses, type: 'RefundStatus', from: payments, generated: true },
  {
    column: 'refunds.destination',
    values: refundDestinations,
    type: 'RefundDestination',
    from: payments,
    generated: true,
  },
  {
    column: 'refund_parts.status',
    values: refundStatuses,
    type: 'RefundStatus',
    from: payments,
    generated: true,
  },
  { column: 'payment_discrepancies.kind', values: discrepancyKinds, type: 'DiscrepancyKind', from: payments },
  {
    column: 'payment_problem_notices.kind',
    values: paymentProblemKinds,
    type: 'PaymentProblemKind',
    from: payments,
  },
  {
    column: 'payment_problem_notices.problem',
    values: paymentProblems,
    type: 'PaymentProblem',
    from: payments,
  },
  {
    column: 'reconciliation_runs.trigger',
    values: reconciliationTriggers,
    type: 'ReconciliationTrigger',
    from: payments,
  },
  {
    column: 'reconciliation_runs.status',
    values: reconciliationRunStatuses,
    type: 'ReconciliationRunStatus',
    from: payments,
    generated: true,
  },
  {
    column: 'products.status',
    values: productStatuses,
    type: 'ProductStatus',
    from: '../catalog/schemas.js',
    generated: true,
  },
  {
    column: 'product_images.storage',
    values: imageStorages,
    type: 'ImageStorage',
    from: '../catalog/schemas.js',
  },
  {
    column: 'imports.status',
    values: importStatuses,
    type: 'ImportStatus',
    from: '../catalog/schemas.js',
    generated: true,
  },
  { column: 'coupons.kind', values: couponKinds, type: 'CouponKind', from: '../coupons/schemas.js' },
  { column: 'users.role', values: roles, type: 'Role', from: '../auth/schemas.js', generated: true },
  {
    column: 'user_tokens.purpose',
    values: userTokenPurposes,
    type: 'UserTokenPurpose',
    from: '../auth/schemas.js',
  },
  {
    column: 'sessions.revoked_reason',
    values: sessionRevokeReasons,
    type: 'SessionRevokeReason',
    from: '../auth/schemas.js',
    nullable: true,
  },
  {
    column: 'idempotency_keys.state',
    values: idempotencyStates,
    type: 'IdempotencyState',
    from: '../idempotency/schemas.js',
    generated: true,
  },
  { column: 'outbox.queue', values: queueNames, type: 'QueueName', from: '../queues.js' },
  { column: 'outbox.name', values: jobNames, type: 'JobName', from: '../queues.js' },
  { column: 'reviews.state', values: reviewStates, type: 'ReviewState', from: '../reviews/schemas.js' },
  {
    column: 'review_reports.reason',
    values: reportReasons,
    type: 'ReportReason',
    from: '../reviews/schemas.js',
  },
  // The nightly recount is started like a recommendations run: by the schedule or by hand.
  {
    column: 'review_recount_runs.trigger',
    values: runTriggers,
    type: 'RunTrigger',
    from: '../recommendations/schemas.js',
  },
  {
    column: 'rec_runs.trigger',
    values: runTriggers,
    type: 'RunTrigger',
    from: '../recommendations/schemas.js',
  },
  {
    column: 'rec_runs.status',
    values: runStatuses,
    type: 'RunStatus',
    from: '../recommendations/schemas.js',
    generated: true,
  },
  {
    column: 'rec_items.kind',
    values: recommendationKinds,
    type: 'RecommendationKind',
    from: '../recommendations/schemas.js',
  },
  {
    column: 'support_conversations.status',
    values: conversationStatuses,
    type: 'ConversationStatus',
    from: '../support/schemas.js',
    generated: true,
  },
  {
    column: 'support_messages.kind',
    values: messageKinds,
    type: 'MessageKind',
    from: '../support/schemas.js',
  },
  {
    column: 'support_replies.status',
    values: replyStatuses,
    type: 'ReplyStatus',
    from: '../support/schemas.js',
    generated: true,
  },
  { column: 'devices.platform', values: platforms, type: 'Platform', from: '../notifications/schemas.js' },
  {
    column: 'credit_entries.kind',
    values: creditEntryKinds,
    type: 'CreditEntryKind',
    from: '../credit/schemas.js',
  },
  { column: 'returns.status', values: returnStatuses, type: 'ReturnStatus', from: '../returns/schemas.js', generated: true },
  { column: 'returns.resolution', values: returnResolutions, type: 'ReturnResolution', from: '../returns/schemas.js' },
  {
    column: 'returns.refund_status',
    values: returnRefundStatuses,
    type: 'ReturnRefundStatus',
    from: '../returns/schemas.js',
    nullable: true,
  },
  { column: 'return_items.reason', values: returnReasons, type: 'ReturnReason', from: '../returns/schemas.js' },
];

/** kysely-codegen's `--overrides` and `--custom-imports` for these columns. */
export function codegenOverrides() {
  const columns = Object.fromEntries(
    enumColumns.map((c) => {
      const base = c.nullable ? `${c.type} | null` : c.type;
      return [c.column, c.generated ? `Generated<${base}>` : base];
    }),
  );
  const imports = Object.fromEntries(enumColumns.map((c) => [c.type, `${c.from}#${c.type}`]));
  return { overrides: { columns }, imports };
}
