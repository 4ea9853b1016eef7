import { hash, verify } from '@node-rs/argon2';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BadRequestError, ValidationError } from '../errors.js';

/**
 * argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1): about 20 ms per hash on one core.
 * `algorithm: 2` is Argon2id (the package's enum is a `declare const enum`, unusable under
 * verbatimModuleSyntax). Raising these makes every stored hash "outdated": login rehashes it.
 */
export const ARGON2_PARAMS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

const PASSWORD_MIN = 10;
const PASSWORD_MAX = 128;

export const hashPassword = (password: string) => hash(password, ARGON2_PARAMS);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await verify(passwordHash, password);
  } catch {
    // A malformed stored hash is a failed login, not a 500.
    return false;
  }
}

/** True when the stored hash was made with other parameters than today's (login then rehashes). */
export function needsRehash(passwordHash: string): boolean {
  const { memoryCost: m, timeCost: t, parallelism: p } = ARGON2_PARAMS;
  return !passwordHash.startsWith(`$argon2id$v=19$m=${m},t=${t},p=${p}$`);
}

let dummy: Promise<string> | undefined;
/**
 * A login for an unknown email verifies against this hash so it costs the same time as a real one
 * (no account enumeration by timing).
 */
export const dummyHash = () => (dummy ??= hashPassword(randomBytes(32).toString('hex')));

let common: ReadonlySet<string> | undefined;
/** The shipped common-password list, loaded once. */
function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    readFileSync(new URL('./common-passwords.txt', import.meta.url), 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('# ')),
  );
  return common;
}

/** Trimmed and lower-cased; citext makes the column case-insensitive too. */
export const normalizeEmail = (email: string) => email.trim().toLowerCase();

const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export function assertEmail(email: string): void {
  if (email.length > 254 || !EMAIL_SHAPE.test(email)) {
    throw new ValidationError('The email address is invalid', [{ path: '/email', message: 'must be an email address' }]);
  }
}

/** Why a password is refused, or null when it is acceptable. */
function passwordProblem(password: string, email: string): string | null {
  if (password.length < PASSWORD_MIN) return `must be at least ${PASSWORD_MIN} characters`;
  if (password.length > PASSWORD_MAX) return `must be at most ${PASSWORD_MAX} characters`;
  const lower = password.toLowerCase();
  if (commonPasswords().has(lower)) return 'is too common';
  const local = normalizeEmail(email).split('@')[0] ?? '';
  if (local.length >= 3 && lower.includes(local)) return 'must not contain your email address';
  return null;
}

export function assertPasswordPolicy(password: string, email: string): void {
  const problem = passwordProblem(password, email);
  if (problem) {
    throw new BadRequestError('weak_password', `The password ${problem}`, [{ path: '/password', message: problem }]);
  }
}
