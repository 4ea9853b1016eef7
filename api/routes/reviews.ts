import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { can } from '../../shared/auth/permissions.js';
import { ForbiddenError } from '../../shared/errors.js';
import { listAdminReviews, listOwnReviews, listProductReviews } from '../../shared/reviews/read.js';
import {
  AdminReview,
  AdminReviewQuery,
  ModerationInput,
  OwnReview,
  PageQuery,
  ProductReviewQuery,
  PublicReviewPage,
  ReplyInput,
  ReportInput,
  ReviewInput,
  ReviewPatch,
} from '../../shared/reviews/schemas.js';
import {
  createReview,
  deleteReview,
  editReview,
  moderateReview,
  replyToReview,
  reportReview,
  setHelpfulVote,
  type WriteResult,
} from '../../shared/reviews/write.js';
import { IdParams, Page, problemResponses } from '../schemas.js';

const bearer = [{ bearerAuth: [] }];
const tags = ['reviews'];

/** Reviews and ratings (contract part two). Every write that moves a product's rating drops the catalog cache after commit. */
const reviews: FastifyPluginAsyncTypebox = async (app) => {
  const afterWrite = async <T>(result: WriteResult<T>): Promise<T> => {
    if (result.catalogChanged) await app.catalogCache.bump([result.productId]);
    return result.review;
  };

  app.get(
    '/products/:id/reviews',
    {
      schema: {
        tags,
        operationId: 'listProductReviews',
        security: [],
        summary:
          'Published reviews of a product; the first page adds the summary (average, count, distribution)',
        params: Type.Object({
          id: Type.String({ minLength: 1, maxLength: 120, description: 'The product id (UUID) or its slug' }),
        }),
        querystring: ProductReviewQuery,
        response: { 200: PublicReviewPage, ...problemResponses(400, 404) },
      },
    },
    async (request) => listProductReviews(app.db, request.params.id, request.query),
  );

  app.post(
    '/products/:id/reviews',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'createReview',
        security: bearer,
        summary: 'Review a product you received (plain text); 403 purchase_required, 409 review_exists',
        params: IdParams,
        body: ReviewInput,
        response: { 201: OwnReview, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      if (request.auth!.role !== 'customer') throw new ForbiddenError('Only customer accounts write reviews');
      const review = await afterWrite(
        await createReview(app.db, app.config, request.auth!.id, request.params.id, request.body),
      );
      return reply.code(201).header('location', `/api/v1/reviews/${review.id}`).send(review);
    },
  );

  app.patch(
    '/reviews/:id',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'updateReview',
        security: bearer,
        summary:
          'Edit your review; it goes back to moderation (REVIEW_MODERATION=post: published again at once)',
        params: IdParams,
        body: ReviewPatch,
        response: { 200: OwnReview, ...problemResponses(400, 401, 404) },
      },
    },
    async (request) =>
      afterWrite(await editReview(app.db, app.config, request.auth!.id, request.params.id, request.body)),
  );

  app.delete(
    '/reviews/:id',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'deleteReview',
        security: bearer,
        summary: 'Delete a review: its author, or staff with review:moderate',
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 404) },
      },
    },
    async (request, reply) => {
      const actor = { id: request.auth!.id, canModerate: can(request.auth!.role, 'review:moderate') };
      await afterWrite(await deleteReview(app.db, actor, request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/reviews',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'listMyReviews',
        security: bearer,
        summary: 'Your reviews in every state, newest first',
        querystring: PageQuery,
        response: { 200: Page(OwnReview), ...problemResponses(400, 401) },
      },
    },
    async (request) => listOwnReviews(app.db, request.auth!.id, request.query),
  );

  for (const [method, helpful] of [
    ['PUT', true],
    ['DELETE', false],
  ] as const) {
    app.route({
      method,
      url: '/reviews/:id/vote',
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: helpful ? 'voteReviewHelpful' : 'unvoteReviewHelpful',
        security: bearer,
        summary: helpful
          ? 'Mark a published review helpful (idempotent)'
          : 'Take your helpful vote back (idempotent)',
        params: IdParams,
        response: { 204: Type.Null(), ...problemResponses(401, 404, 409) },
      },
      handler: async (request, reply) => {
        await setHelpfulVote(app.db, request.auth!.id, request.params.id, helpful);
        return reply.code(204).send(null);
      },
    });
  }

  app.post(
    '/reviews/:id/reports',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'reportReview',
        security: bearer,
        summary:
          'Report a review; at REVIEW_REPORT_THRESHOLD distinct reporters it is hidden for a moderator. A repeat is a no-op',
        params: IdParams,
        body: ReportInput,
        response: {
          202: Type.Object({ status: Type.Literal('accepted') }),
          ...problemResponses(400, 401, 404, 409),
        },
      },
    },
    async (request, reply) => {
      await afterWrite(
        await reportReview(app.db, app.config, request.auth!.id, request.params.id, request.body.reason),
      );
      return reply.code(202).send({ status: 'accepted' as const });
    },
  );

  app.get(
    '/admin/reviews',
    {
      config: { permission: 'review:moderate' },
      schema: {
        tags,
        operationId: 'adminListReviews',
        security: bearer,
        summary: 'The moderation queue, by state, newest first',
        querystring: AdminReviewQuery,
        response: { 200: Page(AdminReview), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listAdminReviews(app.db, request.query),
  );

  app.patch(
    '/admin/reviews/:id',
    {
      config: { permission: 'review:moderate' },
      schema: {
        tags,
        operationId: 'adminModerateReview',
        security: bearer,
        summary: 'Publish, reject or flag a review (409 invalid_transition, version_conflict)',
        params: IdParams,
        body: ModerationInput,
        response: { 200: AdminReview, ...problemResponses(400, 401, 403, 404, 409) },
      },
    },
    async (request) =>
      afterWrite(await moderateReview(app.db, request.auth!.id, request.params.id, request.body)),
  );

  app.put(
    '/admin/reviews/:id/reply',
    {
      config: { permission: 'review:moderate' },
      schema: {
        tags,
        operationId: 'adminReplyToReview',
        security: bearer,
        summary: 'Set the one public staff reply of a review (plain text)',
        params: IdParams,
        body: ReplyInput,
        response: { 200: AdminReview, ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) =>
      afterWrite(await replyToReview(app.db, request.auth!.id, request.params.id, request.body.body)),
  );
};
export default reviews;
