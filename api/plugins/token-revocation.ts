import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import {
  createRevoker,
  isRevoked,
  parseRevocation,
  revocationKeys,
  RevocationCache,
  type TokenIdentity,
  type TokenRevoker,
} from '../../shared/auth/revocation.js';
import { UnauthorizedError } from '../../shared/errors.js';
import { createRedis } from '../../shared/redis.js';
import { isSignInHook, onRequestHooks, routeSignsIn, type VerifiedToken } from './auth.js';

interface TokenRevocation {
  /** What this process knows (the websocket hub reads and feeds it too). */
  cache: RevocationCache;
  /** Stops tokens: this process at once, the others through Redis pub/sub. */
  revoker: TokenRevoker;
  /** Cached for a second at most, and kept current by the subscription in between. */
  isRevoked(token: VerifiedToken): Promise<boolean>;
  /** Resolves once the subscription to other processes' revocations is active (tests wait for it). */
  ready: Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    revocation: TokenRevocation;
  }
}

export const identityOf = (token: VerifiedToken): TokenIdentity => ({
  userId: token.id,
  generation: token.generation,
  ...(token.sessionId ? { sessionId: token.sessionId } : {}),
});

/**
 * Refuses access tokens that were revoked (shared/auth/revocation.ts): a disabled user, a changed role, a
 * password reset, a revoked session. Runs after the auth hook, only for requests it signed in.
 */
export default fp(
  async function tokenRevocation(app: FastifyInstance) {
    const { config, redis } = app;
    const prefix = config.QUEUE_PREFIX;
    const cache = new RevocationCache();
    const revoker = createRevoker(redis, prefix, cache, (err) => app.log.warn({ err }, 'could not publish a token revocation to Redis'));

    // Every revocation made anywhere lands in this process's cache at once. After a reconnect the messages
    // sent meanwhile are lost: nothing cached as "not revoked" is trusted until asked again.
    const subscriber = createRedis(config.REDIS_URL, 'worker', 'agape-api-revocations');
    let connectedBefore = false;
    subscriber.on('ready', () => {
      if (connectedBefore) cache.expireAll();
      connectedBefore = true;
    });
    subscriber.on('message', (_channel: string, message: string) => {
      const revocation = parseRevocation(message);
      if (revocation) cache.apply(revocation);
    });
    // Not awaited: Redis is optional at start; until subscribed, other replicas' revocations apply within
    // the cache's second.
    const ready = subscriber.subscribe(revocationKeys(prefix).channel).then(
      () => undefined,
      (err: unknown) => app.log.error({ err }, 'revocation subscription failed; other replicas’ revocations apply within a second'),
    );

    app.decorate('revocation', {
      cache,
      revoker,
      ready,
      isRevoked: (token: VerifiedToken) => isRevoked(redis, prefix, cache, identityOf(token)),
    } satisfies TokenRevocation);

    // Right after the auth hook, on the routes that have it (api/plugins/auth.ts). Synchronous when this
    // process's cache answers (the common case): no promise per request.
    const refuse = () => new UnauthorizedError();
    const checkRevoked = (request: FastifyRequest, _reply: unknown, done: (err?: Error) => void) => {
      if (!request.auth) return done();
      const identity = identityOf(request.auth);
      const known = cache.lookup(identity);
      if (known === false) return done();
      if (known === true) {
        request.auth = null;
        return done(refuse());
      }
      isRevoked(redis, prefix, cache, identity).then(
        (revoked) => {
          if (revoked) request.auth = null;
          done(revoked ? refuse() : undefined);
        },
        (err: Error) => done(err),
      );
    };
    app.addHook('onRoute', (route) => {
      if (!routeSignsIn(route)) return;
      const hooks = onRequestHooks(route);
      const at = hooks.findIndex(isSignInHook);
      if (at < 0) throw new Error(`token-revocation: ${route.url} signs callers in but has no auth hook`);
      hooks.splice(at + 1, 0, checkRevoked as onRequestHookHandler);
      route.onRequest = hooks;
    });
    app.addHook('onClose', async () => {
      subscriber.disconnect();
    });
  },
  { name: 'token-revocation', dependencies: ['infra', 'auth'] },
);
