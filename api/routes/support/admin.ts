import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { getConversation, listConversations, updateConversation } from '../../../shared/support/conversations.js';
import { listMessages, markRead, postMessage } from '../../../shared/support/messages.js';
import { approveReply, createDraft, editReply, listReplies, rejectReply, submitReply } from '../../../shared/support/replies.js';
import {
  AdminConversationQuery,
  Conversation,
  DraftBody,
  EditReplyBody,
  Message,
  ReadBody,
  RejectBody,
  Reply,
  ReplyStatusSchema,
  StaffMessageBody,
  UpdateConversationBody,
} from '../../../shared/support/schemas.js';
import { IdParams, Page, PageQuery, problemResponses } from '../../schemas.js';
import { bearer, publish, viewerOf } from './common.js';
import { MessagesQuery } from './customer.js';

/**
 * /admin/support: the staff inbox. Every read and write goes through the one scope
 * (shared/support/scope.ts): a support agent reaches only conversations assigned to them.
 */
const adminSupport: FastifyPluginAsyncTypebox = async (app) => {
  const common = { tags: ['support'], security: bearer };
  const read = { permission: 'support:read' as const };
  const replyPerm = { permission: 'support:reply' as const };
  const approve = { permission: 'support:approve' as const };

  app.get(
    '/admin/support/conversations',
    {
      config: read,
      schema: {
        ...common,
        operationId: 'adminListSupportConversations',
        summary: 'The inbox (scoped: agents see their assigned conversations), filtered and searched',
        querystring: AdminConversationQuery,
        response: { 200: Page(Conversation), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listConversations(app.db, viewerOf(request, 'staff'), request.query),
  );

  app.get(
    '/admin/support/conversations/:id',
    {
      config: read,
      schema: { ...common, operationId: 'adminGetSupportConversation', summary: 'A conversation in scope', params: IdParams, response: { 200: Conversation, ...problemResponses(401, 403, 404) } },
    },
    async (request) => getConversation(app.db, viewerOf(request, 'staff'), request.params.id),
  );

  app.get(
    '/admin/support/conversations/:id/messages',
    {
      config: read,
      schema: {
        ...common,
        operationId: 'adminListSupportMessages',
        summary: 'Messages and staff notes in seq order',
        params: IdParams,
        querystring: MessagesQuery,
        response: { 200: Page(Message), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => listMessages(app.db, viewerOf(request, 'staff'), request.params.id, request.query),
  );

  app.post(
    '/admin/support/conversations/:id/messages',
    {
      config: replyPerm,
      schema: {
        ...common,
        operationId: 'adminPostSupportMessage',
        summary: 'Chat with the customer (goes out at once) or leave a staff note (`kind: note`, never shown to the customer)',
        params: IdParams,
        body: StaffMessageBody,
        response: { 201: Message, ...problemResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request, reply) => {
      const { result, notices } = await postMessage(app.db, viewerOf(request, 'staff'), request.params.id, request.body);
      await publish(app, notices);
      return reply.code(201).send(result);
    },
  );

  app.post(
    '/admin/support/conversations/:id/read',
    {
      config: replyPerm,
      schema: {
        ...common,
        operationId: 'adminReadSupportConversation',
        summary: 'You have read up to this seq',
        params: IdParams,
        body: ReadBody,
        response: { 204: Type.Null(), ...problemResponses(400, 401, 403, 404, 415) },
      },
    },
    async (request, reply) => {
      const { notices } = await markRead(app.db, viewerOf(request, 'staff'), request.params.id, request.body.seq);
      await publish(app, notices);
      return reply.code(204).send(null);
    },
  );

  app.patch(
    '/admin/support/conversations/:id',
    {
      config: replyPerm,
      schema: {
        ...common,
        operationId: 'adminUpdateSupportConversation',
        summary: 'Resolve, close or reopen; reassign (`assigneeId` needs support:assign)',
        params: IdParams,
        body: UpdateConversationBody,
        response: { 200: Conversation, ...problemResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => {
      const { result, notices } = await updateConversation(app.db, viewerOf(request, 'staff'), request.params.id, request.body);
      await publish(app, notices);
      return result;
    },
  );

  app.post(
    '/admin/support/conversations/:id/replies',
    {
      config: replyPerm,
      schema: {
        ...common,
        operationId: 'adminDraftSupportReply',
        summary: 'Draft an emailed reply (sent only after someone else approves it)',
        params: IdParams,
        body: DraftBody,
        response: { 201: Reply, ...problemResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request, reply) => reply.code(201).send(await createDraft(app.db, viewerOf(request, 'staff'), request.params.id, request.body.body)),
  );

  app.patch(
    '/admin/support/replies/:id',
    {
      config: replyPerm,
      schema: {
        ...common,
        operationId: 'adminEditSupportReply',
        summary: 'Edit your draft (or a rejected reply, back to draft) at the version you saw',
        params: IdParams,
        body: EditReplyBody,
        response: { 200: Reply, ...problemResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => editReply(app.db, viewerOf(request, 'staff'), request.params.id, request.body),
  );

  app.post(
    '/admin/support/replies/:id/submit',
    {
      config: replyPerm,
      schema: {
        ...common,
        operationId: 'adminSubmitSupportReply',
        summary: 'Submit your draft for approval: its body is frozen from now on',
        params: IdParams,
        response: { 200: Reply, ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request) => {
      const { result, notices } = await submitReply(app.db, app.config, viewerOf(request, 'staff'), request.params.id);
      await publish(app, notices);
      return result;
    },
  );

  app.post(
    '/admin/support/replies/:id/approve',
    {
      config: approve,
      schema: {
        ...common,
        operationId: 'adminApproveSupportReply',
        summary: 'Approve a pending reply: its mail is queued in the same transaction (not your own, unless SUPPORT_SELF_APPROVAL)',
        params: IdParams,
        response: { 202: Reply, ...problemResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const { result, notices } = await approveReply(app.db, app.config, viewerOf(request, 'staff'), request.params.id);
      await publish(app, notices);
      return reply.code(202).send(result);
    },
  );

  app.post(
    '/admin/support/replies/:id/reject',
    {
      config: approve,
      schema: {
        ...common,
        operationId: 'adminRejectSupportReply',
        summary: 'Send a pending reply back to its author with a note',
        params: IdParams,
        body: RejectBody,
        response: { 200: Reply, ...problemResponses(400, 401, 403, 404, 409, 415) },
      },
    },
    async (request) => {
      const { result, notices } = await rejectReply(app.db, viewerOf(request, 'staff'), request.params.id, request.body.note);
      await publish(app, notices);
      return result;
    },
  );

  app.get(
    '/admin/support/replies',
    {
      config: approve,
      schema: {
        ...common,
        operationId: 'adminListSupportReplies',
        summary: 'Emailed replies in scope, newest first (`status=pending_approval`: the approval queue)',
        querystring: Type.Object({ ...PageQuery, status: Type.Optional(ReplyStatusSchema) }, { additionalProperties: false }),
        response: { 200: Page(Reply), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listReplies(app.db, viewerOf(request, 'staff'), request.query),
  );
};
export default adminSupport;
