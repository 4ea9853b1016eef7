import { Type } from 'typebox';
import { Timestamp, Uuid } from '../../schemas.js';
import { RoleSchema } from '../../../shared/auth/schemas.js';

export { RoleSchema };


export const UserSchema = Type.Object({
  id: Uuid,
  email: Type.String(),
  name: Type.String(),
  role: RoleSchema,
  emailVerified: Type.Boolean(),
  twoFactorEnabled: Type.Boolean(),
  createdAt: Timestamp,
});

export const StaffUserSchema = Type.Object({
  ...UserSchema.properties,
  disabled: Type.Boolean(),
  lockedUntil: Type.Union([Timestamp, Type.Null()]),
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
