/**
 * Typed domain errors. Domain functions throw these; one Fastify error handler turns them into
 * RFC 9457 problem+json (api/plugins/errors.ts). `code` is the stable machine code of the contract.
 */
import type { Static } from 'typebox';
import type { FieldProblem as FieldProblemSchema } from './schemas.js';

/** One line of a problem's `errors`: which field, and what is wrong with it. */
export type FieldProblem = Static<typeof FieldProblemSchema>;

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: { errors?: FieldProblem[]; headers?: Record<string, string>; [key: string]: unknown } = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

export class BadRequestError extends DomainError {
  constructor(code: string, message: string, errors?: FieldProblem[]) {
    super(400, code, message, errors ? { errors } : {});
  }
}
export class ValidationError extends BadRequestError {
  constructor(message: string, errors: FieldProblem[] = []) {
    super('validation_failed', message, errors);
  }
}
export class UnauthorizedError extends DomainError {
  constructor(code = 'unauthorized', message = 'Authentication required') {
    super(401, code, message);
  }
}
export class ForbiddenError extends DomainError {
  constructor(message = 'You do not have permission to do this') {
    super(403, 'forbidden', message);
  }
}
export class NotFoundError extends DomainError {
  constructor(what = 'Resource') {
    super(404, 'not_found', `${what} not found`);
  }
}
export class ConflictError extends DomainError {
  constructor(code = 'conflict', message = 'Conflict', extra: Record<string, unknown> = {}) {
    super(409, code, message, extra);
  }
}
export class InsufficientStockError extends ConflictError {
  constructor(readonly lines: { variantId: string; sku?: string; requested: number; available: number }[]) {
    super('insufficient_stock', `Not enough stock for ${lines.map((l) => l.sku ?? l.variantId).join(', ')}`, { lines });
  }
}
export class InvalidTransitionError extends ConflictError {
  constructor(from: string, to: string) {
    super('invalid_transition', `An order cannot go from ${from} to ${to}`);
  }
}
export class UnprocessableError extends DomainError {
  constructor(code: string, message: string) {
    super(422, code, message);
  }
}
export class TooManyRequestsError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limited', 'Too many requests, slow down', {
      headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) },
    });
  }
}

/** Postgres error codes worth mapping, so domain code can turn a race into a clean 409. */
export const PgCode = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
} as const;

export function pgErrorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : undefined;
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  return (
    pgErrorCode(err) === PgCode.uniqueViolation &&
    (constraint === undefined || (err as { constraint?: string }).constraint === constraint)
  );
}
