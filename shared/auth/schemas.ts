import { Type, type Static } from 'typebox';
import { Nullable, StringEnum, Timestamp, Uuid } from '../schemas.js';

/** Roles, least to most trusted; what each may do is shared/auth/permissions.ts. */
export const roles = ['customer', 'support', 'manager', 'admin'] as const;
export type Role = (typeof roles)[number];
export const RoleSchema = StringEnum(roles);

/** What a single-use mailed token (user_tokens) is for. */
export const userTokenPurposes = ['verify_email', 'reset_password'] as const;
export type UserTokenPurpose = (typeof userTokenPurposes)[number];

/** Why a session was ended early (sessions.revoked_reason). */
export const sessionRevokeReasons = [
  'logout',
  'revoked_by_user',
  'refresh_token_reuse',
  'password_reset',
  'disabled_by_staff',
] as const;
export type SessionRevokeReason = (typeof sessionRevokeReasons)[number];

/** The account as its owner (and staff) see it: never hashes or secrets. */
export const UserSchema = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  phone: Nullable(Type.String({ description: 'E.164' })),
  role: RoleSchema,
  emailVerified: Type.Boolean(),
  twoFactorEnabled: Type.Boolean(),
  createdAt: Timestamp,
});

export const StaffUserSchema = Type.Object({
  ...UserSchema.properties,
  disabled: Type.Boolean(),
  lockedUntil: Nullable(Timestamp),
});

export const TokenPair = Type.Object({
  accessToken: Type.String(),
  refreshToken: Type.String(),
  expiresIn: Type.Integer({ description: 'seconds until the access token expires' }),
});

export const AuthResult = Type.Object({ user: UserSchema, ...TokenPair.properties });

export const Accepted = Type.Object({ status: Type.Literal('accepted') });

/** Emails are trimmed and lower-cased by the domain; the schema only bounds them. */
export const Email = Type.String({ minLength: 3, maxLength: 320 });
/** Length rules beyond the bounds are the domain's (so the error names the policy). */
export const Password = Type.String({ minLength: 1, maxLength: 1024 });

export type UserView = Static<typeof UserSchema>;
export type StaffUserView = Static<typeof StaffUserSchema>;
