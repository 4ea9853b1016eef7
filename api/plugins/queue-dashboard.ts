import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type HTTPMethods } from 'fastify';
import fp from 'fastify-plugin';
import { can } from '../../shared/auth/permissions.js';
import { closeRedis, createRedis, waitForReady } from '../../shared/redis.js';
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

/** Response headers the outer reply sets itself. */
const HOP_HEADERS = new Set(['content-length', 'connection', 'keep-alive', 'transfer-encoding', 'date']);

/**
 * bull-board over every queue of the catalogue, for admins only.
 *
 * Loaded on the first request that gets past the admin check, not at start: bull-board, its views (ejs) and
 * static files are ~4 MB of heap in every API process, and BullMQ with a Queue per catalogue entry and their
 * Redis connection another ~6 MB, for a page an operator opens now and then (the API adds no jobs itself:
 * they go through the outbox). The board lives in a small Fastify instance of its own; the admin routes here
 * check the caller, then hand the request to it (`inject`) and send its answer back.
 */
export default fp(
  async function queueDashboard(app: FastifyInstance) {
    let board: Promise<FastifyInstance> | undefined;
    const loadBoard = async (): Promise<FastifyInstance> => {
      const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }, { closeQueues, createQueues }] = await Promise.all([
        import('@bull-board/api'),
        import('@bull-board/api/bullMQAdapter'),
        import('@bull-board/fastify'),
        import('../../shared/queue-registry.js'),
      ]);
      const producer = createRedis(app.config.REDIS_URL, 'producer', 'agape-api-queues');
      const queues = createQueues(producer, app.config.QUEUE_PREFIX, app.config);
      const release = async () => {
        await closeQueues(queues);
        await closeRedis(producer);
      };
      const inner = Fastify({ logger: false });
      inner.addHook('onClose', release);
      try {
        await waitForReady(producer);
        const serverAdapter = new FastifyAdapter();
        serverAdapter.setBasePath(DASHBOARD_PATH);
        createBullBoard({
          queues: Object.values(queues).map((q) => new BullMQAdapter(q)),
          serverAdapter,
          options: { uiConfig: { boardTitle: 'Agape queues' } },
        });
        await inner.register(serverAdapter.registerPlugin(), { prefix: DASHBOARD_PATH });
        await inner.ready();
      } catch (err) {
        await release();
        throw err;
      }
      return inner;
    };
    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      board ??= loadBoard().catch((err: unknown) => {
        board = undefined;
        throw err;
      });
      const res = await (
        await board
      ).inject({
        method: request.method,
        url: request.url,
        headers: request.headers,
        ...(request.body !== undefined ? { payload: request.body as string | object } : {}),
      });
      reply.code(res.statusCode);
      for (const [name, value] of Object.entries(res.headers)) {
        if (value !== undefined && !HOP_HEADERS.has(name)) reply.header(name, value);
      }
      return reply.send(res.rawPayload);
    };
    app.addHook('onClose', async () => {
      const loaded = board;
      board = undefined;
      if (loaded) await (await loaded.catch(() => undefined))?.close();
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
      const method: HTTPMethods[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
      // Not in the OpenAPI document (bull-board's own routes were hidden too).
      scope.route({ method, url: DASHBOARD_PATH, schema: { hide: true }, handler: forward });
      scope.route({ method, url: `${DASHBOARD_PATH}/*`, schema: { hide: true }, handler: forward });
    });
  },
  { name: 'queue-dashboard', dependencies: ['infra', 'auth', 'token-revocation'] },
);
