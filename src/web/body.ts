/**
 * Reads a request body with a cap, while it streams in: a chunked body
 * declares no length, so reading it whole before checking would let any
 * caller make the process buffer hundreds of megabytes. At most `maxBytes`
 * is kept. An oversized body is still read (and dropped) up to
 * DISCARD_LIMIT before the request is refused, so the client sees the error
 * response and its keep-alive connection stays usable; past that the
 * stream is cancelled and the connection given up.
 */
const DISCARD_LIMIT = 8 * 1024 * 1024;

export class BodyTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`body larger than ${maxBytes} bytes`);
  }
}

/** A plain decimal Content-Length (RFC 9110 §8.6), else null. */
function declaredLength(headers: Headers): number | null {
  const value = headers.get("content-length");
  return value !== null && /^\d{1,15}$/.test(value) ? Number(value) : null;
}

/**
 * The body read whole. A stream something else already consumed (a body
 * parser in front of a bare listener) reads as empty, as it does through
 * `request.body`: the route then refuses a missing body with its own 4xx.
 */
async function wholeBody(request: Request): Promise<Uint8Array> {
  try {
    return new Uint8Array(await request.arrayBuffer());
  } catch (error) {
    if (error instanceof TypeError) return new Uint8Array();
    throw error;
  }
}

export async function readBodyCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  // A declared length within the cap, without chunked framing, is read whole: Node's HTTP parser ends the
  // body at exactly that many bytes, so no more than maxBytes can arrive. @hono/node-server reads such a
  // body straight off the socket, while `request.body` builds a fetch Request, an AbortSignal and two
  // web streams per request (a fifth of a small /mcp call). Checked again after reading, for a Request
  // made in-process, which nothing holds to its header.
  const declared = declaredLength(request.headers);
  if (declared !== null && declared <= maxBytes && !request.headers.has("transfer-encoding")) {
    const whole = await wholeBody(request);
    if (whole.byteLength > maxBytes) throw new BodyTooLargeError(maxBytes);
    return whole;
  }
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > DISCARD_LIMIT) {
      await reader.cancel().catch(() => {});
      throw new BodyTooLargeError(maxBytes);
    }
    if (total <= maxBytes) chunks.push(value);
  }
  if (total > maxBytes) throw new BodyTooLargeError(maxBytes);
  // Most bodies arrive in one chunk: no copy then.
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}
