/**
 * PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate cannot be
 * encoded as UTF-8: input carrying either is refused at the edge as a client
 * error instead of failing in the database as a 500.
 */
export function isStorableText(value: string): boolean {
  return !value.includes("\u0000") && value.isWellFormed();
}

/** True when every string anywhere inside `value` is storable. */
export function isStorableDeep(value: unknown, depth = 0): boolean {
  if (typeof value === "string") return isStorableText(value);
  if (depth > 20 || value === null || typeof value !== "object") return true;
  if (Array.isArray(value)) return value.every((item) => isStorableDeep(item, depth + 1));
  return Object.entries(value).every(([key, item]) => isStorableText(key) && isStorableDeep(item, depth + 1));
}

/**
 * Characters a name shown to people may not hold: C0 and C1 controls (with
 * DEL) and the bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
 * U+2066–U+2069). They are invisible, and a bidi override makes a name read
 * as something else where it is shown (CVE-2021-42574, "Trojan Source") — a
 * client disguising itself on the consent page, a key on /user. Joiners stay
 * allowed: emoji sequences need U+200D.
 */
const DISGUISING = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;

export function hasDisguisingCharacters(value: string): boolean {
  return DISGUISING.test(value);
}
