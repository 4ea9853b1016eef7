import { sql } from 'kysely';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { Db } from '../shared/db/index.js';
import type { Logger } from '../shared/logger.js';
import { OUTBOX_CHANNEL } from '../shared/outbox.js';
import type { Queues } from '../shared/queue-registry.js';
import type { QueueName } from '../shared/queues.js';

export interface RelayOptions {
  /** Fallback poll when no NOTIFY arrives (missed notification, listener reconnecting). */
  pollMs?: number;
  batchSize?: number;
  /** Longest wait between retries while Redis is unreachable. */
  maxBackoffMs?: number;
  /** Delivered rows are kept this long for audit, then purged. */
  retainDeliveredMs?: number;
  /** Longest wait for Redis to take a batch; past it the transaction rolls back and the rows wait. */
  redisTimeoutMs?: number;
}

/** Rejects after `ms`: BullMQ waits for a lost connection to come back instead of failing. */
function within<T>(ms: number, work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Moves committed outbox rows into BullMQ. Rows are claimed with FOR UPDATE SKIP LOCKED so any number
 * of relays can run; the outbox id is the BullMQ job id, so a row re-sent after a crash between
 * "added to Redis" and "marked delivered" is ignored by BullMQ as a duplicate.
 */
export class OutboxRelay {
  private listener: pg.Client | undefined;
  /** The listener connection being made, if any: stop() waits for it so none opens after stop. */
  private connecting: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private purgeTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private failures = 0;
  private readonly opts: Required<RelayOptions>;
  delivered = 0;

  constructor(
    private readonly db: Db,
    private readonly databaseUrl: string,
    private readonly queues: Queues,
    private readonly log: Logger,
    opts: RelayOptions = {},
  ) {
    this.opts = {
      pollMs: opts.pollMs ?? 5_000,
      batchSize: opts.batchSize ?? 200,
      maxBackoffMs: opts.maxBackoffMs ?? 10_000,
      retainDeliveredMs: opts.retainDeliveredMs ?? 7 * 24 * 3600_000,
      redisTimeoutMs: opts.redisTimeoutMs ?? 5_000,
    };
  }

  async start(): Promise<void> {
    this.connectListener();
    await this.connecting;
    this.schedule(0);
    this.purgeTimer = setInterval(() => void this.purge(), 3600_000);
    this.purgeTimer.unref();
  }

  private connectListener(): void {
    if (this.stopped) return;
    const attempt: Promise<void> = this.listen()
      .catch(() => {})
      .finally(() => {
        if (this.connecting === attempt) this.connecting = undefined;
      });
    this.connecting = attempt;
  }

  private reconnectIn(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.connectListener(), ms);
    this.reconnectTimer.unref();
  }

  private async listen(): Promise<void> {
    if (this.stopped) return;
    // A connect timeout: a database that accepts and never answers must not hang start() (polling covers).
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      application_name: 'agape-outbox-listener',
      connectionTimeoutMillis: 5_000,
    });
    client.on('notification', () => this.kick());
    // Once per connection: a second 'error' from the same client must not start a second listener.
    client.once('error', (err) => {
      client.on('error', () => {});
      if (this.stopped) return;
      this.log.warn({ err }, 'outbox listener lost its connection; polling until it reconnects');
      if (this.listener === client) this.listener = undefined;
      void client.end().catch(() => {});
      this.reconnectIn(1_000);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => {});
      if (this.stopped) return;
      this.log.warn({ err }, 'outbox listener could not connect; polling');
      this.reconnectIn(2_000);
      return;
    }
    // stop() ran while we were connecting: nobody else would close this client.
    if (this.stopped) return void (await client.end().catch(() => {}));
    this.listener = client;
  }

  /** Wake the relay now (a NOTIFY arrived). Coalesces: at most one drain runs, followed by one more. */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.drain().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), ms);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    try {
      // Checked before claiming rows: no transaction (and no locks) is held open while Redis is away.
      for (const queue of Object.values(this.queues)) {
        const connection = queue.opts.connection;
        if (connection instanceof Redis && connection.status !== 'ready') {
          throw new Error(`redis unavailable (connection ${connection.status})`);
        }
      }
      let moved: number;
      do {
        moved = await this.relayBatch();
        this.delivered += moved;
      } while (moved === this.opts.batchSize && !this.stopped);
      this.failures = 0;
      this.schedule(this.opts.pollMs);
    } catch (err) {
      this.failures += 1;
      const wait = Math.min(this.opts.maxBackoffMs, 250 * 2 ** Math.min(this.failures, 10));
      this.log.warn({ err: (err as Error).message, retryInMs: wait }, 'outbox relay could not deliver; rows wait');
      this.schedule(wait);
    }
  }

  /** Claims one batch, adds it to Redis, marks it delivered: all in one transaction. */
  async relayBatch(): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('outbox')
        .select(['id', 'queue', 'name', 'payload', 'requestId', 'delayMs'])
        .where('deliveredAt', 'is', null)
        .orderBy('createdAt')
        .limit(this.opts.batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      if (!rows.length) return 0;
      const byQueue = new Map<QueueName, typeof rows>();
      for (const row of rows) {
        const list = byQueue.get(row.queue) ?? [];
        list.push(row);
        byQueue.set(row.queue, list);
      }
      try {
        for (const [queue, list] of byQueue) {
          // If this times out the add may still land later: harmless, the row is sent again under the
          // same job id and BullMQ ignores the duplicate.
          await within(
            this.opts.redisTimeoutMs,
            this.queues[queue].addBulk(
              list.map((r) => ({
                name: r.name,
                data: { payload: r.payload, requestId: r.requestId ?? undefined },
                opts: { jobId: r.id, ...(r.delayMs > 0 ? { delay: r.delayMs } : {}) },
              })),
            ),
            'adding jobs to Redis',
          );
        }
      } catch (err) {
        throw Object.assign(new Error(`redis unavailable: ${(err as Error).message}`), { cause: err });
      }
      await trx
        .updateTable('outbox')
        .set({ deliveredAt: sql`now()`, attempts: sql`attempts + 1` })
        .where(
          'id',
          'in',
          rows.map((r) => r.id),
        )
        .execute();
      for (const r of rows) this.log.debug({ jobId: r.id, job: r.name, requestId: r.requestId }, 'outbox row relayed');
      return rows.length;
    });
  }

  async purge(): Promise<void> {
    await this.db
      .deleteFrom('outbox')
      .where('deliveredAt', '<', new Date(Date.now() - this.opts.retainDeliveredMs))
      .execute()
      .catch((err: unknown) => this.log.warn({ err }, 'outbox purge failed'));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.reconnectTimer);
    clearInterval(this.purgeTimer);
    await this.running;
    await this.connecting;
    await this.listener?.end().catch(() => {});
    this.listener = undefined;
  }
}
