import type { Static, TObject } from 'typebox';
import { Value } from 'typebox/value';
import type { Config } from '../config.js';
import { decrypt } from '../crypto.js';
import { fits } from '../schemas.js';
import type { MailContext, MailTemplate } from './define.js';
import { layoutHtml, layoutText } from './layout.js';
import { templates } from './registry.js';
import { SEALED_KEY } from './sealed.js';

export interface RenderedMail {
  subject: string;
  html: string;
  text: string;
}

/** A template or data problem: retrying cannot help, the job fails for good. */
export class MailTemplateError extends Error {
  override name = 'MailTemplateError';
}

/** Job data with its sealed part opened: what the template sees. */
export function openData(config: Pick<Config, 'ENCRYPTION_KEY'>, data: Record<string, unknown>): Record<string, unknown> {
  const { [SEALED_KEY]: sealed, ...rest } = data;
  if (typeof sealed !== 'string') return rest;
  return { ...rest, ...(JSON.parse(decrypt(config.ENCRYPTION_KEY, sealed)) as Record<string, unknown>) };
}

export function renderMail(
  config: Pick<Config, 'SHOP_NAME' | 'PUBLIC_URL' | 'ENCRYPTION_KEY'>,
  name: string,
  data: Record<string, unknown>,
): RenderedMail {
  const template = (templates as Record<string, MailTemplate | undefined>)[name];
  if (!template) throw new MailTemplateError(`unknown mail template ${name}`);
  const opened = openData(config, data);
  if (!fits(template.schema, opened)) {
    const first = Value.Errors(template.schema, opened)[0];
    throw new MailTemplateError(`data for mail template ${name} is invalid: ${first?.instancePath} ${first?.message}`);
  }
  const typed: Static<TObject> = opened;
  const ctx: MailContext = { shopName: config.SHOP_NAME, publicUrl: config.PUBLIC_URL.replace(/\/$/, '') };
  const subject = template.subject(typed, ctx);
  return {
    subject,
    html: layoutHtml(subject, template.html(typed, ctx), ctx),
    text: layoutText(template.text(typed, ctx), ctx),
  };
}
