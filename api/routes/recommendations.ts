import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { personalRecommendations, productRecommendations } from '../../shared/recommendations/read.js';
import { listRuns, requestRebuild } from '../../shared/recommendations/rebuild.js';
import {
  RecommendationQuery,
  RecommendationRun,
  recommendationSources,
  type RecommendationKind,
} from '../../shared/recommendations/schemas.js';
import { JSON_TYPE, Page, PageQuery, problemResponses, Timestamp } from '../schemas.js';
import { ListItem } from '../../shared/catalog/schemas.js';

const Answer = Type.Object({
  items: Type.Array(ListItem),
  nextCursor: Type.Null(),
  source: Type.Enum(recommendationSources, {
    description:
      'computed: all from the nightly generation; fallback: category and best sellers; mixed: both',
  }),
  computedAt: Type.Union([Timestamp, Type.Null()], {
    description: 'when the generation used was computed; null before the first',
  }),
});
const bearer = [{ bearerAuth: [] }];
const tags = ['recommendations'];

/** Recommendations (contract part two). Product answers are cached per catalog version, which the generation switch bumps. */
const recommendations: FastifyPluginAsyncTypebox = async (app) => {
  const kinds: [string, RecommendationKind, string][] = [
    [
      'bought-together',
      'bought_together',
      'Products bought together with this one (paid orders of the last RECS_WINDOW_DAYS)',
    ],
    ['similar', 'similar', 'Similar products: category, tags, attributes, price within ±30 %'],
  ];
  for (const [path, kind, summary] of kinds) {
    app.get(
      `/products/:id/${path}`,
      {
        schema: {
          tags,
          operationId: kind === 'similar' ? 'listSimilarProducts' : 'listBoughtTogether',
          security: [],
          summary,
          params: Type.Object({
            id: Type.String({
              minLength: 1,
              maxLength: 120,
              description: 'The product id (UUID) or its slug',
            }),
          }),
          querystring: RecommendationQuery,
          response: { 200: Answer, ...problemResponses(400, 404) },
        },
      },
      async (request, reply) => {
        const { id } = request.params;
        const { limit } = request.query;
        const entry = await app.catalogCache.list(`recs:${kind}:${limit}:${id}`, () =>
          productRecommendations(app.db, id, kind, limit),
        );
        // JSON text from the cache, built from the same schema's shape: sent as is (see catalog/products.ts).
        return reply.type(JSON_TYPE).send(entry.body as never);
      },
    );
  }

  app.get(
    '/me/recommendations',
    {
      config: { auth: 'required' },
      schema: {
        tags,
        operationId: 'listMyRecommendations',
        security: bearer,
        summary: 'Recommendations from your own purchases',
        querystring: RecommendationQuery,
        response: { 200: Answer, ...problemResponses(400, 401) },
      },
    },
    async (request) => personalRecommendations(app.db, request.auth!.id, request.query.limit),
  );

  app.post(
    '/admin/recommendations/rebuild',
    {
      config: { permission: 'product:write' },
      schema: {
        tags,
        operationId: 'adminRebuildRecommendations',
        security: bearer,
        summary: 'Rebuild the recommendations now; answers the running rebuild if there is one',
        response: {
          202: Type.Object({ runId: Type.String({ format: 'uuid' }) }),
          ...problemResponses(401, 403),
        },
      },
    },
    async (request, reply) => {
      const { runId } = await requestRebuild(app.db, {
        trigger: 'manual',
        requestedBy: request.auth!.id,
        enqueueJob: true,
      });
      return reply.code(202).send({ runId });
    },
  );

  app.get(
    '/admin/recommendations/runs',
    {
      config: { permission: 'product:write' },
      schema: {
        tags,
        operationId: 'adminListRecommendationRuns',
        security: bearer,
        summary: 'Rebuild runs, newest first',
        querystring: Type.Object(PageQuery, { additionalProperties: false }),
        response: { 200: Page(RecommendationRun), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => listRuns(app.db, request.query),
  );
};
export default recommendations;
