import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import type { Config } from '../../shared/config.js';
import { createDb, type Db } from '../../shared/db/index.js';
import { assertMigrationsCurrent } from '../../shared/db/migrate.js';
import { closeRedis, createRedis, waitForReady } from '../../shared/redis.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    db: Db;
    /** Fail-fast Redis client: cache, rate limits, pub/sub publish. */
    redis: Redis;
  }
}

interface InfraOptions {
  config: Config;
  /** Skip the migrations check (only for tests that point the app at an unreachable database). */
  skipMigrationCheck?: boolean;
  onQuery?: (sql: string) => void;
}

/**
 * One pool and one Redis connection per process, closed with the app. The API adds no jobs itself (they go
 * through the outbox): the queue handles and their connection belong to the dashboard, which opens them on
 * first use (api/plugins/queue-dashboard.ts).
 */
export default fp(
  async function infra(app: FastifyInstance, opts: InfraOptions) {
    const { config } = opts;
    const db = createDb(config.DATABASE_URL, {
      poolSize: config.DATABASE_POOL_SIZE,
      applicationName: 'agape-api',
      onQuery: opts.onQuery,
    });
    if (!opts.skipMigrationCheck) {
      try {
        await assertMigrationsCurrent(db);
      } catch (err) {
        await db.destroy();
        throw err;
      }
    }
    const redis = createRedis(config.REDIS_URL, 'client', 'agape-api');
    // Redis is optional at start (it only costs speed), but give it a moment so the first requests use it.
    await waitForReady(redis);

    app.decorate('config', config);
    app.decorate('db', db);
    app.decorate('redis', redis);
    app.addHook('onClose', async () => {
      await closeRedis(redis);
      await db.destroy();
    });
  },
  { name: 'infra' },
);
