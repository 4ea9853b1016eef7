import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { isAccessTokenRevoked } from '../../shared/auth/revocation.js';
import { UnauthorizedError } from '../../shared/errors.js';

/** `iat` of a bearer token that the auth hook has verified already (so decoding is enough). */
function issuedAt(header: string | undefined): number | undefined {
  const payload = header?.slice(7).split('.')[1];
  if (!payload) return undefined;
  try {
    const { iat } = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iat?: unknown };
    return typeof iat === 'number' ? iat : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refuses access tokens issued before their user was disabled, changed role or reset the password
 * (shared/auth/revocation.ts). Runs after the auth hook, only for requests it signed in: one Redis GET.
 */
export default fp(
  async function tokenRevocation(app: FastifyInstance) {
    app.addHook('onRequest', async (request) => {
      if (!request.auth) return;
      const iat = issuedAt(request.headers.authorization);
      if (iat === undefined) return;
      if (await isAccessTokenRevoked(app.redis, app.config.QUEUE_PREFIX, request.auth.id, iat)) {
        request.auth = null;
        throw new UnauthorizedError();
      }
    });
  },
  { name: 'token-revocation', dependencies: ['infra', 'auth'] },
);
