/**
 * One-time links: `/setup?token=…` creates the first account, or sets the
 * password of an account made without one. The token is stored only as a
 * hash and taken atomically, so it works once.
 */
import { randomToken, sha256Hex } from "../crypto.js";
import type { KvStore } from "../storage/kv/kv.js";

export type SetupPurpose = { kind: "first-account" } | { kind: "set-password"; userId: string };

export const SETUP_LINK_TTL_MS = 24 * 60 * 60 * 1000;
const keyOf = (token: string) => `account:setup:${sha256Hex(token)}`;

/** `consoleUrl`: the public URL and the console path (console/paths.ts `consoleBaseUrl`). */
export async function issueSetupLink(kv: KvStore, consoleUrl: string, purpose: SetupPurpose): Promise<string> {
  const token = randomToken();
  await kv.set(keyOf(token), JSON.stringify(purpose), { ttlMs: SETUP_LINK_TTL_MS });
  return `${consoleUrl}/setup?token=${token}`;
}

/** Looks without taking, so the page can render before the form is sent. */
export async function peekSetupToken(kv: KvStore, token: string): Promise<SetupPurpose | null> {
  if (!token || token.length > 200) return null;
  const raw = await kv.get(keyOf(token));
  return raw ? (JSON.parse(raw) as SetupPurpose) : null;
}

/** Takes the token: of any number of concurrent callers, one gets the purpose. */
export async function redeemSetupToken(kv: KvStore, token: string): Promise<SetupPurpose | null> {
  if (!token || token.length > 200) return null;
  const raw = await kv.getDel(keyOf(token));
  return raw ? (JSON.parse(raw) as SetupPurpose) : null;
}
