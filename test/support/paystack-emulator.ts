import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signWebhook } from '../../shared/integrations/paystack/client.js';

export { signWebhook };

/**
 * A local stand-in for the Paystack API that speaks its protocol (paths, envelopes, status codes,
 * kobo amounts, signed webhooks with retries). Tests start it directly; `npm run dev` runs it
 * (scripts/dev-paystack.ts) when no PAYSTACK_SECRET_KEY is set, with a small "pay" page behind the
 * authorization URL so a purchase can be tried in a browser. A test fake: it is not in the build.
 */

export interface EmulatedTransaction {
  id: number;
  reference: string;
  status: string;
  amount: number;
  requestedAmount: number;
  currency: string;
  email: string;
  accessCode: string;
  callbackUrl: string | null;
  metadata: unknown;
  createdAt: string;
  paidAt: string | null;
  channel: string | null;
  gatewayResponse: string | null;
}

export interface EmulatedRefund {
  id: number;
  transactionId: number;
  transactionReference: string;
  amount: number;
  currency: string;
  status: 'pending' | 'processing' | 'processed' | 'failed' | 'needs-attention';
  merchantNote: string | null;
  customerNote: string | null;
  refundReference: string | null;
  createdAt: string;
}

export interface WebhookDelivery {
  event: string;
  body: string;
  signature: string;
  attempt: number;
  /** HTTP status answered, 0 when the URL could not be reached. */
  status: number;
  at: string;
}

export type EmulatorOperation = 'initialize' | 'verify' | 'list' | 'refund' | 'fetchRefund' | 'listRefunds';

export interface FailureSpec {
  /** Answer this status (default 500); with only `delayMs`, the call answers normally but late. */
  status?: number;
  delayMs?: number;
  /** How many calls fail (default 1). */
  times?: number;
  message?: string;
}

/**
 * What the next create-refund call does after it has created the refund (Paystack has no idempotency
 * key, so "created, but the answer never came" is the case a refund job must survive).
 */
export interface RefundCreateFault {
  /** Runs after the refund exists and before anything is answered (e.g. settle it, so its webhook overtakes the answer). */
  beforeAnswer?: (refund: EmulatedRefund) => Promise<void> | void;
  /** `late`: answer after `delayMs` (a client with a shorter timeout gives up first); `drop`: close the connection unanswered. */
  answer?: 'normal' | 'late' | 'drop';
  /** For `late` (default 30 s) and `drop` (default 0). */
  delayMs?: number;
  /**
   * Paystack takes the call but makes the refund only this long after it arrived (a slow provider
   * working through its queue): a client that gives up first, lists and finds nothing, has not lost it.
   * The answer follows the creation.
   */
  createAfterMs?: number;
}

/** How refund events leave the emulator: at once, held for `releaseRefundWebhooks`, or not at all. */
export type RefundWebhookMode = 'send' | 'hold' | 'none';

export interface HeldWebhook {
  event: string;
  data: Record<string, unknown>;
  refundId: number;
}

/**
 * A provider outage: every API call fails for a while, and webhooks wait until it ends (Paystack's
 * senders are down too; they deliver late, not never). The customer-facing pay page and the test
 * controls (`pay`, `settleRefund`) keep working in `error` mode, so a customer can pay while the shop
 * cannot verify: the case that loses money if handled badly.
 */
export interface OutageSpec {
  /** `error` (default): every call answers `status`; `refuse`: the port is closed (connection refused). */
  mode?: 'error' | 'refuse';
  /** HTTP status in `error` mode (default 503). */
  status?: number;
  /** Ends by itself after this long; without it, it lasts until `endOutage()`. */
  durationMs?: number;
}

export interface PaystackEmulatorOptions {
  secretKey: string;
  webhookUrl?: string;
  /** Wait before re-sending a webhook not answered 200 (live Paystack: 3 minutes). */
  webhookRetryMs?: number;
  webhookMaxAttempts?: number;
  /** Smallest NGN charge (₦50). */
  minimumAmount?: number;
  port?: number;
  host?: string;
  currencies?: string[];
}

const INTEGRATION = 100032;
const REFERENCE_RE = /^[A-Za-z0-9\-.=_]+$/;

