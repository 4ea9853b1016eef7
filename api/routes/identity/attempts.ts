import type { FastifyInstance } from 'fastify';
import { Counter } from 'prom-client';
import type { ObserveAttempt } from '../../../shared/auth/lockout.js';

const NAME = 'auth_attempts_total';

/**
 * `auth_attempts_total{outcome}`: every credential check by how it ended. A brute force shows up as
 * `locked` (refused without looking at the password) and `wrong_*` (evaluated: at most LOCKOUT_THRESHOLD
 * per account and window).
 */
export function attemptCounter(app: FastifyInstance): ObserveAttempt {
  const counter =
    (app.metrics.getSingleMetric(NAME) as Counter<'outcome'> | undefined) ??
    new Counter({ name: NAME, help: 'Credential checks (sign-in, 2FA setup/disable) by outcome', labelNames: ['outcome'] as const, registers: [app.metrics] });
  return (outcome) => counter.inc({ outcome });
}
