import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requestPing } from '../../shared/system/ping.js';
import { problemResponses } from '../schemas.js';

const system: FastifyPluginAsyncTypebox = async (app) => {
  app.post(
    '/system/ping',
    {
      config: { permission: 'system:ping' },
      schema: {
        tags: ['operations'],
        operationId: 'sendSystemPing',
        summary: 'Send a ping job through outbox → Redis → worker',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ message: Type.String({ minLength: 1, maxLength: 200, default: 'ping' }) }, { additionalProperties: false }),
        response: { 202: Type.Object({ jobId: Type.String({ format: 'uuid' }) }), ...problemResponses(400, 401, 403) },
      },
    },
    async (request, reply) => reply.code(202).send(await requestPing(app.db, request.body.message, request.auth?.id ?? null)),
  );
};
export default system;
