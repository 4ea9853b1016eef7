import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { resolveWorkerQueues } from './queues.js';

/** The repository root, found from this file (works for `shared/` under tsx and `dist/shared/` when built). */
export const repoRoot = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../' : '../', import.meta.url));

const Url = (description: string, def?: string) =>
  Type.String({ pattern: '^[a-z][a-z0-9+.-]*://', description, ...(def === undefined ? {} : { default: def }) });
const Int = (description: string, def: number, minimum = 0, maximum = 2 ** 31) =>
  Type.Integer({ description, default: def, minimum, maximum });
const Bool = (description: string, def: boolean) => Type.Boolean({ description, default: def });
const Optional = (description: string) => Type.Optional(Type.String({ minLength: 1, description }));

/** Every variable the processes read. Keys are the environment names so they can be grepped end to end. */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development',
  }),
  DATABASE_URL: Url('PostgreSQL connection string', 'postgres://postgres@127.0.0.1:5432/agape'),
  DATABASE_POOL_SIZE: Int('connections per process', 10, 1, 200),
  DATABASE_REPLICA_URL: Type.Optional(Url('read replica for reports, exports and audit reads; unset: the primary')),
  REPLICA_MAX_LAG_SECONDS: Type.Number({ default: 60, minimum: 0, maximum: 86_400, description: 'a replica further behind than this is skipped for the primary' }),
  SHOP_TIMEZONE: Type.String({ default: 'Africa/Lagos', minLength: 1, description: 'IANA time zone of report days and schedules' }),
  REDIS_URL: Url('Redis (queues, rate limits, cache, pub/sub)', 'redis://127.0.0.1:6379'),
  PORT: Int('API port', 3000, 0, 65535),
  HOST: Type.String({ default: '0.0.0.0', minLength: 1 }),
  PUBLIC_URL: Url('base for links in emails', 'http://localhost:3000'),
  JWT_PRIVATE_KEY: Type.String({ minLength: 1, description: 'PEM, RS256 signing key' }),
  JWT_PUBLIC_KEY: Type.String({ minLength: 1, description: 'PEM, verifies access tokens' }),
  JWT_PREVIOUS_PUBLIC_KEY: Optional('PEM of the key being rotated out; still accepted and published'),
  ENCRYPTION_KEY: Type.String({ pattern: '^[0-9a-fA-F]{64}$', description: '32 bytes hex' }),
  PAYSTACK_SECRET_KEY: Optional('Paystack secret key (sk_test_… / sk_live_…)'),
  PAYSTACK_BASE_URL: Url('Paystack API base', 'https://api.paystack.co'),
  CLOUDINARY_URL: Type.Optional(Type.String({ pattern: '^cloudinary://', description: 'cloudinary://key:secret@cloud' })),
  SMTP_URL: Type.Optional(Url('SMTP server for outgoing mail')),
  MAIL_FROM: Type.String({ default: 'Agape Store <no-reply@agape.local>', minLength: 3 }),
  RESEND_API_KEY: Optional('when set, mail goes through Resend'),
  RESEND_BASE_URL: Url('Resend API base', 'https://api.resend.com'),
  CURRENCY: Type.String({ pattern: '^[A-Z]{3}$', default: 'NGN' }),
  VAT_RATE: Type.Number({ minimum: 0, maximum: 1, default: 0.075 }),
  RESERVATION_TTL_MINUTES: Int('minutes an unpaid order holds stock', 15, 1, 10080),
  QUEUE_PREFIX: Type.String({ pattern: '^\\{[A-Za-z0-9_:-]+\\}$', default: '{agape}', description: 'BullMQ prefix, a Redis Cluster hash tag' }),
  WORKER_PORT: Int('worker health/metrics port', 3001, 0, 65535),
  WORKER_QUEUES: Type.String({
    default: 'all',
    description: "queues this worker process runs: 'all', or comma-separated groups (mail, invoices, payments, scheduled) and queue names",
  }),
  ADMIN_EMAIL: Type.Optional(Type.String({ format: 'email' })),
  ADMIN_PASSWORD: Optional('first admin password (seed)'),
  RATE_LIMIT_ALLOWLIST: Type.String({ default: '', description: 'comma-separated addresses exempt from rate limits' }),
  MAX_OPEN_ORDERS_PER_CLIENT: Int('unpaid orders one client address or email may hold at once', 5, 1, 10_000),
  CREDIT_MANAGER_LIMIT: Int('largest store-credit grant or debit a manager may make, kobo (admins: no limit)', 5_000_000, 0, Number.MAX_SAFE_INTEGER),
  ORDER_LINK_TTL_DAYS: Int('life of the signed order links in guests’ mail', 90, 1, 3650),
  TRUST_PROXY: Type.String({ default: 'off', description: "'off', or comma-separated proxy addresses/CIDRs" }),
  CORS_ORIGINS: Type.String({ default: '', description: "comma-separated allowed origins; '*' for any" }),
  BODY_LIMIT_BYTES: Int('JSON body limit', 1_048_576, 1024, 100 * 1024 * 1024),
  MEDIA_DIR: Type.String({ default: 'media', minLength: 1, description: 'local media storage folder' }),
  MEDIA_URL_TTL_SECONDS: Int('life of the signed media-host URLs the API redirects private files (invoices) to', 300, 10, 86_400),
  REVIEW_MODERATION: Type.Union([Type.Literal('pre'), Type.Literal('post')], {
    default: 'pre',
    description: "reviews: 'pre' holds new and edited reviews for a moderator, 'post' publishes first and moderates after",
  }),
  REVIEW_REPORT_THRESHOLD: Int('distinct reporters that hide a published review until a moderator looks', 3, 1, 1000),
  RECS_WINDOW_DAYS: Int('days of paid orders the bought-together recommendations learn from', 180, 1, 3650),
  CATALOG_CACHE: Bool('serve catalog lists and details from Redis (off: benchmarks of the uncached path)', true),
  SHOP_NAME: Type.String({ default: 'Agape Fashion', minLength: 1 }),
  SHOP_ADDRESS: Type.String({ default: '12 Broad Street, Lagos Island, Lagos, Nigeria' }),
  REFUND_POLL_MS: Int('first wait before polling an unsettled refund at Paystack (doubles per poll)', 60_000, 10, 86_400_000),
  PAYSTACK_TIMEOUT_MS: Int('how long one Paystack API call may take before it is given up (a timeout)', 10_000, 100, 120_000),
  REFUND_RECREATE_AFTER_MS: Int('after a create-refund call with no answer, wait this long for that refund to show at Paystack before creating it again', 60_000, 0, 86_400_000),
  PAYSTACK_RETRY_HOURS: Type.Number({ default: 24, minimum: 0.001, maximum: 720, description: 'jobs that call Paystack keep retrying this long' }),
  PAYSTACK_RETRY_MAX_DELAY_MS: Int('longest wait between retries of a job that calls Paystack (doubles from 2 s up to this)', 60_000, 10, 3_600_000),
  PAYMENT_SWEEP_MS: Int('interval of the payments sweep (re-drives stuck refunds, unverified payments, unhandled webhooks)', 60_000, 100, 3_600_000),
  PAYMENT_STUCK_MINUTES: Type.Number({ default: 60, minimum: 0.001, maximum: 10080, description: 'a refund or payment stuck this long is reported to staff' }),
  PAYMENT_HOLD_MINUTES: Type.Number({
    default: 120,
    minimum: 0,
    maximum: 10080,
    description: 'past its reservation, an unpaid order whose payment Paystack cannot confirm keeps its stock at most this long',
  }),
  WS_AUTH_TIMEOUT_MS: Int('websocket: close sockets not authenticated within this time', 5_000, 10, 600_000),
  WS_HEARTBEAT_MS: Int('websocket: ping interval; a socket that misses a pong is closed', 30_000, 10, 600_000),
  WS_MAX_BUFFERED_BYTES: Int('websocket: drop a client whose unsent data exceeds this', 1_048_576, 1024),
  SUPPORT_AUTO_ASSIGN: Bool('assign a new conversation to the least-loaded support agent', true),
  SUPPORT_SELF_APPROVAL: Bool('an approver may approve their own emailed reply (off: four eyes)', false),
  FCM_SERVICE_ACCOUNT: Optional('Google service account JSON (or a path to it) for FCM HTTP v1 push; unset: pushes are logged'),
  FCM_BASE_URL: Url('FCM API base', 'https://fcm.googleapis.com'),
  RETURN_WINDOW_DAYS: Int('days after delivery within which a customer may ask to return units', 7, 0, 3650),
  RETURN_SHIP_DAYS: Int('days an approved return may take to arrive before it expires (an exchange hold is released)', 14, 1, 3650),
  NOTIFICATION_RETENTION_DAYS: Int('in-app notifications older than this are deleted', 90, 1, 3650),
  CART_TTL_DAYS: Int('a guest cart untouched this long is deleted', 30, 1, 3650),
  ABANDONED_CART_HOURS: Type.Number({ default: 24, minimum: 0.001, maximum: 8760, description: "a signed-in customer's cart with items and no checkout this long gets one reminder" }),
  LOCKOUT_THRESHOLD: Int('failed logins in a row before lockout', 5, 1, 100),
  LOCKOUT_MINUTES: Type.Number({ default: 15, minimum: 0.001, maximum: 1440 }),
  REFRESH_REUSE_GRACE_SECONDS: Int('a spent refresh token presented this soon after its rotation answers the same new pair (0: never)', 10, 0, 300),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  LOG_PRETTY: Bool('human-readable logs (pino-pretty); development only', false),
});

