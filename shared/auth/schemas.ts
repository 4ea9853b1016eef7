import { StringEnum } from '../schemas.js';

/** Roles, least to most trusted; what each may do is shared/auth/permissions.ts. */
export const roles = ['customer', 'support', 'manager', 'admin'] as const;
export type Role = (typeof roles)[number];
export const RoleSchema = StringEnum(roles);

/** What a single-use mailed token (user_tokens) is for. */
export const userTokenPurposes = ['verify_email', 'reset_password'] as const;
export type UserTokenPurpose = (typeof userTokenPurposes)[number];

/** Why a session was ended early (sessions.revoked_reason). */
export const sessionRevokeReasons = ['logout', 'revoked_by_user', 'refresh_token_reuse', 'password_reset', 'disabled_by_staff'] as const;
export type SessionRevokeReason = (typeof sessionRevokeReasons)[number];
