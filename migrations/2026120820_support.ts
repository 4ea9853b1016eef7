import { sql, type Kysely } from 'kysely';

/**
 * The support inbox, its approval workflow, in-app notifications and push devices.
 *
 * - `support_conversations.last_seq`: the per-conversation message counter. A message takes the next
 *   value by updating this row (`last_seq = last_seq + 1 RETURNING`), so writers of one conversation queue
 *   on its row and `seq` is gap-free and one order for every reader; other conversations are not held.
 * - `assign_version` grows on every change of assignee: socket notices carry it, so a hub drops an event
 *   computed before a reassignment that it learned of already (the old agent sees nothing after).
 * - `support_replies.submitted_body`: the body frozen at submit; the mail carries exactly it.
 * - `notifications (event_key, user_id)` unique: one notification per event and recipient whatever the
 *   retries; the fan-out enqueues mail and push only for the row it inserted.
 * - `devices.session_id` cascades, and a trigger deletes a session's devices when it is revoked: a push
 *   token dies with its session whichever code path ends it.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE SEQUENCE support_conversation_number_seq;

    CREATE TABLE support_conversations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      number text NOT NULL UNIQUE DEFAULT ('SUP-' || lpad(nextval('support_conversation_number_seq')::text, 6, '0')),
      customer_id uuid NOT NULL REFERENCES users(id),
      order_id uuid REFERENCES orders(id),
      subject text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
      status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'closed')),
      assignee_id uuid REFERENCES users(id),
      assign_version integer NOT NULL DEFAULT 0,
      last_seq integer NOT NULL DEFAULT 0,
      last_message_at timestamptz NOT NULL DEFAULT now(),
      resolved_at timestamptz,
      closed_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
    );
    CREATE INDEX support_conversations_customer ON support_conversations (customer_id, last_message_at DESC, id DESC);
    CREATE INDEX support_conversations_assignee ON support_conversations (assignee_id, status) WHERE status <> 'closed';
    CREATE INDEX support_conversations_recent ON support_conversations (last_message_at DESC, id DESC);
    CREATE INDEX support_conversations_resolved ON support_conversations (resolved_at) WHERE status = 'resolved';

    CREATE TABLE support_messages (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      conversation_id uuid NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
      seq integer NOT NULL CHECK (seq > 0),
      author_id uuid NOT NULL REFERENCES users(id),
      kind text NOT NULL CHECK (kind IN ('message', 'note')),
      body text NOT NULL CHECK (length(body) BETWEEN 1 AND 10000),
      reply_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (conversation_id, seq)
    );
    CREATE UNIQUE INDEX support_messages_reply ON support_messages (reply_id) WHERE reply_id IS NOT NULL;

    CREATE TABLE support_reads (
      conversation_id uuid NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users(id),
      seq integer NOT NULL DEFAULT 0,
      PRIMARY KEY (conversation_id, user_id)
    );

    CREATE TABLE support_replies (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      conversation_id uuid NOT NULL REFERENCES support_conversations(id) ON DELETE CASCADE,
      author_id uuid NOT NULL REFERENCES users(id),
      status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'pending_approval', 'approved', 'sent', 'rejected')),
      body text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
      submitted_body text,
      version integer NOT NULL DEFAULT 1,
      rejection_note text,
      submitted_at timestamptz,
      decided_by uuid REFERENCES users(id),
      decided_at timestamptz,
      sent_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (status IN ('draft', 'rejected') OR submitted_body IS NOT NULL)
    );
    CREATE INDEX support_replies_status ON support_replies (status, created_at DESC, id DESC);
    ALTER TABLE support_messages ADD FOREIGN KEY (reply_id) REFERENCES support_replies(id);

    CREATE TABLE support_attachments (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      uploader_id uuid NOT NULL REFERENCES users(id),
      conversation_id uuid REFERENCES support_conversations(id) ON DELETE CASCADE,
      message_id uuid REFERENCES support_messages(id) ON DELETE CASCADE,
      key text NOT NULL UNIQUE,
      mime text NOT NULL,
      size integer NOT NULL,
      filename text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      CHECK ((conversation_id IS NULL) = (message_id IS NULL))
    );
    CREATE INDEX support_attachments_message ON support_attachments (message_id);
    CREATE INDEX support_attachments_unattached ON support_attachments (created_at) WHERE message_id IS NULL;

    CREATE TABLE notifications (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      event_key text NOT NULL,
      kind text NOT NULL,
      title text NOT NULL,
      body text NOT NULL,
      data jsonb NOT NULL DEFAULT '{}',
      -- false when the recipient turned in-app off for this kind: the row still dedupes mail and push.
      in_app boolean NOT NULL DEFAULT true,
      read_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (event_key, user_id)
    );
    CREATE INDEX notifications_inbox ON notifications (user_id, created_at DESC, id DESC) WHERE in_app;
    CREATE INDEX notifications_unread ON notifications (user_id) WHERE in_app AND read_at IS NULL;
    CREATE INDEX notifications_created ON notifications (created_at);

    CREATE TABLE notification_preferences (
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      kind text NOT NULL,
      email boolean NOT NULL DEFAULT true,
      push boolean NOT NULL DEFAULT true,
      in_app boolean NOT NULL DEFAULT true,
      PRIMARY KEY (user_id, kind)
    );

    CREATE TABLE devices (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      session_id uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
      token text NOT NULL UNIQUE CHECK (length(token) BETWEEN 8 AND 4096),
      platform text NOT NULL CHECK (platform IN ('android', 'ios', 'web')),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX devices_user ON devices (user_id);
    CREATE INDEX devices_session ON devices (session_id);

    CREATE FUNCTION devices_die_with_session() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      DELETE FROM devices WHERE session_id = NEW.id;
      RETURN NEW;
    END $$;
    CREATE TRIGGER sessions_revoked_devices AFTER UPDATE OF revoked_at ON sessions
      FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
      EXECUTE FUNCTION devices_die_with_session();

    -- One push per (notification, device) whatever the retries of the push job.
    CREATE TABLE push_deliveries (
      notification_id uuid NOT NULL REFERENCES notifications(id) ON DELETE CASCADE,
      device_id uuid NOT NULL,
      sent_at timestamptz NOT NULL DEFAULT now(),
      provider_id text,
      PRIMARY KEY (notification_id, device_id)
    );
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS push_deliveries;
    DROP TRIGGER IF EXISTS sessions_revoked_devices ON sessions;
    DROP FUNCTION IF EXISTS devices_die_with_session();
    DROP TABLE IF EXISTS devices;
    DROP TABLE IF EXISTS notification_preferences;
    DROP TABLE IF EXISTS notifications;
    DROP TABLE IF EXISTS support_attachments;
    ALTER TABLE IF EXISTS support_messages DROP CONSTRAINT IF EXISTS support_messages_reply_id_fkey;
    DROP TABLE IF EXISTS support_replies;
    DROP TABLE IF EXISTS support_reads;
    DROP TABLE IF EXISTS support_messages;
    DROP TABLE IF EXISTS support_conversations;
    DROP SEQUENCE IF EXISTS support_conversation_number_seq;
  `.execute(db);
}
