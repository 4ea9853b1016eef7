import { currentClientIp, currentRequestId } from '../context.js';
import type { Trx } from '../db/index.js';

export interface AuditEntry {
  /** The staff member (or system actor) who did it; null for the system itself. */
  actorId: string | null;
  /** `<domain>.<verb>`, e.g. `user.role_changed`, `order.status_changed`, `refund.created`. */
  action: string;
  targetType: string;
  targetId: string | null;
  before?: unknown;
  after?: unknown;
}

/** Keys whose values never belong in the log, at any depth: password hashes, tokens, TOTP and API secrets. */
const SECRET_KEY = /hash|token|secret|password|totp|signature|api_?key/i;

/** A copy of a before/after value without secret-looking keys: a second line of defence, callers pick fields. */
function withoutSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutSecrets);
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([key]) => !SECRET_KEY.test(key))
      .map(([key, v]) => [key, withoutSecrets(v)]),
  );
}

/**
 * Records a staff mutation in `audit_log`, inside the transaction that makes the change (so the record
 * exists exactly when the change does). The request id comes from the work context. General on purpose:
 * every domain's staff actions use it.
 */
export async function writeAudit(trx: Trx, entry: AuditEntry): Promise<void> {
  await trx
    .insertInto('auditLog')
    .values({
      actorId: entry.actorId,
      action: entry.action,
      targetType: entry.targetType,
      targetId: entry.targetId,
      before: entry.before === undefined ? null : JSON.stringify(withoutSecrets(entry.before)),
      after: entry.after === undefined ? null : JSON.stringify(withoutSecrets(entry.after)),
      requestId: currentRequestId() ?? null,
      ip: currentClientIp() ?? null,
    })
    .execute();
}
