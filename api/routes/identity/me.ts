import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { getMe, updateMe } from '../../../shared/auth/accounts.js';
import { ProfilePatch } from '../../../shared/identity/schemas.js';
import { problemResponses } from '../../schemas.js';
import { UserSchema } from '../../../shared/auth/schemas.js';

/** /api/v1/me: the signed-in account. */
const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/me',
    {
      config: { auth: 'required', workContext: false },
      schema: {
        tags: ['auth'],
        operationId: 'getMe',
        summary: 'The signed-in account',
        security: [{ bearerAuth: [] }],
        response: { 200: UserSchema, ...problemResponses(401, 404) },
      },
    },
    async (request) => getMe(app.db, request.auth!.id),
  );

  app.patch(
    '/me',
    {
      config: { auth: 'required' },
      schema: {
        tags: ['auth'],
        operationId: 'updateMe',
        summary: 'Change your name or phone (E.164; Nigerian numbers may be given in local form)',
        security: [{ bearerAuth: [] }],
        body: ProfilePatch,
        response: { 200: UserSchema, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => updateMe(app.db, request.auth!.id, request.body),
  );
};
export default meRoutes;