export async function startPaystackEmulator(opts: PaystackEmulatorOptions) {
  const transactions = new Map<string, EmulatedTransaction>();
  const refunds = new Map<number, EmulatedRefund>();
  const webhookDeliveries: WebhookDelivery[] = [];
  const failures = new Map<EmulatorOperation, Required<Pick<FailureSpec, 'times'>> & FailureSpec>();
  const timers = new Set<NodeJS.Timeout>();
  const refundCreateFaults: RefundCreateFault[] = [];
  const heldRefundWebhooks: HeldWebhook[] = [];
  let refundWebhookMode: RefundWebhookMode = 'send';
  let refundListGate: { size: number; waiting: (() => void)[] } | undefined;
  const inFlight = new Set<Promise<unknown>>();
  const currencies = new Set(opts.currencies ?? ['NGN', 'USD', 'GHS']);
  const minimumAmount = opts.minimumAmount ?? 5_000;
  const retryMs = opts.webhookRetryMs ?? 180_000;
  const maxAttempts = opts.webhookMaxAttempts ?? 5;
  let webhookUrl = opts.webhookUrl;
  let nextTransactionId = 4_100_000_000; // beyond 2^31, as real ids are
  let nextRefundId = 12_000_000;
  let closed = false;
  let outage: (OutageSpec & { timer?: NodeJS.Timeout }) | undefined;
  /** Webhooks held back by an outage, sent when it ends. */
  let deferred: (() => void)[] = [];
  /** Every API call waits this long before it is answered (a slow provider). */
  let latencyMs = 0;
  /** API calls received, and how many of them an outage failed. */
  const stats = { calls: 0, failedByOutage: 0 };

  const now = () => new Date().toISOString();

  function transactionView(t: EmulatedTransaction) {
    return {
      id: t.id,
      domain: 'test',
      status: t.status,
      reference: t.reference,
      receipt_number: null,
      amount: t.amount,
      requested_amount: t.requestedAmount,
      message: null,
      gateway_response: t.gatewayResponse,
      paid_at: t.paidAt,
      created_at: t.createdAt,
      channel: t.channel,
      currency: t.currency,
      ip_address: null,
      metadata: t.metadata ?? '',
      fees: t.status === 'success' ? Math.min(Math.round(t.amount * 0.015) + 10_000, 200_000) : null,
      customer: {
        id: 1,
        email: t.email,
        customer_code: `CUS_${t.email.length}emu`,
        first_name: null,
        last_name: null,
      },
      authorization:
        t.status === 'success'
          ? { authorization_code: 'AUTH_emu', channel: 'card', card_type: 'visa', last4: '4081' }
          : {},
    };
  }

  function refundView(r: EmulatedRefund) {
    const t = transactions.get(r.transactionReference);
    return {
      id: r.id,
      integration: INTEGRATION,
      domain: 'test',
      transaction: t
        ? { id: t.id, reference: t.reference, amount: t.amount, currency: t.currency }
        : r.transactionId,
      dispute: null,
      amount: r.amount,
      deducted_amount: r.amount,
      currency: r.currency,
      channel: null,
      fully_deducted: true,
      refunded_by: 'emulator',
      merchant_note: r.merchantNote,
      customer_note: r.customerNote,
      status: r.status,
      expected_at: new Date(Date.parse(r.createdAt) + 5 * 86_400_000).toISOString(),
      created_at: r.createdAt,
      createdAt: r.createdAt,
    };
  }

  // ----- webhooks -----

  function sendWebhook(event: string, data: unknown) {
    const body = JSON.stringify({ event, data });
    const signature = signWebhook(body, opts.secretKey);
    return deliver(event, body, signature, 1);
  }

  async function deliver(
    event: string,
    body: string,
    signature: string,
    attempt: number,
  ): Promise<WebhookDelivery | undefined> {
    const url = webhookUrl;
    if (!url || closed) return undefined;
    if (outage) {
      deferred.push(() => void deliver(event, body, signature, attempt));
      return undefined;
    }
    let status = 0;
    const p = fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-paystack-signature': signature,
        'user-agent': 'Paystack-Emulator',
      },
      body,
      signal: AbortSignal.timeout(30_000),
    }).then(
      async (res) => {
        status = res.status;
        await res.arrayBuffer().catch(() => undefined);
      },
      () => undefined,
    );
    inFlight.add(p);
    await p;
    inFlight.delete(p);
    const delivery: WebhookDelivery = { event, body, signature, attempt, status, at: now() };
    webhookDeliveries.push(delivery);
    // Only a 200 counts as delivered; anything else is retried a bounded number of times.
    if (status !== 200 && attempt < maxAttempts && !closed) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        void deliver(event, body, signature, attempt + 1);
      }, retryMs);
      timer.unref();
      timers.add(timer);
    }
    return delivery;
  }

  // ----- test controls -----

  function requireTransaction(reference: string) {
    const t = transactions.get(reference);
    if (!t) throw new Error(`emulator: no transaction ${reference}`);
    return t;
  }

  /**
   * Completes a transaction as a customer would (amount/currency as the test chooses, default what was
   * requested) and, for a success, sends the signed `charge.success` webhook. Resolves after the first
   * delivery attempt (retries continue in the background).
   */
  async function pay(
    reference: string,
    o: { amount?: number; currency?: string; status?: string; webhook?: boolean } = {},
  ) {
    const t = requireTransaction(reference);
    t.status = o.status ?? 'success';
    t.amount = o.amount ?? t.requestedAmount;
    t.currency = o.currency ?? t.currency;
    t.channel = 'card';
    t.gatewayResponse = t.status === 'success' ? 'Successful' : 'Declined';
    t.paidAt = t.status === 'success' ? now() : null;
    const delivery =
      t.status === 'success' && o.webhook !== false
        ? await sendWebhook('charge.success', transactionView(t))
        : undefined;
    return { transaction: { ...t }, delivery };
  }

  /** A transaction made outside our shop (or one whose initialize we never recorded). */
  function createTransaction(o: {
    reference: string;
    amount: number;
    currency?: string;
    email?: string;
    status?: string;
    createdAt?: string;
  }) {
    const t: EmulatedTransaction = {
      id: nextTransactionId++,
      reference: o.reference,
      status: o.status ?? 'success',
      amount: o.amount,
      requestedAmount: o.amount,
      currency: o.currency ?? 'NGN',
      email: o.email ?? 'someone@example.com',
      accessCode: randomBytes(8).toString('hex'),
      callbackUrl: null,
      metadata: '',
      createdAt: o.createdAt ?? now(),
      paidAt: (o.status ?? 'success') === 'success' ? (o.createdAt ?? now()) : null,
      channel: 'card',
      gatewayResponse: null,
    };
    transactions.set(t.reference, t);
    return { ...t };
  }

  /** A refund event as Paystack sends it: no refund id (only needs-attention carries one), amount as a string. */
  function refundEventData(r: EmulatedRefund): Record<string, unknown> {
    const t = transactions.get(r.transactionReference)!;
    return {
      status: r.status,
      transaction_reference: r.transactionReference,
      refund_reference: r.refundReference,
      amount: String(r.amount),
      currency: r.currency,
      processor: 'emulator',
      customer: { email: t.email },
      integration: INTEGRATION,
      domain: 'test',
      ...(r.status === 'needs-attention' ? { id: r.id } : {}),
    };
  }

  /**
   * Moves a refund along (`processing`, or final: `processed` / `failed`) and emits `refund.<status>`:
   * sent at once (the default), after `delayMs`, held until `releaseRefundWebhooks` (`webhook: 'hold'`,
   * or `holdRefundWebhooks()` for every refund event), or not at all. Resolves with the first delivery
   * when it was sent at once.
   */
  async function settleRefund(
    id: number,
    status: 'processing' | 'processed' | 'failed' | 'needs-attention',
    o: { webhook?: RefundWebhookMode; delayMs?: number } = {},
  ) {
    const r = refunds.get(id);
    if (!r) throw new Error(`emulator: no refund ${id}`);
    r.status = status;
    r.refundReference = status === 'processed' ? `RFD-${r.id}` : null;
    const t = transactions.get(r.transactionReference)!;
    if (status === 'processed') {
      const refunded = [...refunds.values()]
        .filter((x) => x.transactionReference === t.reference && x.status === 'processed')
        .reduce((s, x) => s + x.amount, 0);
      if (refunded >= t.amount) t.status = 'reversed';
    }
    const event = `refund.${status}`;
    const data = refundEventData(r);
    const mode = o.webhook ?? refundWebhookMode;
    let delivery: WebhookDelivery | undefined;
    if (mode === 'hold') heldRefundWebhooks.push({ event, data, refundId: r.id });
    else if (mode === 'send' && o.delayMs) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        void sendWebhook(event, data);
      }, o.delayMs);
      timer.unref();
      timers.add(timer);
    } else if (mode === 'send') delivery = await sendWebhook(event, data);
    return { refund: { ...r }, delivery };
  }

  /**
   * Sends the held refund events: in the order they happened, reversed (`reverse`), or as `pick` orders
   * them (indexes into the held list); `gapMs` between two. Resolves with the deliveries.
   */
  async function releaseRefundWebhooks(o: { reverse?: boolean; pick?: number[]; gapMs?: number } = {}) {
    const held = heldRefundWebhooks.splice(0);
    const ordered = o.pick
      ? o.pick.map((i) => held[i]).filter((h): h is HeldWebhook => Boolean(h))
      : o.reverse
        ? held.reverse()
        : held;
    const deliveries: (WebhookDelivery | undefined)[] = [];
    for (const [i, h] of ordered.entries()) {
      if (i > 0 && o.gapMs) await new Promise((r) => setTimeout(r, o.gapMs).unref());
      deliveries.push(await sendWebhook(h.event, h.data));
    }
    return deliveries;
  }

  /**
   * The next `size` list-refund calls wait for each other and are answered together, as when two
   * workers read the same transaction at the same moment.
   */
  function gateRefundLists(size: number) {
    refundListGate = { size, waiting: [] };
  }

  /** The next create-refund calls (one fault per call, in order) create the refund and then misbehave. */
  function faultNextRefundCreate(...faults: RefundCreateFault[]) {
    refundCreateFaults.push(...faults);
  }

  function failNext(op: EmulatorOperation, spec: FailureSpec = {}) {
    failures.set(op, { ...spec, times: spec.times ?? 1 });
  }

  /** Starts an outage (see OutageSpec); a running one is replaced. */
  async function startOutage(spec: OutageSpec = {}) {
    if (outage) await endOutage({ flush: false });
    outage = { mode: spec.mode ?? 'error', status: spec.status ?? 503, durationMs: spec.durationMs };
    if (outage.mode === 'refuse') {
      // Stop accepting, and cut the keep-alive connections clients would otherwise reuse.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    if (spec.durationMs !== undefined) {
      const current = outage;
      current.timer = setTimeout(() => {
        if (outage === current) void endOutage();
      }, spec.durationMs);
      current.timer.unref();
    }
  }

  /** Ends the outage: the port listens again and the webhooks it held back are sent. */
  async function endOutage({ flush = true }: { flush?: boolean } = {}) {
    const ended = outage;
    if (!ended) return;
    outage = undefined;
    clearTimeout(ended.timer);
    if (ended.mode === 'refuse' && !closed) await listenOn(port);
    if (!flush) return;
    const held = deferred;
    deferred = [];
    for (const send of held) send();
  }

  /** Every later API call is answered this much later (0: at once). */
  function setLatency(ms: number) {
    latencyMs = ms;
  }

  // ----- HTTP -----

  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };
  const fail = (
    res: ServerResponse,
    status: number,
    message: string,
    code: string,
    type = 'validation_error',
  ) =>
    json(res, status, {
      status: false,
      message,
      meta: { nextStep: 'Check the request and try again' },
      type,
      code,
    });

  async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (!text) return {};
    const type = req.headers['content-type'] ?? '';
    if (type.includes('application/x-www-form-urlencoded'))
      return Object.fromEntries(new URLSearchParams(text));
    try {
      const parsed: unknown = JSON.parse(text);
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return { __invalid: true };
    }
  }

  /** Applies a scheduled failure for `op`; true when the call has been answered already. */
  async function injectFailure(op: EmulatorOperation, res: ServerResponse): Promise<boolean> {
    const spec = failures.get(op);
    if (!spec) return false;
    if (--spec.times <= 0) failures.delete(op);
    if (spec.delayMs) await new Promise((r) => setTimeout(r, spec.delayMs).unref());
    if (spec.status === undefined && spec.delayMs) return false;
    if (!res.writableEnded && !res.destroyed) {
      fail(res, spec.status ?? 500, spec.message ?? 'An error occurred', 'emulated_failure', 'api_error');
    }
    return true;
  }

  const asKobo = (v: unknown): number | undefined => {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    if (typeof v === 'string' && /^[0-9]+$/.test(v)) return Number(v);
    return undefined;
  };

  async function initialize(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const email = typeof body.email === 'string' ? body.email : '';
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email))
      return fail(res, 400, 'Invalid Email Address Passed', 'invalid_email');
    const amount = asKobo(body.amount);
    const currency = typeof body.currency === 'string' ? body.currency.toUpperCase() : 'NGN';
    if (amount === undefined || amount <= 0) return fail(res, 400, 'Invalid Amount Sent', 'invalid_amount');
    if (!currencies.has(currency))
      return fail(res, 400, 'Currency not supported by merchant', 'unsupported_currency');
    if (currency === 'NGN' && amount < minimumAmount)
      return fail(res, 400, 'Invalid Amount Sent', 'invalid_amount');
    const reference =
      typeof body.reference === 'string' && body.reference
        ? body.reference
        : `T${randomBytes(7).toString('hex')}`;
    if (!REFERENCE_RE.test(reference))
      return fail(res, 400, 'Invalid character in transaction reference', 'invalid_reference');
    if (transactions.has(reference))
      return fail(res, 400, 'Duplicate Transaction Reference', 'duplicate_reference');
    let metadata: unknown = body.metadata ?? '';
    if (typeof metadata === 'string' && metadata.startsWith('{')) {
      try {
        metadata = JSON.parse(metadata);
      } catch {
        /* kept as sent */
      }
    }
    const t: EmulatedTransaction = {
      id: nextTransactionId++,
      reference,
      status: 'abandoned', // a new transaction reads "abandoned" until completed
      amount,
      requestedAmount: amount,
      currency,
      email,
      accessCode: randomBytes(8).toString('hex'),
      callbackUrl: typeof body.callback_url === 'string' ? body.callback_url : null,
      metadata,
      createdAt: now(),
      paidAt: null,
      channel: null,
      gatewayResponse: null,
    };
    transactions.set(reference, t);
    json(res, 200, {
      status: true,
      message: 'Authorization URL created',
      data: {
        authorization_url: `${url}/pay/${encodeURIComponent(reference)}`,
        access_code: t.accessCode,
        reference,
      },
    });
  }

  function paginate<T>(items: T[], q: URLSearchParams) {
    const perPage = Math.max(1, Math.min(Number(q.get('perPage') ?? 50) || 50, 200));
    const page = Math.max(1, Number(q.get('page') ?? 1) || 1);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return {
      slice,
      meta: {
        total: items.length,
        skipped: (page - 1) * perPage,
        perPage,
        page,
        pageCount: Math.max(1, Math.ceil(items.length / perPage)),
      },
    };
  }

  function list(q: URLSearchParams, res: ServerResponse) {
    const from = q.get('from') ? Date.parse(q.get('from')!) : -Infinity;
    const to = q.get('to') ? Date.parse(q.get('to')!) : Infinity;
    const status = q.get('status');
    const items = [...transactions.values()]
      .filter((t) => {
        const at = Date.parse(t.createdAt);
        return at >= from && at <= to && (!status || t.status === status);
      })
      .sort((a, b) => Date.parse(b.createdAt) - Date.parse(a.createdAt) || b.id - a.id);
    const { slice, meta } = paginate(items, q);
    json(res, 200, {
      status: true,
      message: 'Transactions retrieved',
      data: slice.map(transactionView),
      meta: {
        ...meta,
        total_volume: items.filter((t) => t.status === 'success').reduce((s, t) => s + t.amount, 0),
      },
    });
  }

  function findTransaction(key: string) {
    return transactions.get(key) ?? [...transactions.values()].find((t) => String(t.id) === key);
  }

  async function createRefund(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const fault = refundCreateFaults.shift();
    if (fault?.createAfterMs) await new Promise((done) => setTimeout(done, fault.createAfterMs).unref());
    const key =
      typeof body.transaction === 'string' || typeof body.transaction === 'number'
        ? String(body.transaction)
        : undefined;
    const t = key === undefined ? undefined : findTransaction(key);
    if (!t) return fail(res, 404, 'Transaction not found', 'transaction_not_found');
    if (t.status === 'reversed')
      return fail(res, 400, 'Transaction has been fully reversed', 'transaction_reversed');
    if (t.status !== 'success')
      return fail(res, 400, 'Cannot refund a transaction that was not successful', 'invalid_transaction');
    const taken = [...refunds.values()]
      .filter((r) => r.transactionReference === t.reference && r.status !== 'failed')
      .reduce((s, r) => s + r.amount, 0);
    const remaining = t.amount - taken;
    if (remaining <= 0) return fail(res, 400, 'Transaction has been fully reversed', 'transaction_reversed');
    const amount = body.amount === undefined ? remaining : asKobo(body.amount);
    if (amount === undefined || amount <= 0) return fail(res, 400, 'Invalid Amount Sent', 'invalid_amount');
    if (amount > remaining)
      return fail(
        res,
        400,
        'Refund amount cannot be more than the unrefunded transaction amount',
        'invalid_amount',
      );
    if (
      body.currency !== undefined &&
      (typeof body.currency !== 'string' || body.currency.toUpperCase() !== t.currency)
    ) {
      return fail(res, 400, 'Currency does not match transaction currency', 'invalid_currency');
    }
    const r: EmulatedRefund = {
      id: nextRefundId++,
      transactionId: t.id,
      transactionReference: t.reference,
      amount,
      currency: t.currency,
      status: 'pending',
      merchantNote: typeof body.merchant_note === 'string' ? body.merchant_note : null,
      customerNote: typeof body.customer_note === 'string' ? body.customer_note : null,
      refundReference: null,
      createdAt: now(),
    };
    refunds.set(r.id, r);
    // The answer describes the refund as created, whatever happens to it before the answer leaves.
    const answer = { status: true, message: 'Refund has been queued for processing', data: refundView(r) };
    if (fault) {
      await fault.beforeAnswer?.({ ...r });
      const mode = fault.answer ?? 'normal';
      const delayMs = fault.delayMs ?? (mode === 'late' ? 30_000 : 0);
      if (mode !== 'normal' && delayMs) await new Promise((done) => setTimeout(done, delayMs).unref());
      if (mode === 'drop') return void res.destroy();
      if (res.destroyed) return; // the client gave up waiting
    }
    json(res, 200, answer);
  }

  async function listRefunds(q: URLSearchParams, res: ServerResponse) {
    const gate = refundListGate;
    if (gate) {
      await new Promise<void>((release) => {
        gate.waiting.push(release);
        if (gate.waiting.length >= gate.size) {
          refundListGate = undefined;
          for (const r of gate.waiting) r();
        }
      });
    }
    const key = q.get('transaction');
    const t = key ? findTransaction(key) : undefined;
    const items = [...refunds.values()]
      .filter((r) => !key || (t && r.transactionReference === t.reference))
      .sort((a, b) => b.id - a.id);
    const { slice, meta } = paginate(items, q);
    json(res, 200, { status: true, message: 'Refunds retrieved', data: slice.map(refundView), meta });
  }

  const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  function payPage(t: EmulatedTransaction, res: ServerResponse) {
    const naira = (t.requestedAmount / 100).toLocaleString('en-NG', { minimumFractionDigits: 2 });
    const ref = escapeHtml(t.reference);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>Pay ${ref}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}button{font-size:1.1rem;padding:.6rem 1.4rem;margin:.3rem}</style></head>
