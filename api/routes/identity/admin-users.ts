import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { revokeAccessTokens } from '../../../shared/auth/revocation.js';
import { listUsers, updateUserByStaff } from '../../../shared/auth/staff.js';
import { IdParams, Page, PageQuery, problemResponses } from '../../schemas.js';
import { RoleSchema, StaffUserSchema } from './schemas.js';

/** /api/v1/admin/users: staff management (`user:manage`); every change is audited. */
const adminUserRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/admin/users',
    {
      config: { permission: 'user:manage' },
      schema: {
        tags: ['admin'],
        summary: 'Find accounts by email or name, and by role',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object(
          { q: Type.Optional(Type.String({ maxLength: 200 })), role: Type.Optional(RoleSchema), ...PageQuery },
          { additionalProperties: false },
        ),
        response: { 200: Page(StaffUserSchema), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listUsers(app.db, request.query),
  );

  app.patch(
    '/admin/users/:id',
    {
      config: { permission: 'user:manage' },
      schema: {
        tags: ['admin'],
        summary: "Change an account's role or disable/enable it",
        security: [{ bearerAuth: [] }],
        params: IdParams,
        body: Type.Object(
          { role: Type.Optional(RoleSchema), disabled: Type.Optional(Type.Boolean()) },
          { additionalProperties: false, minProperties: 1 },
        ),
        response: { 200: StaffUserSchema, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { user, changed } = await updateUserByStaff(app.db, request.auth!.id, request.params.id, request.body);
      // Tokens already handed out carry the old role (or belong to a now disabled account).
      if (changed) {
        await revokeAccessTokens(app.redis, app.config.QUEUE_PREFIX, user.id).catch((err: unknown) =>
          request.log.warn({ err }, 'could not revoke access tokens in Redis'),
        );
      }
      return user;
    },
  );
};
export default adminUserRoutes;
