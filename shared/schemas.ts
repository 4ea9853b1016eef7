import { Type, type TSchema, type TSchemaOptions } from 'typebox';

/**
 * TypeBox building blocks every domain's schemas use. Each domain's own shapes live in
 * shared/<domain>/schemas.ts; this module imports nothing of the project, so the generated table types
 * (shared/db/types.ts) and any domain can import from those modules without a cycle.
 */

/**
 * A string that is one of `values` (an `as const` list: the one definition of a status or kind). Emitted
 * as `{type: 'string', enum}`: one branch, so responses serialize as plain strings and a bad request value
 * answers "must be one of …".
 */
export const StringEnum = <const V extends readonly string[]>(values: V, options: TSchemaOptions = {}) =>
  Type.Unsafe<V[number]>({ type: 'string', enum: [...values], ...options });

/** Null first: fast-json-stringify picks the first matching branch and would coerce null to 0 or "". */
export const Nullable = <T extends TSchema>(t: T) => Type.Union([Type.Null(), t]);
