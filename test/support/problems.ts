import type { LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';

/** Asserts the contract's problem+json shape and returns the body. */
export function assertProblem(t: Test, res: LightMyRequestResponse, status: number, code: string) {
  t.equal(res.statusCode, status, `status ${status}: ${res.body.slice(0, 300)}`);
  t.match(res.headers['content-type'], /^application\/problem\+json/, 'problem+json content type');
  const body = res.json<Record<string, unknown>>();
  t.match(body, { type: String, title: String, status, detail: String, code, requestId: String }, `${code} problem fields`);
  t.equal(body.requestId, res.headers['x-request-id'], 'requestId in the body is the x-request-id header');
  return body;
}
