import { Type } from 'typebox';
import { defineTemplate } from '../define.js';
import { button, html, paragraph } from '../html.js';

/** To managers when a variant crosses its low-stock threshold downwards (shared/inventory/alerts.ts). */
export default defineTemplate({
  schema: Type.Object({
    variantId: Type.String(),
    productId: Type.Optional(Type.Union([Type.String(), Type.Null()])),
    sku: Type.String(),
    productTitle: Type.String(),
    variantTitle: Type.String(),
    onHand: Type.Integer(),
    reserved: Type.Integer(),
    available: Type.Integer(),
    threshold: Type.Integer(),
    inventoryUrl: Type.Optional(Type.String()),
  }),
  subject: (d) => `[Low stock] ${d.sku}: ${d.available} left`,
  html: (d) =>
    html`${paragraph(`${d.productTitle}${d.variantTitle ? ` – ${d.variantTitle}` : ''} (SKU ${d.sku}) is running low.`)}
    ${paragraph(`Available: ${d.available} (on hand ${d.onHand}, reserved ${d.reserved}); alert threshold ${d.threshold}.`)}
    ${d.inventoryUrl ? button(d.inventoryUrl, 'Restock in admin') : ''}`,
  text: (d) =>
    [
      `${d.productTitle}${d.variantTitle ? ` – ${d.variantTitle}` : ''} (SKU ${d.sku}) is running low.`,
      `Available: ${d.available} (on hand ${d.onHand}, reserved ${d.reserved}); alert threshold ${d.threshold}.`,
      d.inventoryUrl ? `Restock: ${d.inventoryUrl}` : '',
    ]
      .filter(Boolean)
      .join('\n'),
});
