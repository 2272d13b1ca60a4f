/**
 * One algorithm's signing keys as stored in `gateway:signing-key:<alg>`, and
 * the rules of rotation (README "Identity tokens for HTTP upstreams"). Every
 * state is a function of the stored timestamps and the clock, never of when a
 * node loaded the set: nodes that hold the same set switch keys at the same
 * instant, whenever they last reloaded.
 *
 * A rotation publishes the new key at once and signs with it only after
 * PUBLISH_DELAY_MS, so a verifier that cached the JWKS (max-age 300) before
 * the new key appeared has refetched it before it meets the new `kid`. The
 * key it replaces stays published until RETIRE_DELAY_MS after the switch: the
 * longest-lived token it signed (ttlSeconds at most 3600) has expired by then.
 */
import type { JWK } from "jose";
import { ApiError } from "../errors.js";

export const JWKS_MAX_AGE_SECONDS = 300;
/** How often each node rereads the keys (besides a bus message after a rotation). */
export const SIGNING_KEY_RELOAD_MS = 60_000;
/** The JWKS cache lifetime, plus one reload: a node that missed the bus message serves the new set that late. */
export const PUBLISH_DELAY_MS = JWKS_MAX_AGE_SECONDS * 1000 + SIGNING_KEY_RELOAD_MS;
/** The longest identity token (config: ttlSeconds ≤ 3600) plus 5 minutes of clock skew between nodes and upstreams. */
export const RETIRE_DELAY_MS = (3600 + 300) * 1000;

export interface StoredKey {
  /** The private JWK, with `kid` (RFC 7638 thumbprint), `alg` and `use`. */
  jwk: JWK;
  /** Epoch ms from which it signs (until a later key's notBefore). */
  notBefore: number;
  /** Epoch ms from which it is out of the JWKS; null while nothing replaces it. */
  retireAfter: number | null;
}

export type KeyState = "next" | "current" | "previous" | "retired";

/** A set, or the bare JWK written before rotation existed (signing since always, never retired). */
export function parseKeySet(text: string): StoredKey[] {
  const parsed = JSON.parse(text) as { keys?: StoredKey[] } & JWK;
  if (Array.isArray(parsed.keys)) return parsed.keys;
  return [{ jwk: parsed as JWK, notBefore: 0, retireAfter: null }];
}

export const serializeKeySet = (keys: readonly StoredKey[]) => JSON.stringify({ keys });

/** The key that signs at `now`: the latest whose notBefore has come (the earliest if none has, as on a clock set back). */
export function currentKey(keys: readonly StoredKey[], now: number): StoredKey {
  let current: StoredKey | undefined;
  for (const key of keys) if (key.notBefore <= now && (!current || key.notBefore > current.notBefore)) current = key;
  return current ?? [...keys].sort((a, b) => a.notBefore - b.notBefore)[0]!;
}

export function stateOf(keys: readonly StoredKey[], key: StoredKey, now: number): KeyState {
  if (key === currentKey(keys, now)) return "current";
  if (key.retireAfter !== null && key.retireAfter <= now) return "retired";
  return key.notBefore > now ? "next" : "previous";
}

/** What the JWKS serves at `now`: every key but the retired ones. */
export const publishedKeys = (keys: readonly StoredKey[], now: number) => keys.filter((key) => stateOf(keys, key, now) !== "retired");

/**
 * The set after a rotation at `now` to `fresh`: retired keys dropped, the current one given its
 * retirement, the new one published now and signing after PUBLISH_DELAY_MS. A rotation still
 * waiting to take effect is refused: a third key would replace one no verifier has yet been sent.
 */
export function rotated(keys: readonly StoredKey[], fresh: JWK, now: number): StoredKey[] {
  const pending = keys.find((key) => stateOf(keys, key, now) === "next");
  if (pending) {
    const at = new Date(pending.notBefore).toISOString();
    throw new ApiError(409, "rotation_pending", `a rotation is under way: key ${pending.jwk.kid} signs from ${at}; rotate again after that`);
  }
  if (keys.length === 0) return [{ jwk: fresh, notBefore: now, retireAfter: null }];
  const notBefore = now + PUBLISH_DELAY_MS;
  const current = currentKey(keys, now);
  const kept = keys
    .filter((key) => stateOf(keys, key, now) !== "retired")
    .map((key) => (key === current ? { ...key, retireAfter: notBefore + RETIRE_DELAY_MS } : key));
  return [...kept, { jwk: fresh, notBefore, retireAfter: null }];
}
