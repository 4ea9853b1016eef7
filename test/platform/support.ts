import { createHmac, createSign, type KeyObject } from 'node:crypto';
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

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Hand-made JWTs, for tokens our own signer would refuse to produce. */
export function jwt(header: Record<string, unknown>, payload: Record<string, unknown>, key?: KeyObject | string | Buffer) {
  const head = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${head}.`;
  if (header.alg === 'HS256') return `${head}.${createHmac('sha256', key as string | Buffer).update(head).digest('base64url')}`;
  const signature = createSign('RSA-SHA256').update(head).sign(key as KeyObject | string);
  return `${head}.${signature.toString('base64url')}`;
}
