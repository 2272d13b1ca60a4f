/**
 * What one caller can make the server hold (README "Limits"; PRODUCT §8:
 * oversized or hostile input gets a clear 4xx, never a 500 or unbounded
 * memory), black-box over HTTP on both databases: request bodies cut while
 * they stream in (also at /oauth/token, /oauth/register and /login).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MCP_LIMITS } from "../../src/config.js";
import { drivers } from "../helpers/databases.js";
import { addSignedInUser, grant, modernRpc } from "../helpers/mcp.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MB = 1024 * 1024;

/** A body of `bytes` spaces, streamed in chunks with no Content-Length (chunked transfer encoding). */
function chunkedBody(bytes: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  const piece = new Uint8Array(chunk).fill(0x20);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= bytes) return controller.close();
      sent += chunk;
      controller.enqueue(piece);
    },
  });
}

/**
 * POSTs a streamed body and reads the answer, sampling this process's RSS meanwhile: the server runs in
 * this process, so the growth bounds what it buffered (the client side streams from one reused chunk).
 */
async function postChunked(url: string, headers: Record<string, string>, bytes: number) {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  try {
    const response = await fetch(url, { method: "POST", headers, body: chunkedBody(bytes), duplex: "half" } as RequestInit);
    const text = await response.text();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { status: response.status, text, growthMb: (peak - before) / MB, beforeMb: before / MB, peakMb: peak / MB };
  } finally {
    clearInterval(sampler);
  }
}

let emails = 0;
const freshUser = (server: TestServer) => addSignedInUser(server, `limits-${++emails}@example.com`);

for (const driver of drivers()) {
  describe(`MCP limits (${driver})`, () => {
    let server: TestServer;
    let base: string;

    beforeAll(async () => {
      server = await startTestServer(driver);
      base = server.base;
    });
    afterAll(async () => server?.close());

    describe("request bodies are cut while they stream in (PRODUCT §8)", () => {
      it("a 256 MB chunked body to /mcp → 413 -32000 'Request body too large', and the server does not buffer it", async () => {
        const user = await freshUser(server);
        const { access } = await grant(base, user.jar);
        const sent = await postChunked(`${base}/mcp`, { authorization: `Bearer ${access}`, "content-type": "application/json" }, 256 * MB);
        console.log(`[mcp-limits ${driver}] 256 MB chunked POST /mcp: RSS ${sent.beforeMb.toFixed(0)} → peak ${sent.peakMb.toFixed(0)} MB (+${sent.growthMb.toFixed(1)} MB)`);
        expect(sent.status, sent.text).toBe(413);
        expect(JSON.parse(sent.text)).toEqual({ jsonrpc: "2.0", error: { code: -32000, message: "Request body too large" }, id: null });
        expect(sent.growthMb, "RSS growth while refusing a 256 MB body").toBeLessThan(100);
        // Nothing of it was served, and the server still answers.
        const ping = await modernRpc(base, access, "server/discover");
        expect(ping.status, ping.text).toBe(200);
      });

      it("a chunked body just over the cap → 413; one just under it is parsed", async () => {
        const user = await freshUser(server);
        const { access } = await grant(base, user.jar);
        const headers = { authorization: `Bearer ${access}`, "content-type": "application/json" };
        const over = await postChunked(`${base}/mcp`, headers, DEFAULT_MCP_LIMITS.maxBodyBytes + 64 * 1024);
        expect(over.status, over.text).toBe(413);
        // Spaces are valid JSON whitespace but no value: past the cap this is a parse error, not a 413.
        const under = await postChunked(`${base}/mcp`, headers, DEFAULT_MCP_LIMITS.maxBodyBytes - 64 * 1024);
        expect(under.status, under.text).toBe(400);
        expect(JSON.parse(under.text).error.code).toBe(-32700);
      });

      it.each([
        ["/oauth/token", "application/x-www-form-urlencoded", 400, "invalid_request"],
        ["/oauth/register", "application/json", 400, "invalid_client_metadata"],
        ["/login", "application/x-www-form-urlencoded", 413, "request_too_large"],
      ])("a 256 MB chunked body to %s (%s) → %i %s, without buffering it", async (path, type, status, error) => {
        const sent = await postChunked(`${base}${path}`, { "content-type": type, origin: base }, 256 * MB);
        console.log(`[mcp-limits ${driver}] 256 MB chunked POST ${path}: +${sent.growthMb.toFixed(1)} MB RSS`);
        expect(sent.status, sent.text).toBe(status);
        expect(JSON.parse(sent.text).error).toBe(error);
        expect(sent.growthMb).toBeLessThan(100);
      });
    });
  });
}
