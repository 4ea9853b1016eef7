import type { FastifyInstance, FastifyRequest, preValidationAsyncHookHandler, preValidationHookHandler } from 'fastify';
import fp from 'fastify-plugin';

interface ObjectSchema {
  type?: unknown;
  required?: string[];
  minProperties?: number;
  properties?: Record<string, { default?: unknown }>;
}

const optionalCache = new WeakMap<object, boolean>();

/**
 * A body is optional when `{}` satisfies it as far as presence goes: an object schema whose required
 * fields all have defaults and that does not ask for a minimum of properties (PATCH bodies do: "change
 * something" is not optional).
 */
function bodyIsOptional(schema: unknown): boolean {
  if (!schema || typeof schema !== 'object') return false;
  const cached = optionalCache.get(schema);
  if (cached !== undefined) return cached;
  const s = schema as ObjectSchema;
  const optional =
    s.type === 'object' &&
    !(s.minProperties && s.minProperties > 0) &&
    (s.required ?? []).every((name) => s.properties?.[name]?.default !== undefined);
  optionalCache.set(schema, optional);
  return optional;
}

const routeBodyIsOptional = (request: FastifyRequest) => bodyIsOptional(request.routeOptions.schema?.body);

/** Runs before validation, so defaults and `additionalProperties` still apply to the empty body. */
const emptyBodyIsEmptyObject: preValidationHookHandler = (request, _reply, done) => {
  if (request.body === undefined || request.body === null) request.body = {};
  done();
};

/**
 * What bodies the API accepts (contract: errors). It is a JSON API: Fastify's default `text/plain`
 * parser would hand a string to a route expecting an object and the client would get a 400 "must be
 * object"; without it any non-JSON type answers 415 `unsupported_media_type` (the error handler maps
 * Fastify's FST_ERR_CTP_INVALID_MEDIA_TYPE). Scopes that take other types say so themselves
 * (multipart uploads, the webhook's raw bytes, the dashboard's HTML form).
 *
 * Where a route's body is optional, a request without one (no `Content-Type`, or an empty JSON body
 * as `curl -X POST -H 'content-type: application/json'` sends) is the empty object, not a 400.
 * Registered before any route: parsers and onRoute hooks are inherited by the scopes created after.
 */
export default fp(
  async function bodies(app: FastifyInstance) {
    app.removeContentTypeParser('text/plain');

    const json = app.getDefaultJsonParser(app.initialConfig.onProtoPoisoning ?? 'error', app.initialConfig.onConstructorPoisoning ?? 'error');
    app.removeContentTypeParser('application/json');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      if (body === '' && routeBodyIsOptional(request)) return done(null, undefined);
      void json(request, body as string, done);
    });

    app.addHook('onRoute', (route) => {
      if (!bodyIsOptional(route.schema?.body)) return;
      const existing = route.preValidation;
      const hooks: (preValidationHookHandler | preValidationAsyncHookHandler)[] = existing === undefined ? [] : Array.isArray(existing) ? existing : [existing];
      route.preValidation = [emptyBodyIsEmptyObject, ...hooks];
    });
  },
  { name: 'bodies' },
);
