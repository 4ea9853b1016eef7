/**
 * Roles and the permissions they grant: written once, here. Routes declare the permission they need
 * (`config: { permission: 'product:write' }`) and one hook enforces it (api/plugins/auth.ts).
 */
const permissions = [
  'product:write',
  'inventory:write',
  'coupon:write',
  'shipping:write',
  'order:read:any',
  'order:write',
  'refund:create',
  'payment:reconcile',
  'user:manage',
  'queue:admin',
  'system:ping',
  'report:read',
  'report:export',
  'audit:read',
  'credit:read',
  'credit:grant',
  'review:moderate',
  'support:read',
  'support:read:any',
  'support:reply',
  'support:assign',
  'support:approve',
  'return:read',
  'return:manage',
  'customer:read',
  'customer:write',
] as const;
export type Permission = (typeof permissions)[number];

import type { Role } from './schemas.js';

export { roles, type Role } from './schemas.js';

const support: readonly Permission[] = ['order:read:any', 'credit:read', 'review:moderate', 'support:read', 'support:reply', 'return:read', 'customer:read'];
const manager: readonly Permission[] = [
  ...support,
  'product:write',
  'inventory:write',
  'coupon:write',
  'shipping:write',
  'order:write',
  'refund:create',
  'payment:reconcile',
  'report:read',
  'report:export',
  'credit:grant',
  'support:read:any',
  'support:assign',
  'support:approve',
  'return:manage',
  'customer:write',
];

const rolePermissions: Record<Role, ReadonlySet<Permission>> = {
  customer: new Set(),
  support: new Set(support),
  manager: new Set(manager),
  admin: new Set(permissions),
};

export const can = (role: Role, permission: Permission) => rolePermissions[role]?.has(permission) ?? false;
export const isStaff = (role: Role) => role !== 'customer';
