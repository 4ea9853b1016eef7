import { Type, type Static } from 'typebox';

/** The address book holds at most this many addresses per customer. */
export const ADDRESS_BOOK_LIMIT = 20;

const Uuid = Type.String({ format: 'uuid' });
const Timestamp = Type.String({ format: 'date-time' });
const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const addressFields = {
  label: Type.Optional(
    Nullable(Type.String({ minLength: 1, maxLength: 50, description: 'e.g. Home, Office' })),
  ),
  name: Type.String({ minLength: 1, maxLength: 200 }),
  line1: Type.String({ minLength: 1, maxLength: 200 }),
  line2: Type.Optional(Nullable(Type.String({ maxLength: 200 }))),
  city: Type.String({ minLength: 1, maxLength: 100 }),
  state: Type.String({ minLength: 1, maxLength: 100 }),
  country: Type.String({ pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2' }),
  postalCode: Type.Optional(Nullable(Type.String({ maxLength: 20 }))),
  phone: Type.String({
    minLength: 5,
    maxLength: 30,
    description: 'E.164, or a Nigerian number in local form (stored as E.164)',
  }),
  isDefault: Type.Optional(
    Type.Boolean({ description: 'make it the default (the first address always is)' }),
  ),
};

export const AddressInput = Type.Object(
  {
    ...addressFields,
    country: Type.String({ pattern: '^[A-Z]{2}$', default: 'NG', description: 'ISO 3166-1 alpha-2' }),
  },
  { additionalProperties: false },
);
export type AddressInput = Static<typeof AddressInput>;

// No defaults here: a PATCH changes only what it names.
export const AddressPatch = Type.Partial(Type.Object(addressFields), {
  additionalProperties: false,
  minProperties: 1,
});
export type AddressPatch = Static<typeof AddressPatch>;

export const SavedAddress = Type.Object({
  id: Uuid,
  label: Nullable(Type.String()),
  name: Type.String(),
  line1: Type.String(),
  line2: Nullable(Type.String()),
  city: Type.String(),
  state: Type.String(),
  country: Type.String(),
  postalCode: Nullable(Type.String()),
  phone: Type.String(),
  isDefault: Type.Boolean(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type SavedAddress = Static<typeof SavedAddress>;

export const ProfilePatch = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    phone: Type.Optional(
      Nullable(
        Type.String({
          minLength: 1,
          maxLength: 30,
          description: 'E.164, or a Nigerian number in local form; null removes it',
        }),
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProfilePatch = Static<typeof ProfilePatch>;
