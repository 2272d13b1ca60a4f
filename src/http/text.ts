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
