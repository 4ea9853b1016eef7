import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyServerOptions, type onRequestHookHandler } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Config } from '../shared/config.js';
import { listOf } from '../shared/config.js';
import { workContext } from '../shared/context.js';
import { loggerOptions, logSerializers } from '../shared/logger.js';
import { schemaController } from './lazy-schemas.js';
import { LivenessShortcut } from './liveness.js';
import { lazyRequestLogger } from './request-logger.js';
import auth, { onRequestHooks } from './plugins/auth.js';
import bodies from './plugins/bodies.js';
import catalogCache from './plugins/catalog-cache.js';
import dbListener from './plugins/db-listener.js';
import profileCache from './plugins/profile-cache.js';
import media from './plugins/media.js';
import docs from './plugins/docs.js';
import errors, { sendProblem } from './plugins/errors.js';
import infra from './plugins/infra.js';
import metrics from './plugins/metrics.js';
import paystack from './plugins/paystack.js';
import queueDashboard from './plugins/queue-dashboard.js';
import rateLimit from './plugins/rate-limit.js';
import securityHeaders from './plugins/security-headers.js';
import tokenRevocation from './plugins/token-revocation.js';
import realtime from './plugins/realtime.js';
import readReplica from './plugins/read-replica.js';
import identityRoutes, { dashboardLogin } from './routes/identity/index.js';
import catalog from './routes/catalog/index.js';
import operations from './routes/operations.js';
import system from './routes/system.js';
import payments from './routes/payments.js';
import reconciliation from './routes/reconciliation.js';
import webhooks from './routes/webhooks.js';
import invoices from './routes/invoices.js';
import refunds from './routes/refunds.js';
import ws from './routes/ws.js';
import cartRoutes from './routes/cart.js';
import checkoutRoutes from './routes/checkout.js';
import couponRoutes from './routes/coupons.js';
import inventoryRoutes from './routes/inventory.js';
import orderRoutes from './routes/orders.js';
import shippingRoutes from './routes/shipping.js';
import reportRoutes from './routes/reports.js';
import auditRoutes from './routes/audit.js';
import exportRoutes from './routes/exports.js';
import creditRoutes from './routes/credit.js';
import returnRoutes from './routes/returns.js';
import reviewRoutes from './routes/reviews.js';
import recommendationRoutes from './routes/recommendations.js';
import notificationRoutes from './routes/notifications.js';
import supportRoutes from './routes/support/index.js';
import customerRoutes from './routes/customers.js';

export interface BuildAppOptions {
  /** A pino logger or options (tests pass one that writes to a buffer). */
  logger?: FastifyServerOptions['loggerInstance'];
  /** Skip the migrations check: only for tests pointing at an unreachable database. */
  skipMigrationCheck?: boolean;
  /** Observe every SQL statement (tests count queries per request). */
  onQuery?: (sql: string) => void;
  /** Compile every route's validators and serializers at start, not on first use (a test proves they all build). */
  eagerSchemas?: boolean;
}

const REQUEST_ID_MAX = 128;

/** The client's request id if usable (printable, bounded), else a fresh UUID. */
function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  const clean = value?.replace(/[^A-Za-z0-9._:-]/g, '').slice(0, REQUEST_ID_MAX);
  return clean || randomUUID();
}

