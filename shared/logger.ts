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

/** Query parameters whose values never reach a log line (signed order links, reset tokens, signatures). */
const SECRET_PARAM = /token|secret|signature|password|^sig$|^key$/i;

/** A request URL with the values of secret-looking query parameters replaced by `[redacted]`. */
function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name = pair.slice(0, eq);
      try {
        name = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // a malformed escape: judge the raw name
      }
      return SECRET_PARAM.test(name) ? `${pair.slice(0, eq)}=[redacted]` : pair;
    })
    .join('&');
  return `${url.slice(0, q)}?${query}`;
}

interface LoggedRequest {
  method: string;
  url: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

/**
 * Fastify's request serializer, except the URL: its query may carry a signed order link token
 * (`?token=`), which would make the log a key to customers' orders.
 */
export const logSerializers = {
  req: (req: LoggedRequest) => ({
    method: req.method,
    url: redactUrl(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  }),
};

export function loggerOptions(config: Pick<Config, 'LOG_LEVEL' | 'LOG_PRETTY'>, name: string): LoggerOptions {
  return {
    name,
    level: config.LOG_LEVEL,
    redact: { paths: redactPaths, censor: '[redacted]' },
    serializers: logSerializers,
    ...(config.LOG_PRETTY
      ? { transport: { target: 'pino-pretty', options: { translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } }
      : {}),
  };
}

export function createLogger(config: Pick<Config, 'LOG_LEVEL' | 'LOG_PRETTY'>, name: string) {
  return pino(loggerOptions(config, name));
}
export type Logger = pino.Logger;
