import nodemailer from 'nodemailer';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { MailAttachment } from './attachments.js';

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  attachments: MailAttachment[];
  /** Stable per job: lets the provider (Resend's Idempotency-Key) or the receiver drop a duplicate. */
  idempotencyKey: string;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'resend' | 'log';
  /** Resolves with the provider's message id once the provider accepted the mail. */
  send(mail: OutgoingMail): Promise<string>;
  close(): void;
}

/** The transport rejected the mail for good (bad address, 4xx from the API): retrying cannot help. */
export class PermanentMailError extends Error {
  override name = 'PermanentMailError';
}

/**
 * Pooled SMTP unless SMTP_URL says otherwise (`?pool=false`, `?maxConnections=…`): a pooled transport
 * keeps its connections open and sends the next mail on one already greeted and authenticated, instead
 * of a TCP (+TLS) handshake, EHLO and AUTH per mail. 16 connections (the email queue runs twice as
 * many jobs, see worker/processors/email.ts), each reused for many mails before it is recycled.
 */
const SMTP_POOL_DEFAULTS = { pool: 'true', maxConnections: '16', maxMessages: '1000' } as const;

/** SMTP_URL with the pool defaults for the options it does not set itself. */
export function pooledSmtpUrl(url: string): string {
  const given = new URL(url).searchParams;
  const missing = Object.entries(SMTP_POOL_DEFAULTS).filter(([key]) => !given.has(key));
  if (!missing.length) return url;
  const extra = missing.map(([key, value]) => `${key}=${value}`).join('&');
  return `${url}${url.includes('?') ? (/[?&]$/.test(url) ? '' : '&') : '?'}${extra}`;
}

function smtpTransport(url: string): MailTransport {
  const transporter = nodemailer.createTransport(pooledSmtpUrl(url));
  return {
    kind: 'smtp',
    async send(mail) {
      const domain = /@([^>\s]+)/.exec(mail.from)?.[1] ?? 'agape.local';
      try {
        const info = await transporter.sendMail({
          from: mail.from,
          to: mail.to,
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          messageId: `<${mail.idempotencyKey}@${domain}>`,
          attachments: mail.attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
        });
        return info.messageId;
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        if (code && code >= 500 && code < 600) throw new PermanentMailError(`SMTP refused the mail (${code})`);
        throw err;
      }
    },
    close: () => transporter.close(),
  };
}

/** Resend's HTTP API: POST /emails with a bearer key; Idempotency-Key makes a retried send a no-op. */
function resendTransport(baseUrl: string, apiKey: string): MailTransport {
  return {
    kind: 'resend',
    async send(mail) {
      const res = await fetch(`${baseUrl.replace(/\/$/, '')}/emails`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'idempotency-key': mail.idempotencyKey,
        },
        body: JSON.stringify({
          from: mail.from,
          to: [mail.to],
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          attachments: mail.attachments.map((a) => ({
            filename: a.filename,
            content: a.content.toString('base64'),
            content_type: a.contentType,
          })),
        }),
        signal: AbortSignal.timeout(15_000),
      });
      const body = (await res.json().catch(() => ({}))) as { id?: string; message?: string };
      if (res.ok && body.id) return body.id;
      const message = `Resend answered ${res.status}: ${body.message ?? 'no message'}`;
      // 429 and 5xx are worth retrying; other 4xx (validation, bad key) are not.
      if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 409) throw new PermanentMailError(message);
      throw new Error(message);
    },
    close: () => {},
  };
}

/** Development without SMTP: the mail goes to the log (subject and text) instead of the network. */
function logTransport(log: Logger): MailTransport {
  return {
    kind: 'log',
    async send(mail) {
      log.info({ to: mail.to, subject: mail.subject, text: mail.text, attachments: mail.attachments.length }, 'mail (not sent: no SMTP_URL)');
      return `log-${mail.idempotencyKey}`;
    },
    close: () => {},
  };
}

/** Resend when RESEND_API_KEY is set, else SMTP_URL, else (outside production) the log. */
export function createMailTransport(config: Config, log: Logger): MailTransport {
  if (config.RESEND_API_KEY) return resendTransport(config.RESEND_BASE_URL, config.RESEND_API_KEY);
  if (config.SMTP_URL) return smtpTransport(config.SMTP_URL);
  if (config.NODE_ENV === 'production') {
    return {
      kind: 'log',
      send: () => Promise.reject(new Error('no mail transport: set SMTP_URL or RESEND_API_KEY')),
      close: () => {},
    };
  }
  return logTransport(log);
}
