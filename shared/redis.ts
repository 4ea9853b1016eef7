import { Redis, type RedisOptions } from 'ioredis';

/**
 * Redis connections by role, following BullMQ's production guide:
 * - `worker`: BullMQ workers and blocking commands must retry forever (`maxRetriesPerRequest: null`).
 * - `producer`: queue producers fail fast while Redis is away (the outbox keeps the work meanwhile).
 * - `client`: cache, rate limits, pub/sub publish: fail fast; a Redis outage only costs speed.
 */
export type RedisRole = 'worker' | 'producer' | 'client';

function redisOptions(role: RedisRole, name: string): RedisOptions {
  const base: RedisOptions = {
    connectionName: name,
    connectTimeout: 2_000,
    // Keep trying to reconnect, at most every 2 s.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
  };
  if (role === 'worker') return { ...base, maxRetriesPerRequest: null, enableReadyCheck: false };
  return { ...base, maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 2_000 };
}

export function createRedis(url: string, role: RedisRole, name = `agape-${role}`): Redis {
  const redis = new Redis(url, redisOptions(role, name));
  // Connection errors surface through commands and readiness checks; an unhandled 'error' would crash.
  redis.on('error', () => {});
  return redis;
}

/** Resolves when the connection is ready, or after `ms` (callers treat Redis as optional at start). */
export function waitForReady(redis: Redis, ms = 2_000): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}

/**
 * Closes a connection whatever its state. quit() alone is not enough: on a fail-fast connection that is
 * not connected it rejects at once and leaves ioredis reconnecting forever (keeping the process alive).
 */
export async function closeRedis(redis: Redis): Promise<void> {
  if (redis.status === 'ready') {
    try {
      await redis.quit();
      return;
    } catch {
      // fall through: drop the connection
    }
  }
  redis.disconnect();
}

/** Namespaces non-queue keys with the same hash tag as the queues so test runs and deployments can share a Redis. */
export const keyOf = (prefix: string, ...parts: string[]) => [prefix, ...parts].join(':');

export { Redis };