function trustProxy(value: string): FastifyServerOptions['trustProxy'] {
  if (value === 'off' || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  return listOf(value);
}

/** Builds the whole API without listening: the server and the tests use exactly this. */
export async function buildApp(config: Config, opts: BuildAppOptions = {}) {
  const liveness = new LivenessShortcut('/health/live', requestIdFrom);
  const app = Fastify({
    serverFactory: liveness.serverFactory,
    // An injected logger (tests) gets the same request serializer: logged URLs never carry a token.
    ...(opts.logger ? { loggerInstance: opts.logger.child({}, { serializers: logSerializers }) } : { logger: loggerOptions(config, 'api') }),
    genReqId: (req) => requestIdFrom(req.headers['x-request-id']),
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: trustProxy(config.TRUST_PROXY),
    bodyLimit: config.BODY_LIMIT_BYTES,
    return503OnClosing: true,
    // Errors Fastify raises before routing (a malformed URL) get the same problem+json as the rest.
    frameworkErrors: (err, request, reply) => {
      const status = err.statusCode ?? 400;
      void sendProblem(request, reply, status, status >= 500 ? 'internal_error' : 'bad_request', status >= 500 ? 'Something went wrong on our side' : err.message);
    },
    schemaController: schemaController(opts.eagerSchemas),
    ajv: { customOptions: { allErrors: true, coerceTypes: 'array', removeAdditional: false, useDefaults: true } },
    // request.log becomes a pino child only when a request logs at a level that is on (api/request-logger.ts).
    childLoggerFactory: lazyRequestLogger,
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    done();
  });
  // Everything a request does (the outbox and audit rows it writes) sees its id and address: each route enters
  // the work context in a hook of its own, ahead of the route's own hooks. Pure reads that say so
  // (`config: { workContext: false }`: hot catalog reads, /me, liveness) skip it: decided here, once per route,
  // not on every request. The sign-in hooks (api/plugins/auth.ts) are placed ahead of it; they write nothing.
  const enterWorkContext: onRequestHookHandler = (request, _reply, done) => workContext.run({ requestId: request.id, ip: request.ip }, done);
  app.addHook('onRoute', (route) => {
    if (route.config?.workContext !== false) route.onRequest = [enterWorkContext, ...onRequestHooks(route)];
  });
  // server.close() only drops connections idle at that moment: a keep-alive socket whose request was in
  // flight would hold the shutdown until its keep-alive timeout. From now on, end sockets once answered.
  app.addHook('preClose', (done) => {
    app.server.keepAliveTimeout = 1;
    liveness.stop();
    done();
  });
  // The liveness answer, learnt from its route once the server listens (api/liveness.ts).
  app.addHook('onListen', () => liveness.learn(app));

  // 1. Infrastructure
  await app.register(infra, { config, skipMigrationCheck: opts.skipMigrationCheck, onQuery: opts.onQuery });
  await app.register(errors);
  await app.register(bodies);
  await app.register(metrics);
  // A JSON API: CSP matters only for the HTML pages (docs, dashboard), which ship their own.
  await app.register(securityHeaders, { contentSecurityPolicy: false, crossOriginResourcePolicy: { policy: 'cross-origin' } });
  // No origins configured: no CORS at all, and no hook on every request that finds that out each time.
  const origins = listOf(config.CORS_ORIGINS);
  if (origins.length > 0) await app.register(cors, {
    origin: origins.includes('*') ? true : origins,
    exposedHeaders: ['x-request-id', 'retry-after', 'location'],
    allowedHeaders: ['authorization', 'content-type', 'idempotency-key', 'x-cart-token', 'x-request-id'],
  });
  await app.register(rateLimit);
  await app.register(docs);

  // 2. Application plugins
  await app.register(auth, { config });
  await app.register(tokenRevocation);
  await app.register(queueDashboard);
  await app.register(paystack);
  await app.register(realtime);
  await app.register(media);
  await app.register(dbListener);
  await app.register(catalogCache);
  await app.register(profileCache);
  await app.register(readReplica);

  // 3. Routes
  await app.register(operations);
  await app.register(dashboardLogin);
  await app.register(
    async (api) => {
      await api.register(system);
      await api.register(identityRoutes);
      await api.register(webhooks);
      await api.register(payments);
      await api.register(reconciliation);
      await api.register(ws);
      await api.register(refunds);
      await api.register(invoices);
      await api.register(catalog);
      await api.register(inventoryRoutes);
      await api.register(cartRoutes);
      await api.register(couponRoutes);
      await api.register(shippingRoutes);
      await api.register(checkoutRoutes);
      await api.register(orderRoutes);
      await api.register(reportRoutes);
      await api.register(auditRoutes);
      await api.register(exportRoutes);
      await api.register(creditRoutes);
      await api.register(returnRoutes);
      await api.register(reviewRoutes);
      await api.register(recommendationRoutes);
      await api.register(supportRoutes);
      await api.register(notificationRoutes);
      await api.register(customerRoutes);
    },
    { prefix: '/api/v1' },
  );

  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
