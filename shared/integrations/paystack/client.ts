import { createHmac, timingSafeEqual } from 'node:crypto';
import type { TSchema, Static } from 'typebox';
import { Type } from 'typebox';
import { Value } from 'typebox/value';
import type { Agent, Dispatcher } from 'undici';
import { fits } from '../../schemas.js';
import {
  Envelope,
  InitializeData,
  ListMeta,
  RawRefund,
  RawTransaction,
  type CreateRefundInput,
  type InitializeInput,
  type InitializeResult,
  type ListTransactionsInput,
  type PaystackRefund,
  type PaystackTransaction,
} from './types.js';

export * from './types.js';

/**
 * A failed Paystack call. `status` is the HTTP status (0: network error or timeout), `code` Paystack's
 * machine code when it sent one, `retryable` whether the same call may succeed later (429, 5xx, network).
 * Messages never contain the secret key.
 */
export class PaystackError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'PaystackError';
  }
}

export interface PaystackClientOptions {
  secretKey: string;
  baseUrl: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Extra attempts for safe (GET) calls on 429/5xx/network errors. */
  retries?: number;
  /** First backoff step; doubled per attempt, with jitter. */
  retryBaseMs?: number;
  /** Keep-alive connections to Paystack at most (default 32); more calls at once wait for one. */
  connections?: number;
}

/**
 * The connection pool of one client: keep-alive sockets to Paystack reused across calls (no TCP + TLS
 * handshake per initialize: that was most of a checkout's wait on Paystack), bounded in number, with a
 * connect timeout and header/body timeouts of the call's timeout, so a Paystack that accepts and never
 * answers cannot hold a socket past it. Idle sockets are closed after a few seconds. A server's keep-alive
 * hint is honoured less a 500 ms margin (undici's default margin, 2 s, closes every socket after one call
 * to a server that hints 2 s or less: a new connection per checkout).
 */
