import { StringEnum } from '../schemas.js';

/** A payment attempt: created `initializing`, then what Paystack's initialize and verify answers make it. */
export const paymentStatuses = ['initializing', 'initialized', 'init_failed', 'success', 'failed', 'abandoned', 'mismatch'] as const;
export type PaymentStatus = (typeof paymentStatuses)[number];
export const PaymentStatusSchema = StringEnum(paymentStatuses);

/** Who took a payment or sent a webhook. */
export const paymentProviders = ['paystack'] as const;
export type PaymentProvider = (typeof paymentProviders)[number];

/** A refund request and each of its per-payment parts. */
export const refundStatuses = ['pending', 'processing', 'processed', 'failed'] as const;
export type RefundStatus = (typeof refundStatuses)[number];
export const RefundStatusSchema = StringEnum(refundStatuses);

/** What a reconciliation run records when Paystack's ledger and ours disagree. */
export const discrepancyKinds = ['amount_mismatch', 'currency_mismatch', 'unknown_reference', 'paid_but_cancelled', 'ours_paid_theirs_not'] as const;
export type DiscrepancyKind = (typeof discrepancyKinds)[number];

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
] as const;
export type PaymentProblemKind = (typeof paymentProblemKinds)[number];

/** The problem a kind reports (shared/payments/notices.ts `problemOf`): one staff alert per subject and problem. */
export const paymentProblems = ['wrong_payment', 'money_to_return', 'unknown_payment', 'missing_at_paystack', 'unconfirmed', 'refund_stuck'] as const;
export type PaymentProblem = (typeof paymentProblems)[number];
