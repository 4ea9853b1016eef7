import type { Static, TObject } from 'typebox';
import type { SafeHtml } from './html.js';

/** What every template sees besides its own data: the layout's values. */
export interface MailContext {
  shopName: string;
  publicUrl: string;
}

export interface MailTemplate<S extends TObject = TObject> {
  /** The data the template needs; checked before rendering (a bad payload fails the job for good). */
  schema: S;
  subject: (data: Static<S>, ctx: MailContext) => string;
  /** The body inside the layout; interpolate with `html` so values are escaped. */
  html: (data: Static<S>, ctx: MailContext) => SafeHtml;
  /** The plain-text alternative. */
  text: (data: Static<S>, ctx: MailContext) => string;
}

/** Identity function that ties a template's data type to its schema. */
export const defineTemplate = <S extends TObject>(template: MailTemplate<S>): MailTemplate<S> => template;
