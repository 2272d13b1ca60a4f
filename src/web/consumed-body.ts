/**
 * A request body that middleware in front of Gatehouse already read —
 * Express's `express.json()` or `express.urlencoded()` — rebuilt so Gatehouse
 * can read it again, byte for byte where the bytes were kept. The stream of
 * such a request is spent; what is left is what the parser stored on it.
 */
import type { IncomingMessage } from "node:http";

/** A Node request as Express body parsers leave it (no dependency on Express). */
export interface ParsedIncoming extends IncomingMessage {
  /** What the parser made of the body (body-parser, multer, …). */
  body?: unknown;
  /** The bytes, when the host kept them (e.g. `express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })`). */
  rawBody?: unknown;
  /** Set by body-parser 1.x (Express 4) once it has read the body. */
  _body?: boolean;
}

/** True when something already read the request stream (body-parser 2 tells only by the stream's state). */
export function bodyWasConsumed(incoming: ParsedIncoming): boolean {
  return incoming._body === true || incoming.readableDidRead || incoming.readableEnded || (incoming.complete && !incoming.readable);
}

/**
 * The body to hand on: the kept bytes if any; else `req.body` as the parser
 * left it — bytes (`express.raw()`), text (`express.text()`), JSON
 * re-serialized, a form re-encoded (repeated fields repeated, extended-parser
 * objects in bracket notation). Null when none of these can stand for it
 * (multipart, or a stream read by something that kept nothing).
 */
export function rebuildBody(incoming: ParsedIncoming): Uint8Array | null {
  const { rawBody, body } = incoming;
  if (rawBody instanceof Uint8Array) return rawBody;
  if (typeof rawBody === "string") return Buffer.from(rawBody, "utf8");
  if (body instanceof Uint8Array) return body;
  if (typeof body === "string") return Buffer.from(body, "utf8");
  if (body === undefined) return null;
  const type = (incoming.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type === "application/json" || type.endsWith("+json")) return Buffer.from(JSON.stringify(body), "utf8");
  if (type === "application/x-www-form-urlencoded" && typeof body === "object" && body !== null) {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(body)) appendField(form, name, value);
    return Buffer.from(form.toString(), "utf8");
  }
  return null;
}

function appendField(form: URLSearchParams, name: string, value: unknown): void {
  if (Array.isArray(value)) {
    for (const item of value) appendField(form, name, item);
  } else if (typeof value === "object" && value !== null) {
    for (const [key, inner] of Object.entries(value)) appendField(form, `${name}[${key}]`, inner);
  } else {
    form.append(name, value === null || value === undefined ? "" : String(value));
  }
}
