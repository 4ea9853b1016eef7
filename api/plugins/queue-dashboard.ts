import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { can } from '../../shared/auth/permissions.js';
import type { VerifiedToken } from './auth.js';
import { sendProblem } from './errors.js';

export const DASHBOARD_PATH = '/admin/queues';
export const DASHBOARD_COOKIE = 'agape_dashboard';

/** The caller's token: a bearer header (scripts) or the short-lived HttpOnly cookie (browsers). */
function dashboardToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.toLowerCase().startsWith('bearer ')) return header.slice(7);
  const cookie = request.headers.cookie
    ?.split(';')
    .map((c) => c.trim().split('='))
    .find(([name]) => name === DASHBOARD_COOKIE)?.[1];
  return cookie ? decodeURIComponent(cookie) : undefined;
}

/** bull-board over every queue of the catalogue, for admins only. */
export default fp(
  async function queueDashboard(app: FastifyInstance) {
    const serverAdapter = new FastifyAdapter();
    serverAdapter.setBasePath(DASHBOARD_PATH);
    createBullBoard({
      queues: Object.values(app.queues).map((q) => new BullMQAdapter(q)),
      serverAdapter,
      options: { uiConfig: { boardTitle: 'Agape queues' } },
    });
    await app.register(async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        const token = dashboardToken(request);
        let verified: VerifiedToken | undefined;
        if (token) {
          try {
            verified = app.verifyAccessToken(token);
          } catch {
            verified = undefined;
          }
          // A disabled admin, a changed role or a reset password stops the cookie like any token.
          if (verified && (await app.revocation.isRevoked(verified))) verified = undefined;
        }
        if (verified && can(verified.role, 'queue:admin')) return;
        if (request.method === 'GET' && request.headers.accept?.includes('text/html')) {
          return reply.redirect(`${DASHBOARD_PATH}/login`);
        }
        return sendProblem(request, reply, token ? 403 : 401, token ? 'forbidden' : 'unauthorized', 'The queue dashboard is for admins');
      });
      await scope.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
    });
  },
  { name: 'queue-dashboard', dependencies: ['infra', 'auth', 'token-revocation'] },
);
