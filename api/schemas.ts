import { Type, type TSchema } from 'typebox';
import { Problem, Uuid } from '../shared/schemas.js';

export { Problem, Timestamp, Uuid } from '../shared/schemas.js';

/** The content type of JSON bytes a route sends as they are (cached bodies, bytes made once). */
export const JSON_TYPE = 'application/json; charset=utf-8';

/** Response schema entries for the problem statuses a route can answer. */
export const problemResponses = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, Problem])) as Record<number, typeof Problem>;

export const IdParams = Type.Object({ id: Uuid });

/** A cursor page: `{items, nextCursor}`. */
export const Page = <T extends TSchema>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};
