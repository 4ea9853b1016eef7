import { Type, type Static, type TSchema } from 'typebox';
import { NotificationEvent } from './notifications/schemas.js';
import { NoticeAudience } from './support/audience.js';
import { reconciliationTriggers } from './payments/schemas.js';
import { StringEnum } from './schemas.js';

/**
 * The one job catalogue: every queue, every job name and its payload schema. Producers (the outbox)
 * and consumers (worker processors) both type themselves from here, so a job without a handler is a
 * compile error. Payloads carry ids, never entities and never secrets: processors re-read state.
 */
export const queueNames = [
  'system',
  'email',
  'invoice',
  'payment',
  'refund',
  'reconciliation',
  'inventory',
  'imports',
  'recommendations',
  'reviews-recount',
  'notify',
  'push',
  'support',
  'returns-expire',
  'customers',
] as const;
export type QueueName = (typeof queueNames)[number];

/**
 * Queue groups, the unit a worker deployment is scaled by (WORKER_QUEUES): every queue is in exactly
 * one group, so one deployment per group runs everything. `mail` holds everything that tells people
 * something (mail, the notification fan-out, push); `invoices` holds the CPU- and media-host-bound
 * document work (PDF rendering, product imports); `payments` everything that calls Paystack (and shares
 * its retry policy); `scheduled` the light, frequent jobs (reservation expiry every minute, websocket
 * notices).
 */
export const queueGroups = {
  mail: ['email', 'notify', 'push'],
  invoices: ['invoice', 'imports'],
  payments: ['payment', 'refund', 'reconciliation'],
  scheduled: ['inventory', 'system', 'recommendations', 'reviews-recount', 'support', 'returns-expire', 'customers'],
} as const satisfies Record<string, readonly QueueName[]>;
export type QueueGroup = keyof typeof queueGroups;

/**
 * The queues a WORKER_QUEUES value names: `all`, or a comma-separated list of groups and single queues
 * (`payments,imports`). Throws naming every unknown entry.
 */
export function resolveWorkerQueues(spec: string): QueueName[] {
  const names = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new Error(`names no queue (use "all", or groups: ${Object.keys(queueGroups).join(', ')})`);
  const chosen = new Set<QueueName>();
  const unknown: string[] = [];
  for (const name of names) {
    if (name === 'all') queueNames.forEach((q) => chosen.add(q));
    else if (Object.hasOwn(queueGroups, name)) queueGroups[name as QueueGroup].forEach((q) => chosen.add(q));
    else if ((queueNames as readonly string[]).includes(name)) chosen.add(name as QueueName);
    else unknown.push(name);
  }
  if (unknown.length) {
    throw new Error(`unknown queue group or queue ${unknown.map((u) => JSON.stringify(u)).join(', ')} (groups: ${Object.keys(queueGroups).join(', ')}; queues: ${queueNames.join(', ')}; or all)`);
  }
  return queueNames.filter((q) => chosen.has(q));
}

const Id = Type.String({ format: 'uuid' });

export const EmailPayload = Type.Object({
  template: Type.String({ minLength: 1 }),
  to: Type.String({ minLength: 3 }),
  /** Template variables; values are escaped when rendered. */
  data: Type.Record(Type.String(), Type.Unknown()),
  /** Attachments are referenced, never embedded: e.g. an invoice by order id. */
  attachInvoiceOf: Type.Optional(Id),
  /** An order whose signed link the worker puts in `data.orderUrl` when rendering: no token in the payload. */
  orderLinkOf: Type.Optional(Id),
  /** An approved support reply this mail carries: once the mail is accepted, the reply becomes `sent`. */
  supportReplyOf: Type.Optional(Id),
});

