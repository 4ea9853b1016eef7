import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import pg from 'pg';
import { Counter } from 'prom-client';
import { CatalogCache } from '../../shared/catalog/cache.js';

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
 */
export default fp(
  async function catalogCache(app: FastifyInstance) {
    const requests = new Counter({
      name: 'catalog_cache_requests_total',
      help: 'Catalog cache lookups by kind (list, detail) and outcome (hit, miss, error)',
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
    const onReady = () => void cache.bump();
    app.redis.on('ready', onReady);

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
        else void cache.bump();
      });
      // Once per connection: a second 'error' from the same client must not start a second listener.
      c.once('error', () => {
        c.removeAllListeners('notification');
        c.on('error', () => {});
        if (client === c) client = undefined;
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
      await cache.bump();
    };
    start();
    await connecting;

    app.addHook('onClose', async () => {
      closing = true;
      clearTimeout(retry);
      app.redis.off('ready', onReady);
      await connecting;
      await client?.end().catch(() => {});
      client = undefined;
    });
  },
  { name: 'catalog-cache', dependencies: ['infra', 'metrics'] },
);
