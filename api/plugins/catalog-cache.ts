import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import { Counter } from 'prom-client';
import { CatalogCache } from '../../shared/catalog/cache.js';
import { createRedis, waitForReady } from '../../shared/redis.js';

declare module 'fastify' {
  interface FastifyInstance {
    catalogCache: CatalogCache;
  }
}

/** Channels the catalog triggers notify on (migrations/202611231_catalog_triggers.ts). */
const CATALOG_CHANNELS = { changed: 'catalog_changed', stock: 'catalog_stock' } as const;

/**
 * The catalog cache for this replica, plus the listener that makes writes by OTHER domains invalidate
 * it: database triggers NOTIFY on commit (stock crossing zero flips products.in_stock; any stock change
 * names its product), and every replica bumps the shared versions in Redis. LISTEN needs a direct
 * session (not PgBouncer in transaction mode), so it has its own connection, reconnecting on loss; after
 * a gap it bumps everything, since notifications sent meanwhile are lost.
 *
 * The process-local level (shared/catalog/cache.ts, `LocalCatalogCache`) is served from only while both the
 * LISTEN connection and the subscription to other processes' bumps (Redis) are up: those are how this
 * process hears of changes it did not make.
 */
export default fp(
  async function catalogCache(app: FastifyInstance) {
    const requests = new Counter({
      name: 'catalog_cache_requests_total',
      help: 'Catalog cache lookups by kind (list, detail) and outcome (local: this process, hit: Redis, miss, error)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [app.metrics],
    });
    const cache = new CatalogCache(
      app.redis,
      app.config.QUEUE_PREFIX,
      (kind, outcome) => requests.inc({ kind, outcome }),
      app.config.CATALOG_CACHE,
    );
    app.decorate('catalogCache', cache);

    // Writes made while Redis was unreachable could not bump the version: bump on every reconnect.
    const onReady = () => void cache.heard(true);
    app.redis.on('ready', onReady);

    // Other processes' bumps (catalogChanged publishes): drop the local entries. Until subscribed, and
    // whenever the connection drops, the local level is off.
    let listening = false;
    let subscribed = false;
    const setLive = () => cache.local.setLive(app.config.CATALOG_CACHE && listening && subscribed);
    const subscriber = createRedis(app.config.REDIS_URL, 'worker', 'agape-api-catalog-changes');
    subscriber.on('message', () => void cache.heard(false));
    const down = () => {
      subscribed = false;
      setLive();
    };
    subscriber.on('close', down);
    subscriber.on('reconnecting', down);
    const subscribe = () =>
      subscriber.subscribe(cache.channel).then(
        () => {
          subscribed = true;
          setLive();
        },
        () => down(),
      );
    subscriber.on('ready', () => void subscribe());

    let client: pg.Client | undefined;
    let closing = false;
    let retry: NodeJS.Timeout | undefined;
    // The connection attempt in flight: close waits for it, or a listener that finished connecting after
    // close would stay open (and LISTENing) with nobody left to end it.
    let connecting: Promise<void> | undefined;
    const start = () => {
      const attempt: Promise<void> = listen()
        .catch(() => {})
        .finally(() => {
          if (connecting === attempt) connecting = undefined;
        });
      connecting = attempt;
    };
    const reconnectSoon = () => {
      if (closing) return;
      clearTimeout(retry);
      retry = setTimeout(start, 1_000);
    };
    const listen = async (): Promise<void> => {
      // connectionTimeoutMillis: a database that accepts and never answers must not hang the app's start.
      const c = new pg.Client({
        connectionString: app.config.DATABASE_URL,
        application_name: 'agape-api-catalog-listener',
        connectionTimeoutMillis: 5_000,
      });
      c.on('notification', (msg) => {
        if (msg.channel === CATALOG_CHANNELS.stock && msg.payload) void cache.bumpProduct(msg.payload);
        else void cache.heard(true);
      });
      // Once per connection: a second 'error' from the same client must not start a second listener.
      c.once('error', () => {
        c.removeAllListeners('notification');
        c.on('error', () => {});
        if (client === c) {
          client = undefined;
          listening = false;
          setLive();
        }
        void c.end().catch(() => {});
        reconnectSoon();
      });
      try {
        await c.connect();
        await c.query(`LISTEN ${CATALOG_CHANNELS.changed}; LISTEN ${CATALOG_CHANNELS.stock}`);
      } catch (err) {
        await c.end().catch(() => {});
        if (closing) return;
        app.log.warn({ err }, 'catalog listener could not connect; retrying');
        reconnectSoon();
        return;
      }
      if (closing) {
        await c.end().catch(() => {});
        return;
      }
      client = c;
      listening = true;
      setLive();
      await cache.heard(true);
    };
    start();
    await Promise.all([connecting, waitForReady(subscriber).then((ready) => (ready ? subscribe() : undefined))]);

    app.addHook('onClose', async () => {
      closing = true;
      clearTimeout(retry);
      app.redis.off('ready', onReady);
      listening = false;
      down();
      subscriber.disconnect();
      await connecting;
      await client?.end().catch(() => {});
      client = undefined;
    });
  },
  { name: 'catalog-cache', dependencies: ['infra', 'metrics'] },
);
