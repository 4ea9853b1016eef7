import AjvCompiler from '@fastify/ajv-compiler';
import { SerializerSelector, type SerializerFactory } from '@fastify/fast-json-stringify-compiler';
import type { FastifyServerOptions } from 'fastify';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type BuildValidator = AjvCompiler.BuildCompilerFromPool;
type Compile = ReturnType<BuildValidator>;
type Validate = ReturnType<Compile>;
type BuildSerializer = SerializerFactory;
type Serialize = ReturnType<ReturnType<BuildSerializer>>;

/**
 * Fastify's own compilers (Ajv for requests, fast-json-stringify for responses), each route's function
 * built on its first call instead of at start.
 *
 * Built at start, the validators and serializers of every route cost ~9 MB of heap (generated code, its
 * closures and Ajv's caches) in every API process, though a process serves a handful of routes most of the
 * time; the heap the GC lets grow under load grows with it (issue 16: API RSS). The first request of a route
 * pays its compile (about a millisecond). `eager` keeps Fastify's behaviour: test/platform/schemas.test.ts
 * builds the app that way, so a schema neither compiler accepts still fails at once, not on its first use.
 *
 * The same compilers as Fastify's defaults (pooled by their options), so every function behaves the same;
 * a validator's `errors` and `schemaEnv` (read by Fastify around the call) are the compiled one's. Given
 * compilers, Fastify hands a headers schema over as written instead of lower-casing its keys first: ours
 * are lower-case already.
 */
export function schemaController(eager = false): SchemaController {
  const buildValidator = AjvCompiler();
  const buildSerializer = SerializerSelector();
  if (eager) return { compilersFactory: { buildValidator, buildSerializer } };
  const lazyValidators: BuildValidator = (externalSchemas, options) => {
    let compiler: Compile | undefined;
    return (route) => {
      let compiled: Validate | undefined;
      const real = () => (compiled ??= (compiler ??= buildValidator(externalSchemas, options))(route));
      // Fastify calls a validator with the data and, for Ajv's, the parent it may coerce into: two fixed arguments
      // (not a rest array and apply) on every validated request.
      const validate = function (this: unknown, data: unknown, context?: unknown) {
        return ((compiled ?? real()) as (this: unknown, d: unknown, c?: unknown) => unknown).call(this, data, context);
      };
      Object.defineProperties(validate, {
        errors: { get: () => real().errors, set: (value: Validate['errors']) => void (real().errors = value) },
        schema: { get: () => real().schema },
        schemaEnv: { get: () => real().schemaEnv },
      });
      return validate as unknown as Validate;
    };
  };
  const lazySerializers: BuildSerializer = (externalSchemas, options) => {
    let compiler: ReturnType<BuildSerializer> | undefined;
    return (route) => {
      let compiled: Serialize | undefined;
      return (data: unknown) => (compiled ??= (compiler ??= buildSerializer(externalSchemas, options))(route))(data);
    };
  };
  return { compilersFactory: { buildValidator: lazyValidators, buildSerializer: lazySerializers } };
}
