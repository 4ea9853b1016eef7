/**
 * Where personal data lives, and what an erasure (shared/customers/erasure.ts) does with each place.
 *
 * `PERSONAL_COLUMN_PATTERNS` names the columns that can hold personal data by their name; every text or JSON
 * column of the schema whose name matches must be classified in `personalColumns` — test/customers/data-rights.test.ts
 * reads information_schema and fails for a matching column that is not here, so a new table with an
 * `email`, a `phone` or a free-text `body` cannot ship without someone deciding what erasure does with it.
 *
 *   erased        the value is replaced (a placeholder, null) on the erased person's rows
 *   deleted       the person's rows are deleted
 *   kept          personal, but kept on purpose (the reason says why)
 *   not_personal  the name matches, the content is not about a customer
 */
export type Handling = 'erased' | 'deleted' | 'kept' | 'not_personal';

export const PERSONAL_COLUMN_PATTERNS: readonly RegExp[] = [
  /email/,
  /(^|_)name$/,
  /phone/,
  /address/,
  /^line[12]$/,
  /^city$/,
  /^postal_code$/,
  /^label$/,
  /^ip$/,
  /user_agent/,
  /recipient/,
  /token/,
  /payload/,
  /response_body/,
  /^body$/,
  /^title$/,
  /subject/,
  /filename/,
  /^data$/,
  /note$/,
  /^reason$/,
  /^tags$/,
];

export const personalColumns: Record<string, { handling: Handling; why?: string }> = {
  'users.email': { handling: 'erased', why: 'replaced by erased+<id>@erased.invalid (the column is unique and required)' },
  'users.name': { handling: 'erased', why: 'replaced by "Erased customer"; reviews and messages show it as the author name' },
  'users.phone': { handling: 'erased' },
  'user_addresses.name': { handling: 'deleted' },
  'user_addresses.phone': { handling: 'deleted' },
  'user_addresses.line1': { handling: 'deleted' },
  'user_addresses.line2': { handling: 'deleted' },
  'user_addresses.city': { handling: 'deleted' },
  'user_addresses.postal_code': { handling: 'deleted' },
  'user_addresses.label': { handling: 'deleted' },
  'orders.email': { handling: 'erased', why: 'their orders and guest orders placed with their address; amounts stay' },
  'orders.customer_name': { handling: 'erased' },
  'orders.shipping_address': { handling: 'erased', why: 'replaced by a redacted address that keeps only the country' },
  'orders.client_address': { handling: 'erased' },
  'orders.shipping_method_name': { handling: 'not_personal' },
  'coupon_redemptions.email': { handling: 'erased' },
  'email_deliveries.recipient': { handling: 'erased' },
  'outbox.payload': { handling: 'erased', why: 'unsent mail jobs to them are deleted; sent ones get the placeholder address and are withdrawn from Redis' },
  'idempotency_keys.response_body': { handling: 'deleted', why: 'stored answers (checkouts) hold their address; the keys are a replay cache' },
  'sessions.ip': { handling: 'erased' },
  'sessions.user_agent': { handling: 'erased' },
  'devices.token': { handling: 'deleted' },
  'carts.token_hash': { handling: 'deleted', why: 'their cart is deleted' },
  'refresh_tokens.token_hash': { handling: 'deleted' },
  'user_tokens.token_hash': { handling: 'deleted' },
  'notifications.title': { handling: 'deleted' },
  'notifications.body': { handling: 'deleted' },
  'notifications.data': { handling: 'deleted' },
  'customer_notes.body': { handling: 'deleted', why: 'what staff wrote about the person' },
  'customer_profiles.tags': { handling: 'erased', why: 'staff labels about the person' },
  'support_attachments.filename': { handling: 'erased', why: 'of files they uploaded: a file name often carries a name' },
  'return_items.note': { handling: 'erased', why: 'what the customer wrote about the item; units and refunds stay' },
  'return_items.reason': { handling: 'not_personal', why: 'one of a fixed list' },
  'return_attachments.filename': { handling: 'erased', why: 'as support attachments' },
  'returns.note': { handling: 'kept', why: 'written by staff (the rejection note)' },
  'support_messages.body': { handling: 'kept', why: 'the conversation is the shop’s record of its answers; the contract erases the author name (users.name)' },
  'support_conversations.subject': { handling: 'kept', why: 'as the messages' },
  'support_replies.body': { handling: 'kept', why: 'written by staff' },
  'support_replies.rejection_note': { handling: 'kept', why: 'written by staff' },
  'reviews.title': { handling: 'kept', why: 'published content; the contract erases the display name (users.name)' },
  'reviews.body': { handling: 'kept', why: 'as the title' },
  'reviews.moderation_note': { handling: 'kept', why: 'written by staff' },
  'review_reports.reason': { handling: 'not_personal', why: 'one of a fixed list' },
  'webhook_events.payload': { handling: 'erased', why: 'Paystack’s customer block of their payments’ events is removed; amounts and references stay' },
  'audit_log.ip': { handling: 'kept', why: 'audit rows are immutable (trigger); staff addresses, not customers’' },
  'credit_entries.reason': { handling: 'kept', why: 'the ledger is append-only; reasons are written by staff' },
  'refunds.reason': { handling: 'kept', why: 'the payment ledger; written by staff' },
  'order_status_history.note': { handling: 'kept', why: 'written by staff about the shipment' },
  'inventory_movements.reason': { handling: 'not_personal' },
  'payment_problem_notices.subject': { handling: 'not_personal', why: 'an order or payment reference' },
  'categories.name': { handling: 'not_personal' },
  'shipping_methods.name': { handling: 'not_personal' },
  'products.title': { handling: 'not_personal' },
  'products.tags': { handling: 'not_personal' },
  'product_variants.title': { handling: 'not_personal' },
  'product_sales_rollup.title': { handling: 'not_personal' },
  'order_items.title': { handling: 'not_personal' },
  'imports.filename': { handling: 'not_personal', why: 'staff product files' },
  'kysely_migration.name': { handling: 'not_personal' },
  'outbox.name': { handling: 'not_personal', why: 'a job name' },
};

export const matchesPersonalPattern = (column: string) => PERSONAL_COLUMN_PATTERNS.some((p) => p.test(column));