function paystackAgent(AgentClass: typeof Agent, timeoutMs: number, connections: number) {
  return new AgentClass({
    connections,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 30_000,
    keepAliveTimeoutThreshold: 500,
    connect: { timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
}

export type PaystackClient = ReturnType<typeof createPaystackClient>;

const isRetryableStatus = (status: number) => status === 429 || status >= 500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Paystack sends kobo as numbers or digit strings; we only ever hold integers. */
const kobo = (v: number | string | null | undefined): number | null =>
  v === null || v === undefined ? null : Number(v);

function check<S extends TSchema>(schema: S, value: unknown, what: string): Static<S> {
  if (fits(schema, value)) return value;
  const first = Value.Errors(schema, value)[0];
  throw new PaystackError(
    `Unexpected Paystack answer for ${what}: ${first?.instancePath || '/'} ${first?.message ?? 'invalid'}`,
    502,
    'invalid_response',
    true,
  );
}

export function toTransaction(raw: Static<typeof RawTransaction>): PaystackTransaction {
  return {
    id: raw.id,
    status: raw.status,
    reference: raw.reference,
    amount: kobo(raw.amount)!,
    requestedAmount: kobo(raw.requested_amount ?? null),
    currency: raw.currency.toUpperCase(),
    paidAt: raw.paid_at ?? raw.paidAt ?? null,
    createdAt: raw.created_at ?? raw.createdAt ?? null,
    channel: raw.channel ?? null,
    gatewayResponse: raw.gateway_response ?? null,
    customerEmail: raw.customer?.email ?? null,
  };
}

export function toRefund(raw: Static<typeof RawRefund>): PaystackRefund {
  const trx = raw.transaction;
  return {
    id: raw.id,
    status: raw.status,
    amount: kobo(raw.amount)!,
    currency: raw.currency.toUpperCase(),
    transactionId: typeof trx === 'number' ? trx : (trx?.id ?? null),
    transactionReference: typeof trx === 'object' && trx ? (trx.reference ?? null) : null,
    expectedAt: raw.expected_at ?? null,
    createdAt: raw.created_at ?? raw.createdAt ?? null,
    merchantNote: raw.merchant_note ?? null,
  };
}

/**
 * A thin HTTP client for the Paystack calls we use. Safe calls (GET) retry with backoff on 429, 5xx
 * and network errors; initialize and refund never retry on their own, because Paystack has no
 * idempotency key and a retry after a timeout could charge or refund twice: their callers decide.
 */
export function createPaystackClient(opts: PaystackClientOptions) {
  const base = opts.baseUrl.replace(/\/+$/, '');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const retries = opts.retries ?? 2;
  const retryBaseMs = opts.retryBaseMs ?? 250;
  // undici (~3 MB of heap) loads on the first call, not when the process starts: an API process that
  // serves no checkout never needs it.
  let transport: Promise<Agent> | undefined;
  let closed = false;
  const connect = () =>
    (transport ??= import('undici').then(async ({ Agent: AgentClass }) => {
      const dispatcher = paystackAgent(AgentClass, timeoutMs, opts.connections ?? 32);
      // Closed before the first call: calls fail as they would on the closed pool.
      if (closed) await dispatcher.close();
      return dispatcher;
    }));

  // undici's request rather than fetch: no WHATWG Request/Response/stream objects per call (a checkout
  // paid for them on every Paystack initialize).
  const { origin, pathname } = new URL(base);
  const prefix = pathname.replace(/\/+$/, '');

  async function once(method: 'GET' | 'POST', path: string, body?: unknown) {
    const dispatcher = await connect();
    let res: Dispatcher.ResponseData;
    try {
      res = await dispatcher.request({
        origin,
        path: `${prefix}${path}`,
        method,
        headers: {
          authorization: `Bearer ${opts.secretKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      type NetError = { name?: unknown; code?: unknown; errors?: { code?: unknown }[]; cause?: NetError };
      const e = err as NetError | undefined;
      const codes = [e?.code, e?.cause?.code].filter((c) => typeof c === 'string');
      const timedOut = e?.name === 'TimeoutError' || e?.name === 'AbortError' || codes.some((c) => /TIMEOUT/.test(c));
      // Refused: the request never reached Paystack, so it cannot have done anything (a timeout or a
      // connection dropped mid-call may have).
      const refusedAll = (x: NetError | undefined) =>
        x?.code === 'ECONNREFUSED' || (Array.isArray(x?.errors) && x.errors.length > 0 && x.errors.every((y) => y.code === 'ECONNREFUSED'));
      const refused = refusedAll(e) || refusedAll(e?.cause);
      throw Object.assign(
        new PaystackError(
          timedOut
            ? `Paystack ${method} ${path} timed out after ${timeoutMs} ms`
            : `Paystack ${method} ${path} unreachable`,
          0,
          timedOut ? 'timeout' : 'network_error',
          true,
        ),
        { unsent: refused },
      );
    }
    const ok = res.statusCode >= 200 && res.statusCode < 300;
    let json: unknown;
    try {
      json = await res.body.json();
    } catch {
      json = undefined;
      await res.body.dump().catch(() => undefined);
    }
    const envelope = fits(Envelope, json) ? json : undefined;
    if (!ok || !envelope?.status) {
      const status = ok ? 502 : res.statusCode;
      const message = envelope?.message ?? `HTTP ${res.statusCode}`;
      throw Object.assign(
        new PaystackError(
          `Paystack ${method} ${path.split('?')[0]} failed (${status}): ${message}`,
          status,
          envelope?.code ?? codeFor(status),
          isRetryableStatus(status) || !envelope,
        ),
        { providerMessage: message, retryAfterMs: retryAfter(firstHeader(res.headers['retry-after'])) },
      );
    }
    return envelope;
  }

  /** GETs are safe to repeat: retry transient failures with exponential backoff and jitter. */
  async function safeGet(path: string) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await once('GET', path);
      } catch (err) {
        if (!(err instanceof PaystackError) || !err.retryable || attempt >= retries) throw err;
        const backoff = retryBaseMs * 2 ** attempt * (0.5 + Math.random());
        const hinted = (err as PaystackError & { retryAfterMs?: number }).retryAfterMs;
        await sleep(Math.min(hinted ?? backoff, 10_000));
      }
    }
  }

  async function initializeTransaction(input: InitializeInput): Promise<InitializeResult> {
    if (!Number.isSafeInteger(input.amount) || input.amount <= 0)
      throw new RangeError('amount must be a positive integer of kobo');
    const env = await once('POST', '/transaction/initialize', {
      email: input.email,
      amount: input.amount,
      currency: input.currency,
      reference: input.reference,
      ...(input.callbackUrl ? { callback_url: input.callbackUrl } : {}),
      ...(input.metadata ? { metadata: input.metadata } : {}),
      ...(input.channels ? { channels: input.channels } : {}),
    });
    const data = check(InitializeData, env.data, 'initialize');
    return {
      authorizationUrl: data.authorization_url,
      accessCode: data.access_code,
      reference: data.reference,
    };
  }

  /** The transaction, or null when Paystack does not know the reference (400 in practice, 404 per spec). */
  async function verifyTransaction(reference: string): Promise<PaystackTransaction | null> {
    try {
      const env = await safeGet(`/transaction/verify/${encodeURIComponent(reference)}`);
      return toTransaction(check(RawTransaction, env.data, 'verify'));
    } catch (err) {
      if (err instanceof PaystackError && (err.status === 404 || (err.status === 400 && isNotFound(err))))
        return null;
      throw err;
    }
  }

  /** Every transaction in the window, all pages (newest first, as Paystack lists them). */
  async function* iterateTransactions(input: ListTransactionsInput): AsyncGenerator<PaystackTransaction> {
    const perPage = input.perPage ?? 100;
    for (let page = 1; ; page++) {
      const q = new URLSearchParams({
        perPage: String(perPage),
        page: String(page),
        from: new Date(input.from).toISOString(),
        to: new Date(input.to).toISOString(),
        ...(input.status ? { status: input.status } : {}),
      });
      const env = await safeGet(`/transaction?${q.toString()}`);
      const items = check(Type.Array(RawTransaction), env.data, 'list transactions');
      for (const raw of items) yield toTransaction(raw);
      const meta = fits(ListMeta, env.meta) ? env.meta : {};
      const pageCount = meta.pageCount ?? (items.length < perPage ? page : page + 1);
      if (page >= pageCount || items.length === 0) return;
    }
  }

  async function listTransactions(input: ListTransactionsInput): Promise<PaystackTransaction[]> {
    const all: PaystackTransaction[] = [];
    for await (const t of iterateTransactions(input)) all.push(t);
    return all;
  }

  async function createRefund(input: CreateRefundInput): Promise<PaystackRefund> {
    if (input.amount !== undefined && (!Number.isSafeInteger(input.amount) || input.amount <= 0)) {
      throw new RangeError('refund amount must be a positive integer of kobo');
    }
    const env = await once('POST', '/refund', {
      transaction: input.transaction,
      ...(input.amount !== undefined ? { amount: input.amount } : {}),
      ...(input.currency ? { currency: input.currency } : {}),
      ...(input.merchantNote ? { merchant_note: input.merchantNote } : {}),
      ...(input.customerNote ? { customer_note: input.customerNote } : {}),
    });
    return toRefund(check(RawRefund, env.data, 'create refund'));
  }

  async function fetchRefund(id: number | string): Promise<PaystackRefund | null> {
    try {
      const env = await safeGet(`/refund/${encodeURIComponent(String(id))}`);
      return toRefund(check(RawRefund, env.data, 'fetch refund'));
    } catch (err) {
      if (err instanceof PaystackError && (err.status === 404 || (err.status === 400 && isNotFound(err))))
        return null;
      throw err;
    }
  }

  /** All refunds of one transaction (our reference or Paystack's id), all pages. */
  async function listRefunds(input: {
    transaction: string | number;
    perPage?: number;
  }): Promise<PaystackRefund[]> {
    const perPage = input.perPage ?? 100;
    const all: PaystackRefund[] = [];
    for (let page = 1; ; page++) {
      const q = new URLSearchParams({
        transaction: String(input.transaction),
        perPage: String(perPage),
        page: String(page),
      });
      const env = await safeGet(`/refund?${q.toString()}`);
      const items = check(Type.Array(RawRefund), env.data, 'list refunds');
      all.push(...items.map(toRefund));
      const meta = fits(ListMeta, env.meta) ? env.meta : {};
      const pageCount = meta.pageCount ?? (items.length < perPage ? page : page + 1);
      if (page >= pageCount || items.length === 0) return all;
    }
  }

  return {
    /** Closes the pooled connections (the client is unusable afterwards). */
    close: async () => {
      closed = true;
      if (transport) await (await transport).close();
    },
    initializeTransaction,
    verifyTransaction,
    listTransactions,
    iterateTransactions,
    createRefund,
    fetchRefund,
    listRefunds,
  };
}

function codeFor(status: number): string {
  if (status === 401) return 'unauthorized';
  if (status === 404) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'provider_error';
  return 'bad_request';
}

function isNotFound(err: PaystackError): boolean {
  const msg = (err as PaystackError & { providerMessage?: string }).providerMessage ?? err.message;
  return /not found/i.test(msg) || err.code === 'transaction_not_found';
}

const firstHeader = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v) ?? null;

function retryAfter(header: string | null): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/** Hex HMAC-SHA512 of the raw body keyed with the secret key: what Paystack puts in `x-paystack-signature`. */
export function signWebhook(rawBody: Buffer | string, secretKey: string): string {
  return createHmac('sha512', secretKey).update(rawBody).digest('hex');
}

/** Checks `x-paystack-signature` against the bytes received, in constant time. */
export function verifyWebhookSignature(
  rawBody: Buffer,
  signature: string | undefined,
  secretKey: string,
): boolean {
  if (!signature || !/^[0-9a-fA-F]{128}$/.test(signature)) return false;
  const expected = createHmac('sha512', secretKey).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/**
 * The client the processes use, from configuration. Without a secret key (development with the emulator
 * not started, or a test that does not pay) calls fail with a clear, non-retryable error.
 */
export function paystackFromConfig(
  config: { PAYSTACK_SECRET_KEY?: string; PAYSTACK_BASE_URL: string; PAYSTACK_TIMEOUT_MS?: number },
  opts: Partial<PaystackClientOptions> = {},
) {
  return createPaystackClient({
    secretKey: config.PAYSTACK_SECRET_KEY ?? 'sk_test_missing',
    baseUrl: config.PAYSTACK_BASE_URL,
    timeoutMs: config.PAYSTACK_TIMEOUT_MS,
    ...opts,
  });
}
