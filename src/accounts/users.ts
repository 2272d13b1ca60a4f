/** Console accounts: email + scrypt password hash. */
import { randomUUID } from "node:crypto";
import { asc, count, eq } from "drizzle-orm";
import { z } from "zod";
import { hashPassword } from "../crypto.js";
import { ApiError } from "../errors.js";
import type { Db } from "../storage/db.js";
import { users } from "../storage/schema.js";

export interface User {
  id: string;
  email: string;
  createdAt: Date;
  hasPassword: boolean;
}

const emailSchema = z.string().trim().toLowerCase().max(254).pipe(z.email());
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export function normalizeEmail(raw: string): string {
  const parsed = emailSchema.safeParse(raw);
  if (!parsed.success) throw new ApiError(400, "invalid_email", "That is not a valid email address.");
  return parsed.data;
}

export function checkPassword(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new ApiError(400, "weak_password", `The password must have at least ${MIN_PASSWORD_LENGTH} characters.`);
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    throw new ApiError(400, "invalid_password", `The password must have at most ${MAX_PASSWORD_LENGTH} characters.`);
  }
}

function toUser(row: typeof users.$inferSelect): User {
  return { id: row.id, email: row.email, createdAt: row.createdAt, hasPassword: row.passwordHash !== null };
}

export async function createUser(db: Db, input: { email: string; password?: string }): Promise<User> {
  const email = normalizeEmail(input.email);
  if (input.password !== undefined) checkPassword(input.password);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const rows = await db
    .insert(users)
    .values({ id: randomUUID(), email, passwordHash })
    .onConflictDoNothing({ target: users.email })
    .returning();
  const row = rows[0];
  if (!row) throw new ApiError(409, "email_taken", `An account for ${email} already exists.`);
  return toUser(row);
}

export async function setPassword(db: Db, userId: string, password: string): Promise<void> {
  checkPassword(password);
  const rows = await db
    .update(users)
    .set({ passwordHash: await hashPassword(password) })
    .where(eq(users.id, userId))
    .returning({ id: users.id });
  if (rows.length === 0) throw new ApiError(404, "user_not_found", "No such account.");
}

export async function listUsers(db: Db): Promise<User[]> {
  return (await db.select().from(users).orderBy(asc(users.createdAt), asc(users.email))).map(toUser);
}

export async function countUsers(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(users);
  return row?.n ?? 0;
}

export async function findUserByEmail(db: Db, email: string): Promise<(User & { passwordHash: string | null }) | null> {
  const parsed = emailSchema.safeParse(email);
  if (!parsed.success) return null;
  const [row] = await db.select().from(users).where(eq(users.email, parsed.data));
  return row ? { ...toUser(row), passwordHash: row.passwordHash } : null;
}

export async function findUserById(db: Db, id: string): Promise<User | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row ? toUser(row) : null;
}

/** Removes the account; its keys, connections, access tokens and sessions go with it (foreign keys cascade). */
export async function removeUser(db: Db, email: string): Promise<User> {
  const rows = await db.delete(users).where(eq(users.email, normalizeEmail(email))).returning();
  const row = rows[0];
  if (!row) throw new ApiError(404, "user_not_found", `No account for ${email.trim()}.`);
  return toUser(row);
}