<body><h1>Paystack emulator</h1><p>${escapeHtml(t.email)} pays <strong>${escapeHtml(t.currency)} ${naira}</strong></p>
<p>Reference <code>${ref}</code> · status <strong>${escapeHtml(t.status)}</strong></p>
<form method="post" action="/pay/${encodeURIComponent(t.reference)}"><button name="outcome" value="success">Pay</button>
<button name="outcome" value="failed">Decline</button></form></body></html>`);
  }

  async function payFromPage(t: EmulatedTransaction, req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const outcome = body.outcome === 'failed' ? 'failed' : 'success';
    if (t.status !== 'success' && t.status !== 'reversed') await pay(t.reference, { status: outcome });
    if (t.callbackUrl) {
      const target = new URL(t.callbackUrl);
      target.searchParams.set('trxref', t.reference);
      target.searchParams.set('reference', t.reference);
      res.writeHead(302, { location: target.toString() });
      return res.end();
    }
    payPage(t, res);
  }

  async function route(req: IncomingMessage, res: ServerResponse) {
    const u = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);

    // The checkout page stands for checkout.paystack.com: public, no secret key.
    if (parts[0] === 'pay' && parts.length === 2) {
      const t = transactions.get(parts[1]);
      if (!t) return fail(res, 404, 'Transaction not found', 'transaction_not_found');
      return method === 'POST' ? payFromPage(t, req, res) : payPage(t, res);
    }

    stats.calls++;
    if (latencyMs > 0) await new Promise((r) => setTimeout(r, latencyMs).unref());
    if (outage) {
      stats.failedByOutage++;
      if (outage.mode === 'refuse') return res.destroy();
      return fail(res, outage.status ?? 503, 'Service temporarily unavailable', 'emulated_outage', 'api_error');
    }

    if (req.headers.authorization !== `Bearer ${opts.secretKey}`) {
      return fail(res, 401, 'Invalid key', 'invalid_Key', 'api_error');
    }

    if (method === 'POST' && u.pathname === '/transaction/initialize') {
      if (await injectFailure('initialize', res)) return;
      return initialize(req, res);
    }
    if (method === 'GET' && parts[0] === 'transaction' && parts[1] === 'verify' && parts.length === 3) {
      if (await injectFailure('verify', res)) return;
      const t = transactions.get(parts[2]);
      if (!t) return fail(res, 400, 'Transaction reference not found', 'transaction_not_found');
      return json(res, 200, { status: true, message: 'Verification successful', data: transactionView(t) });
    }
    if (method === 'GET' && u.pathname === '/transaction') {
      if (await injectFailure('list', res)) return;
      return list(u.searchParams, res);
    }
    if (method === 'GET' && parts[0] === 'transaction' && parts.length === 2) {
      const t = findTransaction(parts[1]);
      if (!t) return fail(res, 404, 'Transaction not found', 'transaction_not_found');
      return json(res, 200, { status: true, message: 'Transaction retrieved', data: transactionView(t) });
    }
    if (method === 'POST' && u.pathname === '/refund') {
      if (await injectFailure('refund', res)) return;
      return createRefund(req, res);
    }
    if (method === 'GET' && u.pathname === '/refund') {
      if (await injectFailure('listRefunds', res)) return;
      return listRefunds(u.searchParams, res);
    }
    if (method === 'GET' && parts[0] === 'refund' && parts.length === 2) {
      if (await injectFailure('fetchRefund', res)) return;
      const r = refunds.get(Number(parts[1]));
      if (!r) return fail(res, 404, 'Refund not found', 'not_found');
      return json(res, 200, { status: true, message: 'Refund retrieved', data: refundView(r) });
    }
    fail(res, 404, 'Not found', 'not_found', 'api_error');
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      if (!res.headersSent)
        fail(res, 500, err instanceof Error ? err.message : 'emulator error', 'emulator_error', 'api_error');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 1_000;
  const listenOn = (p: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(p, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listenOn(opts.port ?? 0);
  const { port } = server.address() as AddressInfo;
  const url = `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : (opts.host ?? '127.0.0.1')}:${port}`;

  async function close() {
    closed = true;
    for (const t of timers) clearTimeout(t);
    timers.clear();
    clearTimeout(outage?.timer);
    deferred = [];
    await Promise.allSettled([...inFlight]);
    server.closeAllConnections();
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  return {
    url,
    secretKey: opts.secretKey,
    close,
    pay,
    createTransaction,
    settleRefund,
    releaseRefundWebhooks,
    /** Every refund event from now on is held (`hold`), sent (`send`) or dropped (`none`) unless told otherwise. */
    setRefundWebhookMode: (mode: RefundWebhookMode) => {
      refundWebhookMode = mode;
    },
    heldRefundWebhooks,
    faultNextRefundCreate,
    gateRefundLists,
    failNext,
    startOutage,
    endOutage,
    setLatency,
    /** True while an outage lasts. */
    get down() {
      return outage !== undefined;
    },
    stats,
    sendWebhook,
    transactions,
    refunds,
    webhookDeliveries,
    setWebhookUrl: (next: string | undefined) => {
      webhookUrl = next;
    },
  };
}

export type PaystackEmulator = Awaited<ReturnType<typeof startPaystackEmulator>>;
