import pino, { type LoggerOptions } from 'pino';
import type { Config } from './config.js';

/**
 * Paths never written to a log line: credentials, tokens, secrets, password hashes. The same list
 * serves the API (request logs) and the worker (job logs).
 */
export const redactPaths = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-cart-token"]',
  'req.headers["x-paystack-signature"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.newPassword',
  '*.passwordHash',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.tokenHash',
  '*.secret',
  '*.totp',
  '*.totpSecret',
  '*.totpSecretEnc',
  '*.recoveryCodes',
  'password',
  'passwordHash',
  'token',
  'accessToken',
  'refreshToken',
  'secret',
];

export function loggerOptions(config: Pick<Config, 'LOG_LEVEL' | 'LOG_PRETTY'>, name: string): LoggerOptions {
  return {
    name,
    level: config.LOG_LEVEL,
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...(config.LOG_PRETTY
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
}

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_PRETTY'>, name: string) {
  return pino(loggerOptions(config, name));
}
export type Logger = pino.Logger;
