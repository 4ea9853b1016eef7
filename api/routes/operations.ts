import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { checkDependencies } from '../../shared/health.js';
import { JSON_TYPE } from '../schemas.js';

const Report = Type.Object({
  status: Type.String(),
  checks: Type.Object({ postgres: Type.String(), redis: Type.String() }),
  failing: Type.Array(Type.String()),
});

const LIVE = JSON.stringify({ status: 'ok' });

/** Liveness, readiness and the JWKS: outside /api/v1, public, cheap. */
const operations: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/health/live',
    {
      logLevel: 'warn',
      config: { workContext: false },
      schema: { tags: ['operations'], operationId: 'checkLiveness', security: [], summary: 'The process runs', response: { 200: Type.Object({ status: Type.String() }) } },
    },
    // Sent as bytes made once (what the response schema serializes it to): no promise, no serializer per probe.
    (_request, reply) => void (reply as FastifyReply).header('content-type', JSON_TYPE).send(LIVE),
  );

  app.get(
    '/health/ready',
    {
      logLevel: 'warn',
      schema: {
        tags: ['operations'],
        operationId: 'checkReadiness',
        security: [],
        summary: 'Postgres and Redis answer (503 names the one that does not)',
        response: { 200: Report, 503: Report },
      },
    },
    async (_request, reply) => {
      const report = await checkDependencies(app.db, app.redis);
      return reply.code(report.ok ? 200 : 503).send({ ...report, status: report.ok ? 'ok' : 'unavailable' });
    },
  );

  const Jwk = Type.Object({
    kty: Type.String(),
    n: Type.String(),
    e: Type.String(),
    kid: Type.String(),
    use: Type.String(),
    alg: Type.String(),
  });
  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        tags: ['operations'],
        operationId: 'getJwks',
        security: [],
        summary: 'Public keys that verify access tokens',
        response: { 200: Type.Object({ keys: Type.Array(Jwk) }) },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return app.jwks;
    },
  );
};
export default operations;
