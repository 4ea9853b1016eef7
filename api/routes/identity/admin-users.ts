import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { listUsers, updateUserByStaff } from '../../../shared/auth/staff.js';
import { IdParams, Page, PageQuery, problemResponses } from '../../schemas.js';
import { RoleSchema, StaffUserSchema } from '../../../shared/auth/schemas.js';

/** /api/v1/admin/users: staff management (`user:manage`); every change is audited. */
const adminUserRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/admin/users',
    {
      config: { permission: 'user:manage' },
      schema: {
        tags: ['users'],
        operationId: 'adminListUsers',
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
        tags: ['users'],
        operationId: 'adminUpdateUser',
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
    async (request) => (await updateUserByStaff(app.db, app.revocation.revoker, request.auth!.id, request.params.id, request.body)).user,
  );
};
export default adminUserRoutes;
