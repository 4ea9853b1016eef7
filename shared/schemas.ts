import { Type, type Static, type TSchema, type TSchemaOptions } from 'typebox';
import { Compile, type Validator } from 'typebox/compile';

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
export const Nullable = <T extends TSchema>(t: T, options: TSchemaOptions = {}) =>
  Type.Union([Type.Null(), t], options);

export const Uuid = Type.String({ format: 'uuid' });
export const Timestamp = Type.String({ format: 'date-time' });
/** An amount in an answer. */
export const Money = Type.Integer({ minimum: 0, description: 'minor units (kobo)' });
/** An amount a client sends: bounded, so arithmetic on it stays a safe integer. */
export const Kobo = Type.Integer({
  minimum: 0,
  maximum: 1_000_000_000_000,
  description: 'minor units (kobo)',
});
export const Currency = Type.String({ pattern: '^[A-Z]{3}$' });

export const FieldProblem = Type.Object({ path: Type.String(), message: Type.String() });

/** RFC 9457 problem details as the contract fixes them (api/plugins/errors.ts sends them). */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(FieldProblem)),
  },
  { additionalProperties: true, description: 'application/problem+json' },
);
/** A problem body; extra members (`lines`, `reason`, …) ride along per code. */
export type Problem = Static<typeof Problem> & Record<string, unknown>;

const validators = new WeakMap<TSchema, Validator>();

/**
 * Value.Check with the schema compiled once, on first use: Value.Check walks the schema on every call, and
 * these checks sit on hot paths (every order's outbox rows, every Paystack answer, every mail).
 */
export function fits<S extends TSchema>(schema: S, value: unknown): value is Static<S> {
  let validator = validators.get(schema);
  if (!validator) validators.set(schema, (validator = Compile(schema)));
  return validator.Check(value);
}
