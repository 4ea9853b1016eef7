import { sql, type Kysely } from 'kysely';

/**
 * GET /me is answered from each API process's memory (shared/auth/profile-cache.ts): every change to a user
 * row, whoever makes it (the API's identity and customer routes, the worker, a script), tells every process
 * on commit: NOTIFY user_changed '<id>' (old and new id if it moved), and '' after a TRUNCATE (drop all).
 * Every UPDATE counts, not only of the columns /me shows today: a column added to the view later cannot be
 * missed (and no WHEN comparing whole rows, which a column type without equality, e.g. json, would break).
 * The extra notifications (a sign-in resetting its failure count) cost each process one dropped entry.
 * Several for one row in one transaction arrive once. Notifications are transactional: sent on commit only.
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
      FOR EACH ROW EXECUTE FUNCTION users_notify_changed();
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
