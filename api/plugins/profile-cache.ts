import type { FastifyInstance, onSendHookHandler, preSerializationHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import { Counter } from 'prom-client';
import { LocalProfileCache } from '../../shared/auth/profile-cache.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** GET /me answers in this process's memory (shared/auth/profile-cache.ts). */
    profileCache: { local: LocalProfileCache; observe: (outcome: 'local' | 'miss') => void };
  }
}

/** The channel the trigger on `users` notifies on, with the user's id ('' after a TRUNCATE: everyone). */
const USER_CHANGED = 'user_changed';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const idOf = (value: unknown): string | undefined => {
  if (!value || typeof value !== 'object') return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' ? id : undefined;
};

/**
 * The profile cache and what keeps it true:
 * - the database's `user_changed` notifications on this process's LISTEN connection (every writer, every
 *   process); the cache is live only while that connection is;
 * - for this process's own writes, before they answer: every write request drops the answers of the users it
 *   names (the caller, the `:id` in its path, the user in its answer: PATCH /me, 2FA on/off, verify-email,
 *   an admin's role change, erasure), so a client never reads its own write back stale here.
 */
export default fp(
  async function profileCache(app: FastifyInstance) {
    // Counted in two numbers and handed to prom-client when /metrics is read: its inc() validates and hashes the
    // labels on every call, on the hottest signed-in read.
    const counts = { local: 0, miss: 0 };
    new Counter({
      name: 'profile_cache_requests_total',
      help: 'GET /me answers by outcome (local: from this process, miss: one statement)',
      labelNames: ['outcome'] as const,
      registers: [app.metrics],
      collect() {
        this.reset();
        if (counts.local > 0) this.inc({ outcome: 'local' }, counts.local);
        if (counts.miss > 0) this.inc({ outcome: 'miss' }, counts.miss);
      },
    });
    const cache = new LocalProfileCache();
    app.decorate('profileCache', { local: cache, observe: (outcome: 'local' | 'miss') => void counts[outcome]++ });

    // onSend runs for every answer (an empty 204 too, and errors); preSerialization sees the answer as an object.
    const dropCallerAndParam: onSendHookHandler<unknown> = (request, _reply, payload, done) => {
      const caller = request.auth?.id;
      if (caller) cache.changed(caller);
      const param = idOf(request.params);
      if (param) cache.changed(param);
      done(null, payload);
    };
    const dropAnswered: preSerializationHookHandler<unknown> = (_request, _reply, payload, done) => {
      const answered = idOf(payload) ?? idOf((payload as { user?: unknown } | null)?.user);
      if (answered) cache.changed(answered);
      done(null, payload);
    };
    const hooksOf = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
    app.addHook('onRoute', (route) => {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (methods.every((m) => SAFE_METHODS.has(m))) return;
      route.preSerialization = [dropAnswered, ...hooksOf(route.preSerialization)] as typeof route.preSerialization;
      route.onSend = [dropCallerAndParam, ...hooksOf(route.onSend)] as typeof route.onSend;
    });

    await app.dbListener.subscribe([USER_CHANGED], {
      notify: (_channel, payload) => (payload ? cache.changed(payload) : cache.changedAll()),
      up: async () => cache.setLive(true),
      down: () => cache.setLive(false),
    });
    app.addHook('onClose', async () => cache.setLive(false));
  },
  { name: 'profile-cache', dependencies: ['infra', 'metrics', 'auth', 'db-listener'] },
);
