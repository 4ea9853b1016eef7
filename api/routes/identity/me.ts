import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { getMe, updateMe } from '../../../shared/auth/accounts.js';
import { ProfilePatch } from '../../../shared/identity/schemas.js';
import { JSON_TYPE, problemResponses } from '../../schemas.js';
import { UserSchema } from '../../../shared/auth/schemas.js';
import { keptBytes } from '../../../shared/kept-bytes.js';

/** Sends JSON bytes as they are (Fastify sends a Buffer without serializing it again). */
const sendBytes = (reply: FastifyReply, body: Buffer) => void reply.header('content-type', JSON_TYPE).send(body);

/** /api/v1/me: the signed-in account. */
const meRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { local, observe } = app.profileCache;

  // The hottest signed-in read: answered from this process's memory when it can be (shared/auth/profile-cache.ts;
  // the token was verified and checked against revocation by the hooks before). The bytes kept are what the
  // response schema serialized, sent as they are.
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
    (request, reply) => {
      const userId = request.auth!.id;
      const hit = local.get(userId);
      if (hit !== undefined) {
        observe('local');
        sendBytes(reply, hit);
        return;
      }
      observe('miss');
      const since = local.mark();
      getMe(app.db, userId).then(
        (user) => {
          const body = keptBytes(reply.serialize(user) as string);
          local.set(userId, body, since);
          sendBytes(reply, body);
        },
        (err: Error) => void (reply as FastifyReply).send(err),
      );
    },
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
    // Its own answer is dropped before it is sent (api/plugins/profile-cache.ts drops the caller on every write).
    async (request) => updateMe(app.db, request.auth!.id, request.body),
  );
};
export default meRoutes;
