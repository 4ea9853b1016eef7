import { sql, type Kysely } from 'kysely';

/**
 * GET /me is answered from each API process's memory (shared/auth/profile-cache.ts): every change to a user
 * row, whoever makes it (the API's identity and customer routes, the worker, a script), tells every process
 * on commit: NOTIFY user_changed '<id>' (old and new id if it moved), and '' after a TRUNCATE (drop all).
 * Any real change of the row counts, not only the columns /me shows today: a column added to the view later
 * cannot be missed. A no-op UPDATE notifies nothing. Notifications are transactional: sent on commit only.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE FUNCTION users_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('user_changed', '');
        RETURN NULL;
      END IF;
      PERFORM pg_notify('user_changed', OLD.id::text);
      IF TG_OP = 'UPDATE' AND NEW.id <> OLD.id THEN PERFORM pg_notify('user_changed', NEW.id::text); END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER users_notify_upd AFTER UPDATE ON users
      FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION users_notify_changed();
    CREATE TRIGGER users_notify_del AFTER DELETE ON users
      FOR EACH ROW EXECUTE FUNCTION users_notify_changed();
    CREATE TRIGGER users_notify_truncate AFTER TRUNCATE ON users
      FOR EACH STATEMENT EXECUTE FUNCTION users_notify_changed();
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER users_notify_truncate ON users;
    DROP TRIGGER users_notify_del ON users;
    DROP TRIGGER users_notify_upd ON users;
    DROP FUNCTION users_notify_changed();
  `.execute(db);
}
