import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { CatalogCache, type CacheOutcome } from '../../shared/catalog/cache.js';
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
 * names its product), and every replica bumps the shared versions in Redis. The LISTEN connection is the
 * process's own (api/plugins/db-listener.ts), reconnecting on loss; after a gap it bumps everything, since
 * notifications sent meanwhile are lost.
 *
 * The process-local level (shared/catalog/cache.ts, `LocalCatalogCache`) is served from only while both the
 * LISTEN connection and the subscription to other processes' bumps (Redis) are up: those are how this
 * process hears of changes it did not make.
 */
export default fp(
  async function catalogCache(app: FastifyInstance) {
    // Counted in plain numbers and handed to prom-client when /metrics is read (as GET /me's outcomes): its inc()
    // validates and hashes the labels on every call, and a cached list is the hottest read there is.
    const counts: Record<'list' | 'detail', Partial<Record<CacheOutcome | 'local', number>>> = { list: {}, detail: {} };
    new Counter({
      name: 'catalog_cache_requests_total',
      help: 'Catalog cache lookups by kind (list, detail) and outcome (local: this process, hit: Redis, miss, error)',
      labelNames: ['kind', 'outcome'] as const,
      registers: [app.metrics],
      collect() {
        this.reset();
        for (const kind of ['list', 'detail'] as const) {
          for (const [outcome, n] of Object.entries(counts[kind])) this.inc({ kind, outcome }, n);
        }
      },
    });
    const cache = new CatalogCache(
      app.redis,
      app.config.QUEUE_PREFIX,
      (kind, outcome) => void (counts[kind][outcome] = (counts[kind][outcome] ?? 0) + 1),
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

    // Database notifications: on this process's shared LISTEN connection (api/plugins/db-listener.ts).
    const listened = app.dbListener.subscribe([CATALOG_CHANNELS.changed, CATALOG_CHANNELS.stock], {
      notify: (channel, payload) => {
        if (channel === CATALOG_CHANNELS.stock && payload) void cache.bumpProduct(payload);
        else void cache.heard(true);
      },
      up: async () => {
        listening = true;
        setLive();
        await cache.heard(true);
      },
      down: () => {
        listening = false;
        setLive();
      },
    });
    await Promise.all([listened, waitForReady(subscriber).then((ready) => (ready ? subscribe() : undefined))]);

    app.addHook('onClose', async () => {
      app.redis.off('ready', onReady);
      listening = false;
      down();
      subscriber.disconnect();
    });
  },
  { name: 'catalog-cache', dependencies: ['infra', 'metrics', 'db-listener'] },
);
