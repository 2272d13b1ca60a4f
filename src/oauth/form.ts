import type { Context } from "hono";
import { BodyTooLargeError, readBodyCapped } from "../web/body.js";
import { isStorableText } from "../web/text.js";
import { OAuthError } from "./errors.js";

export const MAX_FORM_BYTES = 64 * 1024;

/**
 * Reads an `application/x-www-form-urlencoded` body (OAuth 2.1 §3.2).
 * Repeated parameters are refused (§3.1, §3.2); empty values count as absent.
 */
export async function readForm(c: Context): Promise<Map<string, string>> {
  const type = c.req.header("content-type") ?? "";
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded.");
  }
  const raw = await readBodyCapped(c.req.raw, MAX_FORM_BYTES).catch((error: unknown) => {
    if (error instanceof BodyTooLargeError) throw new OAuthError("invalid_request", "The request body is too large.");
    throw error;
  });
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch {
    throw new OAuthError("invalid_request", "The request body is not valid UTF-8.");
  }
  const form = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(text)) {
    if (!isStorableText(name) || !isStorableText(value)) {
      throw new OAuthError("invalid_request", "The request contains characters that are not allowed (NUL or invalid Unicode).");
    }
    if (form.has(name)) throw new OAuthError("invalid_request", `The ${name.slice(0, 40)} parameter is repeated.`);
    form.set(name, value);
  }
  for (const [name, value] of form) if (value === "") form.delete(name);
  return form;
}
