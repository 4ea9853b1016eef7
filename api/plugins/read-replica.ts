import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { createDb } from '../../shared/db/index.js';
import type { ReadSource } from '../../shared/reports/snapshot.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Where reports, exports and audit reads go (the replica when set and fresh enough). */
    reads: ReadSource;
  }
}

/** The replica pool (when DATABASE_REPLICA_URL is set), closed with the app. */
export default fp(
  async function readReplica(app: FastifyInstance) {
    const { config } = app;
    const fallbacks = new Counter({
      name: 'agape_replica_fallbacks_total',
      help: 'Report reads sent to the primary because the replica lagged or could not be reached',
      labelNames: ['reason'] as const,
      registers: [app.metrics],
    });
    const replica = config.DATABASE_REPLICA_URL
      ? createDb(config.DATABASE_REPLICA_URL, {
          poolSize: Math.max(2, Math.ceil(config.DATABASE_POOL_SIZE / 2)),
          applicationName: 'agape-api-reports',
        })
      : undefined;
    app.decorate('reads', {
      primary: app.db,
      ...(replica ? { replica } : {}),
      maxLagSeconds: config.REPLICA_MAX_LAG_SECONDS,
      onFallback: (reason, detail) => {
        fallbacks.inc({ reason });
        app.log.warn({ reason, detail }, 'report read falls back to the primary');
      },
    } satisfies ReadSource);
    if (replica) app.addHook('onClose', () => replica.destroy());
  },
  { name: 'read-replica', dependencies: ['infra', 'metrics'] },
);
