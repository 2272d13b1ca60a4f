/**
 * Console accounts: email + scrypt password hash, or an account of the
 * embedding app's sign-in (`identity_source` + `subject`, no password).
 */
import { randomUUID } from "node:crypto";
import { and, asc, count, eq } from "drizzle-orm";
import { z } from "zod";
import { hashPassword } from "../crypto.js";
import { ApiError } from "../errors.js";
import type { Db } from "../storage/db.js";
import { consoleSessions, users } from "../storage/schema.js";

export interface User {
  id: string;
  email: string;
  createdAt: Date;
  hasPassword: boolean;
  /** `admin` may use /admin and the admin actions there. */
  role: Role;
  /** A disabled account cannot sign in, authorize or use its API keys. */
  disabled: boolean;
  /** Set for an account of the embedding app's sign-in: where it comes from and the id it has there. */
  linked?: { source: string; subject: string };
}

export type Role = "admin" | "user";

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
  const user: User = {
    id: row.id,
    email: row.email,
    createdAt: row.createdAt,
    hasPassword: row.passwordHash !== null,
    role: row.role === "admin" ? "admin" : "user",
    disabled: row.disabledAt !== null,
  };
  if (row.identitySource !== null && row.subject !== null) user.linked = { source: row.identitySource, subject: row.subject };
  return user;
}

export async function createUser(db: Db, input: { email: string; password?: string; role?: Role }): Promise<User> {
  const email = normalizeEmail(input.email);
  if (input.password !== undefined) checkPassword(input.password);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
  const rows = await db
    .insert(users)
    .values({ id: randomUUID(), email, passwordHash, role: input.role ?? "user" })
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

/**
 * Disables or enables the account. Disabling also ends its console sessions
 * in the same transaction; its connections end through oauth/revocation.ts.
 */
export async function setDisabled(db: Db, email: string, disabled: boolean, now: Date): Promise<User> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(users)
      .set({ disabledAt: disabled ? now : null })
      .where(eq(users.email, normalizeEmail(email)))
      .returning();
    if (!row) throw new ApiError(404, "user_not_found", `No account for ${email.trim()}.`);
    if (disabled) await tx.delete(consoleSessions).where(eq(consoleSessions.userId, row.id));
    return toUser(row);
  });
}

/** Removes the account; its keys, connections, access tokens and sessions go with it (foreign keys cascade). */
export async function removeUser(db: Db, email: string): Promise<User> {
  const rows = await db.delete(users).where(eq(users.email, normalizeEmail(email))).returning();
  const row = rows[0];
  if (!row) throw new ApiError(404, "user_not_found", `No account for ${email.trim()}.`);
  return toUser(row);
}

/**
 * The account linked to (source, subject), created on first sight; its email
 * follows the one the source reports. Linked by the subject only: an
 * unlinked account with the same email is never taken over — that is a 409.
 */
export async function linkExternalUser(db: Db, source: string, subject: string, rawEmail: string): Promise<User> {
  const email = normalizeEmail(rawEmail);
  const bySubject = and(eq(users.identitySource, source), eq(users.subject, subject));
  for (let attempt = 0; attempt < 2; attempt++) {
    const [row] = await db.select().from(users).where(bySubject);
    if (row) {
      if (row.email === email) return toUser(row);
      const [updated] = await db
        .update(users)
        .set({ email })
        .where(bySubject)
        .returning()
        .catch((error: unknown) => {
          throw isUniqueViolation(error) ? emailTaken(email) : error;
        });
      if (updated) return toUser(updated);
      continue; // removed meanwhile: create it again
    }
    // Concurrent first sights of one subject: one insert wins, the others read its row on the next pass.
    const [created] = await db
      .insert(users)
      .values({ id: randomUUID(), email, passwordHash: null, identitySource: source, subject })
      .onConflictDoNothing()
      .returning();
    if (created) return toUser(created);
    const [winner] = await db.select().from(users).where(bySubject);
    if (winner) return toUser(winner);
    throw emailTaken(email);
  }
  throw emailTaken(email);
}

function emailTaken(email: string): ApiError {
  return new ApiError(409, "email_taken", `An account for ${email} already exists and is not linked to this sign-in.`);
}

function isUniqueViolation(error: unknown): boolean {
  for (let e = error; e && typeof e === "object"; e = (e as { cause?: unknown }).cause) {
    if ((e as { code?: unknown }).code === "23505") return true;
  }
  return false;
}
