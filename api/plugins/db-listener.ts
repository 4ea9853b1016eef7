import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';

/** What a subscriber to database notifications is told. */
export interface ListenerHandlers {
  /** A notification on one of its channels. */
  notify(channel: string, payload: string): void;
  /** Now LISTENing on its channels (first connect and every reconnect): notifications sent meanwhile were lost. */
  up(): Promise<void>;
  /** The connection is gone: from now until `up`, notifications are not heard. */
  down(): void;
}

interface Subscription {
  channels: readonly string[];
  handlers: ListenerHandlers;
  /** The connection this subscription LISTENs on, if any. */
  on: pg.Client | undefined;
}

export interface HeartbeatOptions {
  /** How often the live connection is asked `SELECT 1`. */
  everyMs: number;
  /** An answer later than this (or none) counts as a lost connection. */
  timeoutMs: number;
}

/** A connection that stops answering is known within about 8 s: caches stop trusting it from then on. */
const HEARTBEAT: HeartbeatOptions = { everyMs: 5_000, timeoutMs: 3_000 };

/**
 * One PostgreSQL connection per API process for LISTEN (the catalog cache, the profile cache): LISTEN needs
 * a direct session (not PgBouncer in transaction mode), so it is not a pool connection. It reconnects on
 * loss (after a second) and tells every subscriber when it is down and when it is up again.
 *
 * A connection can also die silently: the database's host gone without a reset, a NAT or firewall dropping
 * an idle flow. No error would ever arrive and the caches would go on trusting a connection that hears
 * nothing, serving what other replicas changed as if it were current. So the live connection is asked
 * `SELECT 1` on a heartbeat; no answer in time is treated as a loss (down, then reconnect), as is an error.
 * TCP keepalive is on as well, for what the kernel finds first.
 */
export class DbListener {
  private readonly subs: Subscription[] = [];
  private client: pg.Client | undefined;
  private closing = false;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  // The connection attempt in flight: close waits for it, or a listener that finished connecting after
  // close would stay open (and LISTENing) with nobody left to end it.
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly connectionString: string,
    private readonly applicationName: string,
    private readonly warn: (err: unknown) => void,
    private readonly beat: HeartbeatOptions = HEARTBEAT,
  ) {}

  /**
   * Listens on `channels` for as long as this lives. Resolves once the first connection attempt has settled
   * (`up` called, or the connection failed and is being retried).
   */
  async subscribe(channels: readonly string[], handlers: ListenerHandlers): Promise<void> {
    const sub: Subscription = { channels, handlers, on: undefined };
    this.subs.push(sub);
    if (!this.client && !this.connecting && !this.retry) this.start();
    await this.connecting;
    // Connected before this subscription existed: LISTEN on the live connection.
    const c = this.client;
    if (!c || sub.on === c || this.closing) return;
    try {
      await c.query(channels.map((ch) => `LISTEN ${ch}`).join('; '));
    } catch {
      return; // the connection's 'error' handler reconnects, and the reconnect LISTENs for every subscription
    }
    if (this.client === c && sub.on !== c) {
      sub.on = c;
      await handlers.up();
    }
  }

  private start() {
    const attempt: Promise<void> = this.listen()
      .catch(() => {})
      .finally(() => {
        if (this.connecting === attempt) this.connecting = undefined;
      });
    this.connecting = attempt;
  }

  private reconnectSoon() {
    if (this.closing) return;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.start();
    }, 1_000);
  }

  /** The connection `c` is lost (an error, or no heartbeat answer): subscribers are told, and a new one is made. */
  private lost(c: pg.Client) {
    c.removeAllListeners('notification');
    c.removeAllListeners('error');
    c.on('error', () => {});
    if (this.client === c) {
      this.client = undefined;
      clearTimeout(this.heartbeat);
      for (const sub of this.subs) {
        if (sub.on !== c) continue;
        sub.on = undefined;
        sub.handlers.down();
      }
    }
    // A connection that stopped answering may never finish a polite end: its socket is dropped.
    (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    void c.end().catch(() => {});
    this.reconnectSoon();
  }

  private scheduleHeartbeat(c: pg.Client) {
    clearTimeout(this.heartbeat);
    this.heartbeat = setTimeout(() => {
      if (this.client !== c || this.closing) return;
      const late = setTimeout(() => {
        if (this.client !== c || this.closing) return;
        this.warn(new Error(`database listener: no answer to a heartbeat in ${this.beat.timeoutMs} ms; reconnecting`));
        this.lost(c);
      }, this.beat.timeoutMs);
      c.query('SELECT 1').then(
        () => {
          clearTimeout(late);
          if (this.client === c) this.scheduleHeartbeat(c);
        },
        () => clearTimeout(late), // the connection's 'error' handler (or `late`) deals with it
      );
    }, this.beat.everyMs);
    this.heartbeat.unref();
  }

  private async listen(): Promise<void> {
    // connectionTimeoutMillis: a database that accepts and never answers must not hang the app's start.
    const c = new pg.Client({
      connectionString: this.connectionString,
      application_name: this.applicationName,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    c.on('notification', (msg) => {
      const payload = msg.payload ?? '';
      for (const sub of this.subs) if (sub.on === c && sub.channels.includes(msg.channel)) sub.handlers.notify(msg.channel, payload);
    });
    // Once per connection: a second 'error' from the same client must not start a second listener.
    c.once('error', () => this.lost(c));
    const subs = [...this.subs];
    try {
      await c.connect();
      await c.query(subs.flatMap((sub) => sub.channels.map((ch) => `LISTEN ${ch}`)).join('; '));
    } catch (err) {
      await c.end().catch(() => {});
      if (this.closing) return;
      this.warn(err);
      this.reconnectSoon();
      return;
    }
    if (this.closing) {
      await c.end().catch(() => {});
      return;
    }
    this.client = c;
    for (const sub of subs) sub.on = c;
    this.scheduleHeartbeat(c);
    await Promise.all(subs.map((sub) => sub.handlers.up()));
  }

  /** Ends the connection (and any attempt in flight); subscribers are told `down`. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.retry);
    clearTimeout(this.heartbeat);
    for (const sub of this.subs) {
      if (sub.on === undefined) continue;
      sub.on = undefined;
      sub.handlers.down();
    }
    await this.connecting;
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This process's LISTEN connection to PostgreSQL (api/plugins/db-listener.ts). */
    dbListener: DbListener;
  }
}

/** The process's database notifications; caches subscribe to their channels at registration. */
export default fp(
  async function dbListener(app: FastifyInstance) {
    const listener = new DbListener(app.config.DATABASE_URL, 'agape-api-listener', (err) =>
      app.log.warn({ err }, 'database listener could not connect; retrying'),
    );
    app.decorate('dbListener', listener);
    app.addHook('onClose', () => listener.close());
  },
  { name: 'db-listener', dependencies: ['infra'] },
);
