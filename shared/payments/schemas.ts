import { Type, type Static } from 'typebox';
import { CreditDiscrepancySchema } from '../credit/schemas.js';
import { Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

/** A payment attempt: created `initializing`, then what Paystack's initialize and verify answers make it. */
export const paymentStatuses = [
  'initializing',
  'initialized',
  'init_failed',
  'success',
  'failed',
  'abandoned',
  'mismatch',
  /** A store-credit payment given back because its unpaid order was cancelled (its `spend_reversal`). */
  'reversed',
] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];
export const PaymentStatusSchema = StringEnum(paymentStatuses);

/** Who sent a webhook. */
export const paymentProviders = ['paystack'] as const;
export type PaymentProvider = (typeof paymentProviders)[number];

/**
 * What paid (`payments.provider`, the order's `payments[].method`): a Paystack attempt, or the store credit
 * spent at checkout (one row per order, written with its `spend` entry).
 */
export const paymentMethods = ['paystack', 'store_credit'] as const;
export type PaymentMethod = (typeof paymentMethods)[number];
export const PaymentMethodSchema = StringEnum(paymentMethods);

/** Where a refund pays back: `original` (Paystack first, then credit for the credit-paid part) or all as store credit. */
export const refundDestinations = ['original', 'store_credit'] as const;
export type RefundDestination = (typeof refundDestinations)[number];

/** A refund request and each of its per-payment parts. */
export const refundStatuses = ['pending', 'processing', 'processed', 'failed'] as const;
export type RefundStatus = (typeof refundStatuses)[number];
export const RefundStatusSchema = StringEnum(refundStatuses);

/** What a reconciliation run records when Paystack's ledger and ours disagree. */
export const discrepancyKinds = [
  'amount_mismatch',
  'currency_mismatch',
  'unknown_reference',
  'paid_but_cancelled',
  'ours_paid_theirs_not',
] as const;
export type DiscrepancyKind = (typeof discrepancyKinds)[number];

/**
 * What the run's ledger checks find (shared/payments/ledger-checks.ts): an order's books against its
 * payments and refunds, the sales rollup against the rows it sums, a day's payments against Paystack's list.
 */
export const ledgerDiscrepancyKinds = ['order_ledger_mismatch', 'rollup_mismatch', 'paystack_daily_mismatch'] as const;
export type LedgerDiscrepancyKind = (typeof ledgerDiscrepancyKinds)[number];

export const reconciliationTriggers = ['schedule', 'manual'] as const;
export type ReconciliationTrigger = (typeof reconciliationTriggers)[number];
export const reconciliationRunStatuses = ['running', 'completed', 'failed'] as const;
export type ReconciliationRunStatus = (typeof reconciliationRunStatuses)[number];

/** Everything staff are alerted about: the discrepancies, and what the payments sweep finds stuck. */
export const paymentProblemKinds = [
  ...discrepancyKinds,
  'paid_twice',
  /** Paystack could not be asked about a payment for PAYMENT_STUCK_MINUTES (outage, held expiry). */
  'payment_unconfirmed',
  /** A refund Paystack has not accepted after PAYMENT_STUCK_MINUTES. */
  'refund_stuck',
  ...ledgerDiscrepancyKinds,
  /** The nightly store-credit ledger check found something (shared/credit/ledger-checks.ts). */
  'credit_ledger_mismatch',
] as const;
export type PaymentProblemKind = (typeof paymentProblemKinds)[number];

/** The problem a kind reports (shared/payments/notices.ts `problemOf`): one staff alert per subject and problem. */
export const paymentProblems = [
  'wrong_payment',
  'money_to_return',
  'unknown_payment',
  'missing_at_paystack',
  'unconfirmed',
  'refund_stuck',
  'ledger_mismatch',
] as const;
export type PaymentProblem = (typeof paymentProblems)[number];

