import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { STATUS_CODES } from 'node:http';
import { DomainError, type FieldProblem } from '../../shared/errors.js';
import type { Problem } from '../../shared/schemas.js';

const problemType = (code: string) => `https://docs.agape.dev/problems/${code.replace(/_/g, '-')}`;

export function sendProblem(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  detail: string,
  extra: Record<string, unknown> = {},
) {
  const body: Problem = {
    type: problemType(code),
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    requestId: request.id,
    ...extra,
  };
  // Also for errors raised before the onRequest hooks ran (a malformed URL): every response carries it.
  reply.header('x-request-id', request.id);
  return reply.code(status).type('application/problem+json').serializer(JSON.stringify).send(body);
}

type Branch = FieldProblem & { keyword: string; allowed?: unknown };

/**
 * AJV's errors → `[{path, message}]` with JSON-pointer paths into the part that failed. A union
 * (anyOf) reports each failed branch and then itself: those become one line per field
 * ("must be one of "a", "b"", "must be integer or null").
 */
function fieldProblems(err: FastifyError): FieldProblem[] {
  let out: Branch[] = [];
  for (const v of err.validation ?? []) {
    const params = v.params as {
      missingProperty?: string;
      additionalProperty?: string;
      allowedValues?: unknown[];
      allowedValue?: unknown;
    };
    let path = v.instancePath || '';
    if (params.missingProperty) path = `${path}/${params.missingProperty}`;
    if (params.additionalProperty) path = `${path}/${params.additionalProperty}`;
    path ||= '/';
    let message = v.message ?? 'is invalid';
    if (params.missingProperty) message = 'is required';
    if (params.allowedValues) message = `must be one of ${params.allowedValues.map((x) => JSON.stringify(x)).join(', ')}`;
    if (v.keyword === 'anyOf' || v.keyword === 'oneOf') {
      const branches = out.filter((p) => p.path === path);
      if (branches.length) {
        out = out.filter((p) => p.path !== path);
        message = branches.every((b) => b.keyword === 'const')
          ? `must be one of ${branches.map((b) => JSON.stringify(b.allowed)).join(', ')}`
          : [...new Set(branches.map((b, i) => (i > 0 ? b.message.replace(/^must be /, '') : b.message)))].join(' or ');
      }
    }
    out.push({ path, message, keyword: v.keyword, allowed: params.allowedValue });
  }
  const seen = new Set<string>();
  return out
    .map(({ path, message }) => ({ path, message }))
    .filter((p) => !seen.has(`${p.path} ${p.message}`) && seen.add(`${p.path} ${p.message}`));
}

const validationDetail: Record<string, string> = {
  body: 'The request body is invalid',
  querystring: 'The query string is invalid',
  params: 'The path parameters are invalid',
  headers: 'The request headers are invalid',
};

/**
 * The one place errors become RFC 9457 problem+json: typed domain errors, validation errors, malformed
 * JSON, oversized bodies, unknown routes, rate-limit refusals. Anything else is logged and answered as a
 * bare 500 that says nothing of stacks or SQL.
 */
export default fp(
  async function errors(app: FastifyInstance) {
    app.setErrorHandler((err: FastifyError, request, reply) => {
      if (err instanceof DomainError) {
        const { errors: fields, headers, ...rest } = err.extra;
        if (headers) reply.headers(headers);
        return sendProblem(request, reply, err.status, err.code, err.message, { ...rest, ...(fields ? { errors: fields } : {}) });
      }
      if (err.validation) {
        const where = err.validationContext ?? 'body';
        return sendProblem(request, reply, 400, 'validation_failed', validationDetail[where] ?? 'The request is invalid', {
          errors: fieldProblems(err),
        });
      }
      switch (err.code) {
        case 'FST_ERR_CTP_INVALID_JSON_BODY':
        case 'FST_ERR_CTP_EMPTY_JSON_BODY':
          return sendProblem(request, reply, 400, 'malformed_json', 'The request body is not valid JSON');
        case 'FST_ERR_CTP_BODY_TOO_LARGE':
          return sendProblem(request, reply, 413, 'payload_too_large', 'The request body is too large');
        case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
          return sendProblem(request, reply, 415, 'unsupported_media_type', 'This content type is not accepted here');
        case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
          return sendProblem(request, reply, 400, 'bad_request', 'Content-Length does not match the body');
      }
      const status = err.statusCode ?? 500;
      if (status === 429) {
        return sendProblem(request, reply, 429, 'rate_limited', 'Too many requests, slow down');
      }
      if (status >= 400 && status < 500) {
        // Framework/plugin 4xx (e.g. bad multipart, JWT plugin): keep the status, hide internals.
        const code = status === 401 ? 'unauthorized' : status === 404 ? 'not_found' : status === 413 ? 'payload_too_large' : 'bad_request';
        return sendProblem(request, reply, status, code, status === 401 ? 'Authentication required' : err.message);
      }
      request.log.error({ err }, 'unhandled error');
      return sendProblem(request, reply, 500, 'internal_error', 'Something went wrong on our side');
    });

    app.setNotFoundHandler((request, reply) =>
      sendProblem(request, reply, 404, 'not_found', `No route for ${request.method} ${request.url.split('?')[0]}`),
    );
  },
  { name: 'errors' },
);
