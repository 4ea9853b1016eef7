import { sql, type Kysely } from 'kysely';

/**
 * - `users.token_generation`: access tokens carry the generation they were issued under; disabling a user,
 *   changing the role or resetting the password bumps it, so every earlier token stops and a token issued
 *   after the change (read in the same snapshot as the role) works at once, whatever the clock says.
 * - `refresh_tokens.successor_enc`: the pair a rotation answered, sealed with a key derived from the spent
 *   token itself, so a second tab presenting the same token within the reuse grace gets the same pair
 *   (nobody without the spent token can open it; no token is stored in clear).
 * - `user_tokens.job_id`: the job that issued a reset token, so a retried job issues and mails it once.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE users ADD COLUMN token_generation integer NOT NULL DEFAULT 0;
    ALTER TABLE refresh_tokens ADD COLUMN successor_enc text;
    ALTER TABLE user_tokens ADD COLUMN job_id text;
    CREATE UNIQUE INDEX user_tokens_job_idx ON user_tokens (job_id) WHERE job_id IS NOT NULL;
  `.execute(db);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP INDEX user_tokens_job_idx;
    ALTER TABLE user_tokens DROP COLUMN job_id;
    ALTER TABLE refresh_tokens DROP COLUMN successor_enc;
    ALTER TABLE users DROP COLUMN token_generation;
  `.execute(db);
}