export const jobs = {
  'system.ping': { queue: 'system', payload: Type.Object({ message: Type.String() }) },
  /** A notice for websocket clients, published worker → Redis pub/sub → every API replica. */
  'system.notify': {
    queue: 'system',
    payload: Type.Object({
      type: Type.String(),
      userId: Type.Optional(Id),
      staff: Type.Optional(Type.Boolean()),
      data: Type.Record(Type.String(), Type.Unknown()),
      /** Support notices: who may receive it (shared/support/audience.ts). */
      audience: Type.Optional(NoticeAudience),
    }),
  },
  'email.send': { queue: 'email', payload: EmailPayload },
  /** Forgot-password: the address sealed (ENCRYPTION_KEY); the job looks the account up, so the request does the same work for any address. */
  'email.password-reset': { queue: 'email', payload: Type.Object({ emailSealed: Type.String({ minLength: 1 }) }) },
  'invoice.render': { queue: 'invoice', payload: Type.Object({ orderId: Id }) },
  'payment.webhook': { queue: 'payment', payload: Type.Object({ eventId: Id }) },
  'payment.verify': { queue: 'payment', payload: Type.Object({ reference: Type.String({ minLength: 1 }) }) },
  /** Every PAYMENT_SWEEP_MS: re-drives stuck refunds, unverified payments and unhandled webhooks; alerts. */
  'payment.sweep': { queue: 'payment', payload: Type.Object({}) },
  /** `poll` counts status checks of a refund Paystack has accepted but not finished (webhook missed). */
  'refund.execute': { queue: 'refund', payload: Type.Object({ refundId: Id, poll: Type.Optional(Type.Integer({ minimum: 0 })) }) },
  /** A refund made for a return settled (shared/payments/refund-events.ts): the return completes, or shows the failure. */
  'refund.return-settled': { queue: 'refund', payload: Type.Object({ refundId: Id, returnId: Id }) },
  'reconciliation.run': {
    queue: 'reconciliation',
    payload: Type.Object({ runId: Type.Optional(Id), trigger: StringEnum(reconciliationTriggers) }),
  },
  'inventory.expire-reservations': { queue: 'inventory', payload: Type.Object({}) },
  'import.products': { queue: 'imports', payload: Type.Object({ importId: Id }) },
  /** Nightly (no runId: the job starts or joins a run) or on demand (the API created the run). */
  'recommendations.rebuild': {
    queue: 'recommendations',
    payload: Type.Object({ runId: Type.Optional(Id), trigger: Type.Union([Type.Literal('schedule'), Type.Literal('manual')]) }),
  },
  /** Nightly check that every product's rating counters equal its published reviews. */
  'reviews.recount': { queue: 'reviews-recount', payload: Type.Object({ trigger: Type.Union([Type.Literal('schedule'), Type.Literal('manual')]) }) },
  /** An event → in-app rows, mail and push jobs per recipient and preference (shared/notifications/fanout.ts). */
  'notify.fanout': { queue: 'notify', payload: NotificationEvent },
  /** 04:00: in-app notifications past NOTIFICATION_RETENTION_DAYS are deleted. */
  'notifications.cleanup': { queue: 'notify', payload: Type.Object({}) },
  /** One notification to the recipient's devices (FCM HTTP v1, or the log). */
  'push.send': { queue: 'push', payload: Type.Object({ notificationId: Id }) },
  /** Hourly: resolved conversations close after 7 days; uploads never attached are purged after a day. */
  'support.housekeeping': { queue: 'support', payload: Type.Object({}) },
  /** Hourly: approved returns not received within RETURN_SHIP_DAYS expire (exchange holds released); day-old unattached photos go. */
  'returns.expire': { queue: 'returns-expire', payload: Type.Object({}) },
  /** Hourly: reminders for carts left behind, stale guest carts deleted, expired data exports removed. */
  'customers.housekeeping': { queue: 'customers', payload: Type.Object({}) },
  /** Builds a customer's data archive, stores it privately on the media host and mails the signed link. */
  'customers.data-export': { queue: 'customers', payload: Type.Object({ exportId: Id }) },
  /**
   * After an erasure: the mail jobs to the erased address already handed to BullMQ are removed unsent, and
   * the person's stored data exports are deleted from the media host.
   */
  'customers.withdraw-mail': { queue: 'customers', payload: Type.Object({ jobIds: Type.Array(Id, { maxItems: 10_000 }), userId: Id }) },
} as const satisfies Record<string, { queue: QueueName; payload: TSchema }>;

export type JobName = keyof typeof jobs;
/** Every job name of the catalogue (outbox.name holds one). */
export const jobNames = Object.keys(jobs) as JobName[];
export type JobPayload<N extends JobName> = Static<(typeof jobs)[N]['payload']>;
export type JobsOfQueue<Q extends QueueName> = {
  [N in JobName]: (typeof jobs)[N]['queue'] extends Q ? N : never;
}[JobName];

/** What a BullMQ job's data holds: the payload and the request that caused it. */
export interface JobData<P = unknown> {
  payload: P;
  requestId?: string;
}

/** Retries with exponential backoff and jitter; keep few completed jobs and many failed ones. */
export const defaultJobOptions = {
  attempts: 6,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 5_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
} as const;