export type Config = Readonly<Static<typeof ConfigSchema>>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const devSecretsFile = () => `${repoRoot}.dev-secrets.json`;

interface DevSecrets {
  JWT_PRIVATE_KEY: string;
  JWT_PUBLIC_KEY: string;
  ENCRYPTION_KEY: string;
}

/**
 * Development and tests get a key pair and an encryption key generated once and kept in a git-ignored
 * file, so tokens survive restarts. Written via rename so parallel test processes never read half a file.
 */
function devSecrets(file = devSecretsFile()): DevSecrets {
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const secrets: DevSecrets = {
    JWT_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    JWT_PUBLIC_KEY: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
  };
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  renameSync(tmp, file);
  return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
}

/** PEM values arrive from .env files and orchestrators with literal "\n"; accept both forms. */
const unescapePem = (v: string | undefined) => (v?.includes('\\n') ? v.replace(/\\n/g, '\n') : v);

/** The JWT keys must parse as RSA PEMs and the public key must belong to the private one. */
function keyProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const rsa = (name: string, parse: (pem: string) => ReturnType<typeof createPublicKey>) => {
    const pem = raw[name];
    if (typeof pem !== 'string') return undefined;
    try {
      const key = parse(pem);
      if (key.asymmetricKeyType === 'rsa') return key;
      problems.push(`${name}: must be an RSA key (RS256)`);
    } catch {
      problems.push(`${name}: is not a readable PEM key`);
    }
    return undefined;
  };
  const privateKey = rsa('JWT_PRIVATE_KEY', (pem) => createPrivateKey(pem));
  const publicKey = rsa('JWT_PUBLIC_KEY', (pem) => createPublicKey(pem));
  rsa('JWT_PREVIOUS_PUBLIC_KEY', (pem) => createPublicKey(pem));
  if (privateKey && publicKey && createPublicKey(privateKey).export({ format: 'jwk' }).n !== publicKey.export({ format: 'jwk' }).n) {
    problems.push('JWT_PUBLIC_KEY: does not belong to JWT_PRIVATE_KEY');
  }
  return problems;
}

function validTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(ConfigSchema.properties)) {
    const value = env[key];
    if (value !== undefined && value !== '') raw[key] = value;
  }
  // An explicitly empty allow-list is still a value.
  if (env.RATE_LIMIT_ALLOWLIST === '') raw.RATE_LIMIT_ALLOWLIST = '';
  for (const k of ['JWT_PRIVATE_KEY', 'JWT_PUBLIC_KEY', 'JWT_PREVIOUS_PUBLIC_KEY']) {
    if (raw[k] !== undefined) raw[k] = unescapePem(raw[k] as string);
  }

  const production = (raw.NODE_ENV ?? 'development') === 'production';
  const problems: string[] = [];
  if (!production) {
    const missing = ['JWT_PRIVATE_KEY', 'JWT_PUBLIC_KEY', 'ENCRYPTION_KEY'].filter((k) => raw[k] === undefined);
    if (missing.length) {
      const generated = devSecrets();
      for (const k of missing) raw[k] = generated[k as keyof DevSecrets];
    }
  }

  Value.Default(ConfigSchema, raw);
  Value.Convert(ConfigSchema, raw);
  // One variable at a time, so every problem is named: a whole-object check stops at TypeBox's
  // maxErrors (8), and one bad union value (NODE_ENV, LOG_LEVEL) alone fills that.
  const required = new Set<string>(ConfigSchema.required ?? []);
  for (const [name, schema] of Object.entries(ConfigSchema.properties as Record<string, TSchema>)) {
    const value = raw[name];
    if (value === undefined) {
      if (required.has(name)) problems.push(`${name}: is required`);
      continue;
    }
    if (Value.Check(schema, value)) continue;
    const choices = (schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const);
    problems.push(`${name}: ${choices ? `must be one of ${JSON.stringify(choices)}` : (Value.Errors(schema, value)[0]?.message ?? 'is invalid')}`);
  }
  problems.push(...keyProblems(raw));
  if (typeof raw.WORKER_QUEUES === 'string') {
    try {
      resolveWorkerQueues(raw.WORKER_QUEUES);
    } catch (err) {
      problems.push(`WORKER_QUEUES: ${(err as Error).message}`);
    }
  }
  if (typeof raw.SHOP_TIMEZONE === 'string' && !validTimeZone(raw.SHOP_TIMEZONE)) {
    problems.push('SHOP_TIMEZONE: is not an IANA time zone (e.g. Africa/Lagos)');
  }
  if (production && raw.LOG_PRETTY === true) problems.push('LOG_PRETTY: not allowed in production');
  if (problems.length) throw new ConfigError(problems);
  return Object.freeze(raw) as Config;
}

/** Comma-separated config values (allow-lists, origins) as a clean array. */
export const listOf = (value: string) =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** For entrypoints: load the config or print every problem in one message and exit. */
export function loadConfigOrExit(env: Record<string, string | undefined> = process.env): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
