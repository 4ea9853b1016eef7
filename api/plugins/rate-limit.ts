import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { listOf } from '../../shared/config.js';
import { TooManyRequestsError } from '../../shared/errors.js';
import { keyOf } from '../../shared/redis.js';

/**
 * Rate limits stored in Redis so every replica shares one count. Off by default; routes that can be
 * brute-forced opt in with `config: { rateLimit: { max, timeWindow, keyGenerator? } }`.
 * If Redis is unreachable requests pass (skipOnError): an outage costs protection briefly, not service.
 */
export default fp(
  async function limits(app: FastifyInstance) {
    await app.register(rateLimit, {
      global: false,
      redis: app.redis,
      nameSpace: keyOf(app.config.QUEUE_PREFIX, 'rl') + ':',
      skipOnError: true,
      allowList: listOf(app.config.RATE_LIMIT_ALLOWLIST),
      errorResponseBuilder: (_request, context) => new TooManyRequestsError(context.ttl / 1000),
    });
  },
  { name: 'rate-limit', dependencies: ['infra'] },
);