/** A refund as staff see it: the request, the parts Paystack refunds, the lines it names. */
export const Refund = Type.Object({
  id: Uuid,
  orderId: Uuid,
  amount: Type.Integer({ description: 'minor units (kobo)' }),
  currency: Type.String(),
  reason: Type.String(),
  restock: Type.Boolean(),
  to: StringEnum(refundDestinations, {
    description: '`original`: Paystack, then store credit for the credit-paid part; `store_credit`: all as credit, settled at once',
  }),
  status: RefundStatusSchema,
  providerRefundId: Nullable(Type.String(), {
    description: 'Paystack’s refund when the refund has one part; each part carries its own',
  }),
  failureReason: Nullable(Type.String()),
  createdAt: Timestamp,
  settledAt: Nullable(Timestamp),
  items: Type.Array(Type.Object({ orderItemId: Uuid, quantity: Type.Integer() })),
  parts: Type.Array(
    Type.Object({
      id: Uuid,
      paymentReference: Type.String(),
      amount: Type.Integer({ description: 'minor units, at most what this payment can still give back' }),
      currency: Type.String(),
      status: RefundStatusSchema,
      providerRefundId: Nullable(Type.String()),
      creditEntryId: Nullable(Uuid, { description: 'the store credit entry this part was paid back as (settled at once)' }),
      failureReason: Nullable(Type.String()),
      settledAt: Nullable(Timestamp),
    }),
    {
      description:
        'one part per payment the refund draws on (an order paid twice is refunded from each): a Paystack refund, or a store credit entry',
    },
  ),
});

export const RefundItem = Type.Object(
  { orderItemId: Uuid, quantity: Type.Integer({ minimum: 1, maximum: 1_000_000 }) },
  { additionalProperties: false },
);

/** POST /admin/orders/:id/refunds */
export const RefundInput = Type.Object(
  {
    amount: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 2 ** 53 - 1,
        description: 'kobo; default: everything still refundable',
      }),
    ),
    reason: Type.String({ minLength: 1, maxLength: 500 }),
    restock: Type.Optional(
      Type.Boolean({
        default: false,
        description:
          'once refunded, put the `items` named back in stock (every line not yet restocked when the refund is full and names none)',
      }),
    ),
    items: Type.Optional(
      Type.Array(RefundItem, {
        maxItems: 500,
        description: 'the order lines (and units) this refund is for',
      }),
    ),
    to: Type.Optional(
      StringEnum(refundDestinations, {
        default: 'original',
        description:
          '`original` (default): back to Paystack first, then to store credit for what was paid with credit; `store_credit`: ' +
          'all as store credit, settled at once (409 `no_customer_account` for a guest order)',
      }),
    ),
    paymentReference: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 100,
        description:
          'refund only this payment of the order: how a flagged payment (wrong amount or currency, never applied) is refunded',
      }),
    ),
  },
  { additionalProperties: false },
);

export type RefundView = Static<typeof Refund>;
export type RefundItem = Static<typeof RefundItem>;
export type RefundInput = Static<typeof RefundInput>;

/** Everything a reconciliation run can list: the discrepancy kinds, and a second payment for a paid order. */
export const runDiscrepancyKinds = [...discrepancyKinds, 'paid_twice', ...ledgerDiscrepancyKinds] as const;

const Amount = Type.Object({ amount: Type.Integer(), currency: Type.String() });
export const RunDiscrepancy = Type.Object({
  kind: StringEnum(runDiscrepancyKinds),
  reference: Type.String(),
  orderId: Nullable(Uuid),
  expected: Nullable(Amount),
  actual: Nullable(Type.Object({ ...Amount.properties, status: Type.Optional(Type.String()) })),
});

/** A reconciliation run as staff list it. */
export const ReconciliationRun = Type.Object({
  id: Uuid,
  trigger: StringEnum(reconciliationTriggers),
  status: StringEnum(reconciliationRunStatuses),
  windowFrom: Timestamp,
  windowTo: Timestamp,
  counts: Type.Record(Type.String(), Type.Integer(), {
    description: 'listed, successful, matched, applied, notSuccessful, discrepancies',
  }),
  discrepancies: Type.Array(RunDiscrepancy),
  creditDiscrepancies: Type.Array(CreditDiscrepancySchema, {
    description: 'what the nightly store-credit ledger check found (counts: creditAccounts, creditSpends, creditSpendsOpen, creditDiscrepancies)',
  }),
  error: Nullable(Type.String()),
  requestedBy: Nullable(Uuid),
  startedAt: Timestamp,
  finishedAt: Nullable(Timestamp),
});

export type RunDiscrepancy = Static<typeof RunDiscrepancy>;
