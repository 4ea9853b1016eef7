import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { getConversation, listConversations, openConversation } from '../../../shared/support/conversations.js';
import { listMessages, markRead, postMessage } from '../../../shared/support/messages.js';
import { Conversation, CustomerMessageBody, Message, OpenConversationBody, ReadBody } from '../../../shared/support/schemas.js';
import { IdParams, Page, PageQuery, problemResponses } from '../../schemas.js';
import { bearer, perUser, publish, viewerOf } from './common.js';

export const MessagesQuery = Type.Object(
  { ...PageQuery, after: Type.Optional(Type.Integer({ minimum: 0, maximum: 2 ** 31 - 1, description: 'only messages past this seq' })) },
  { additionalProperties: false },
);

/** /support/conversations: a signed-in user's own conversations (the customer side). */
const customerSupport: FastifyPluginAsyncTypebox = async (app) => {
  const common = { tags: ['support'], security: bearer };
  const signedIn = { auth: 'required' as const };

  app.post(
    '/support/conversations',
    {
      config: { ...signedIn, rateLimit: perUser('open', 20, '1 hour') },
      schema: {
        ...common,
        operationId: 'openSupportConversation',
        summary: 'Open a conversation (optionally about one of your orders) with its first message',
        body: OpenConversationBody,
        response: { 201: Conversation, ...problemResponses(400, 401, 404, 415, 429) },
      },
    },
    async (request, reply) => {
      const { result, notices } = await openConversation(app.db, app.config, viewerOf(request, 'customer'), request.body);
      await publish(app, notices);
      return reply.code(201).send(result);
    },
  );

  app.get(
    '/support/conversations',
    {
      config: signedIn,
      schema: {
        ...common,
        operationId: 'listSupportConversations',
        summary: 'Your conversations, latest activity first, with unread counts',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(Conversation), ...problemResponses(400, 401) },
      },
    },
    async (request) => listConversations(app.db, viewerOf(request, 'customer'), request.query),
  );

  app.get(
    '/support/conversations/:id',
    {
      config: signedIn,
      schema: { ...common, operationId: 'getSupportConversation', summary: 'One of your conversations', params: IdParams, response: { 200: Conversation, ...problemResponses(401, 404) } },
    },
    async (request) => getConversation(app.db, viewerOf(request, 'customer'), request.params.id),
  );

  app.get(
    '/support/conversations/:id/messages',
    {
      config: signedIn,
      schema: {
        ...common,
        operationId: 'listSupportMessages',
        summary: 'Messages in seq order (staff notes are never shown here)',
        params: IdParams,
        querystring: MessagesQuery,
        response: { 200: Page(Message), ...problemResponses(400, 401, 404) },
      },
    },
    async (request) => listMessages(app.db, viewerOf(request, 'customer'), request.params.id, request.query),
  );

  app.post(
    '/support/conversations/:id/messages',
    {
      config: { ...signedIn, rateLimit: perUser('message', 120, '1 minute') },
      schema: {
        ...common,
        operationId: 'postSupportMessage',
        summary: 'Write in your conversation (reopens a resolved one; 409 conversation_closed when closed)',
        params: IdParams,
        body: CustomerMessageBody,
        response: { 201: Message, ...problemResponses(400, 401, 404, 409, 415, 429) },
      },
    },
    async (request, reply) => {
      const { result, notices } = await postMessage(app.db, viewerOf(request, 'customer'), request.params.id, request.body);
      await publish(app, notices);
      return reply.code(201).send(result);
    },
  );

  app.post(
    '/support/conversations/:id/read',
    {
      config: signedIn,
      schema: {
        ...common,
        operationId: 'readSupportConversation',
        summary: 'You have read up to this seq (never moves back)',
        params: IdParams,
        body: ReadBody,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 404, 415) },
      },
    },
    async (request, reply) => {
      const { notices } = await markRead(app.db, viewerOf(request, 'customer'), request.params.id, request.body.seq);
      await publish(app, notices);
      return reply.code(204).send(null);
    },
  );
};
export default customerSupport;
