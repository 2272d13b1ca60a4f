/**
 * What one caller can make the server hold (README "Limits"; PRODUCT §8:
 * oversized or hostile input gets a clear 4xx, never a 500 or unbounded
 * memory), black-box over HTTP on both databases: request bodies cut while
 * they stream in (also at /oauth/token, /oauth/register and /login), live
 * 2025 sessions per user with the least recently used idle one evicted,
 * GET streams per user, and the client info an initialize may store.
 * What /mcp echoes or keeps per session is in mcp-limits-stored.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { DEFAULT_MCP_LIMITS } from "../../src/config.js";
import { defineTool } from "../../src/index.js";
import { drivers } from "../helpers/databases.js";
import { type SseReader } from "../helpers/sse.js";
import { modernRpc, openGetStream, openSession, request, rpc, sessionGet, sessionPost, sessionRpc, type LegacySession } from "../helpers/mcp.js";
import { addSignedInUser, Gates, grant, pollUntil, startCluster } from "../helpers/mcp-fixtures.js";
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

const gates = new Gates();
/** Holds its call in flight until the test releases it: a session with a call in flight is busy. */
const hold = defineTool({
  name: "hold",
  description: "Waits until released.",
  input: z.object({ run: z.string() }),
  async handler({ run }) {
    const gate = gates.get(run);
    gate?.start();
    await gate?.released;
    return { content: [{ type: "text", text: `released ${run}` }] };
  },
});

let emails = 0;
const freshUser = (server: TestServer) => addSignedInUser(server, `limits-${++emails}@example.com`);

for (const driver of drivers()) {
  describe(`MCP limits (${driver})`, () => {
    let server: TestServer;
    let base: string;

    beforeAll(async () => {
      server = await startTestServer(driver, { gatehouse: { tools: [hold] } });
      base = server.base;
    });
    afterAll(async () => server?.close());

    const liveSessions = (userId: string) => server.running.services.mcpSessions.countFor(userId);

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

    describe(`live 2025 sessions per user (default ${DEFAULT_MCP_LIMITS.maxSessionsPerUser})`, () => {
      it("one more session evicts the user's least recently used idle one, everywhere; other users are untouched", async () => {
        const max = DEFAULT_MCP_LIMITS.maxSessionsPerUser;
        const user = await freshUser(server);
        const other = await freshUser(server);
        const { access } = await grant(base, user.jar);
        const otherToken = (await grant(base, other.jar)).access;
        const otherSession = await openSession(base, otherToken);
        const sessions: LegacySession[] = [];
        for (let i = 0; i < max; i++) sessions.push(await openSession(base, access));
        expect(await liveSessions(user.id)).toBe(max);

        const newest = await openSession(base, access);
        expect(await liveSessions(user.id)).toBe(max);
        const evicted = await sessionRpc(base, access, sessions[0]!, request("ping"));
        expect(evicted.status, "TR-17: the evicted session is gone").toBe(404);
        for (const session of [sessions[1]!, sessions.at(-1)!, newest]) {
          expect((await sessionRpc(base, access, session, request("ping"))).status).toBe(200);
        }
        expect((await sessionRpc(base, otherToken, otherSession, request("ping"))).status).toBe(200);
      });

      it("when every session streams or answers a call, the initialize gets 429 with a JSON-RPC error, and nothing is stored", async () => {
        const small = await startTestServer(driver, {
          config: { mcpLimits: { ...DEFAULT_MCP_LIMITS, maxSessionsPerUser: 2 } },
          gatehouse: { tools: [hold] },
        });
        try {
          const user = await addSignedInUser(small, "busy@example.com");
          const { access } = await grant(small.base, user.jar);
          const listening = await openSession(small.base, access);
          const stream = await openGetStream(small.base, access, listening);
          const calling = await openSession(small.base, access);
          const gate = gates.open(`busy-${driver}`);
          const call = sessionPost(small.base, access, calling, request("tools/call", { name: "hold", arguments: { run: `busy-${driver}` } }));
          await gate.started;

          const init = request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "third", version: "1" } });
          const refused = await rpc(small.base, { token: access, body: init });
          expect(refused.status, refused.text).toBe(429);
          expect(refused.headers.get("mcp-session-id")).toBeNull();
          expect(refused.message).toEqual({
            jsonrpc: "2.0",
            id: init.id,
            error: { code: -32000, message: "Too many sessions: at most 2 per user, and none is idle; end one (DELETE) or retry later" },
          });
          expect(await small.running.services.mcpSessions.countFor(user.id)).toBe(2);

          // The call ends: its session is idle now, and goes to make room; the listening one stays.
          gate.release();
          await (await call).text();
          const third = await openSession(small.base, access);
          expect((await sessionRpc(small.base, access, calling, request("ping"))).status).toBe(404);
          expect((await sessionRpc(small.base, access, listening, request("ping"))).status).toBe(200);
          expect((await sessionRpc(small.base, access, third, request("ping"))).status).toBe(200);
          expect(stream.finished).toBe(false);
          await stream.close();
        } finally {
          await small.close();
        }
      });
    });

    describe(`open GET streams per user on a node (default ${DEFAULT_MCP_LIMITS.maxGetStreamsPerUser})`, () => {
      it("one more GET stream → 429 with a JSON-RPC error; ending one frees its slot; other users are untouched", async () => {
        const max = DEFAULT_MCP_LIMITS.maxGetStreamsPerUser;
        const user = await freshUser(server);
        const other = await freshUser(server);
        const { access } = await grant(base, user.jar);
        const otherToken = (await grant(base, other.jar)).access;
        const streams: SseReader[] = [];
        for (let i = 0; i < max; i++) streams.push(await openGetStream(base, access, await openSession(base, access)));
        const extra = await openSession(base, access);
        const refused = await sessionGet(base, access, extra);
        expect(refused.status).toBe(429);
        expect(await refused.json()).toEqual({
          jsonrpc: "2.0",
          id: null,
          error: { code: -32000, message: `Too many open streams: at most ${max} GET streams per user on this server; close one first` },
        });
        const theirs = await openGetStream(base, otherToken, await openSession(base, otherToken));

        await streams.shift()!.close();
        const freed = await pollStatus(() => sessionGet(base, access, extra), 200);
        expect(freed.status).toBe(200);
        await freed.body?.cancel();
        await Promise.all([...streams, theirs].map((s) => s.close()));
      });

      it("a second standalone GET on one session still gets the SDK's 409, and takes no slot", async () => {
        const user = await freshUser(server);
        const { access } = await grant(base, user.jar);
        const session = await openSession(base, access);
        const first = await openGetStream(base, access, session);
        for (let i = 0; i < DEFAULT_MCP_LIMITS.maxGetStreamsPerUser + 2; i++) {
          const second = await sessionGet(base, access, session);
          expect(second.status).toBe(409);
          await second.body?.cancel();
        }
        const elsewhere = await openGetStream(base, access, await openSession(base, access));
        await Promise.all([first.close(), elsewhere.close()]);
      });
    });

    it("200 sessions, 100 GET streams and a 256 MB chunked body from one user leave the server answering another user, RSS +<100 MB", async () => {
      const greedy = await freshUser(server);
      const { access } = await grant(base, greedy.jar);
      global.gc?.();
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 5);
      const statuses = new Map<number, number>();
      const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
      const sessions: LegacySession[] = [];
      for (let i = 0; i < 200; i++) sessions.push(await openSession(base, access));
      expect(await liveSessions(greedy.id)).toBe(DEFAULT_MCP_LIMITS.maxSessionsPerUser);
      const open: Response[] = [];
      for (const session of sessions.slice(100)) {
        const response = await sessionGet(base, access, session);
        count(response.status);
        if (response.status === 200) open.push(response);
        else await response.body?.cancel();
      }
      expect(Object.fromEntries(statuses)).toEqual({ 200: DEFAULT_MCP_LIMITS.maxGetStreamsPerUser, 429: 100 - DEFAULT_MCP_LIMITS.maxGetStreamsPerUser });
      const body = await postChunked(`${base}/mcp`, { authorization: `Bearer ${access}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, 256 * MB);
      expect(body.status).toBe(413);

      const bystander = await freshUser(server);
      const theirs = (await grant(base, bystander.jar)).access;
      const session = await openSession(base, theirs);
      const whoami = await sessionRpc(base, theirs, session, request("tools/call", { name: "whoami", arguments: {} }));
      expect(whoami.status).toBe(200);
      expect(whoami.text).toContain(bystander.email);
      const modern = await modernRpc(base, theirs, "tools/call", { name: "whoami", arguments: {} });
      expect(modern.status).toBe(200);
      expect(modern.text).toContain(bystander.email);
      clearInterval(sampler);
      const growthMb = (Math.max(rssPeak, body.peakMb * MB, process.memoryUsage().rss) - rssBefore) / MB;
      console.log(`[mcp-limits ${driver}] 200 sessions + 100 GET streams + 256 MB chunked body from one user: RSS +${growthMb.toFixed(1)} MB`);
      expect(growthMb, "RSS growth under one user's load").toBeLessThan(100);
      const stream = await openGetStream(base, theirs, session);
      await Promise.all([stream.close(), ...open.map((r) => r.body?.cancel())]);
    }, 120_000);

    describe(`stored client info (default ${DEFAULT_MCP_LIMITS.maxClientInfoBytes} bytes)`, () => {
      const initialize = (clientInfo: Record<string, unknown>, capabilities: Record<string, unknown> = {}) =>
        request("initialize", { protocolVersion: "2025-11-25", capabilities, clientInfo });

      it("a larger clientInfo or capabilities → -32602 invalid params, no session stored", async () => {
        const user = await freshUser(server);
        const { access } = await grant(base, user.jar);
        const padding = "x".repeat(DEFAULT_MCP_LIMITS.maxClientInfoBytes);
        for (const init of [initialize({ name: "big", version: "1", description: padding }), initialize({ name: "c", version: "1" }, { experimental: { pad: { padding } } })]) {
          const refused = await rpc(base, { token: access, body: init });
          expect(refused.status, refused.text).toBe(200);
          expect(refused.headers.get("mcp-session-id")).toBeNull();
          expect(refused.message?.id).toBe(init.id);
          expect(refused.message?.error?.code).toBe(-32602);
          expect(refused.message?.error?.message).toMatch(/^Invalid params: clientInfo and capabilities take \d+ bytes; a session keeps at most 8192$/);
        }
        expect(await liveSessions(user.id)).toBe(0);
      });

      it("client info just under the cap is stored and restored", async () => {
        const user = await freshUser(server);
        const { access } = await grant(base, user.jar);
        const clientInfo = { name: "fits", version: "1", description: "y".repeat(DEFAULT_MCP_LIMITS.maxClientInfoBytes - 200) };
        const init = await rpc(base, { token: access, body: initialize(clientInfo) });
        expect(init.status, init.text).toBe(200);
        const sessionId = init.headers.get("mcp-session-id")!;
        expect(await liveSessions(user.id)).toBe(1);
        // Dropped from memory, the session is rebuilt from what was stored.
        await server.running.services.mcp.legacy.close(sessionId);
        const ping = await rpc(base, { token: access, sessionId, protocolVersion: "2025-11-25", body: request("ping") });
        expect(ping.status, ping.text).toBe(200);
      });
    });
  });
}

describe.runIf(drivers().includes("postgres"))("MCP session limit across nodes (postgres)", () => {
  it("a session streaming on node B is not evicted by an initialize on node A: the next least recently used idle one goes", async () => {
    const cluster = await startCluster({
      config: { mcpLimits: { ...DEFAULT_MCP_LIMITS, maxSessionsPerUser: 2 } },
      gatehouse: { liveSweepIntervalMs: 50 },
    });
    try {
      const user = await addSignedInUser(cluster.a, "nodes@example.com");
      const { access } = await grant(cluster.publicUrl, user.jar);
      const streaming = await openSession(cluster.base("a"), access);
      const idle = await openSession(cluster.base("a"), access);
      const stream = await openGetStream(cluster.base("b"), access, streaming);
      // Node B's live sweep marks the session busy where node A can see it; event ids end with the node id.
      const nodeB = (await stream.next())!.id!.slice(-8);
      const mark = await pollUntil(() => cluster.a.running.deps.kv.get(`mcp:session-busy:${streaming.id}:${nodeB}`), (v) => v !== null, 3000);
      expect(mark, "node B marked the session it streams").not.toBeNull();

      const third = await openSession(cluster.base("a"), access);
      expect((await sessionRpc(cluster.base("a"), access, idle, request("ping"))).status).toBe(404);
      expect((await sessionRpc(cluster.base("a"), access, streaming, request("ping"))).status).toBe(200);
      expect((await sessionRpc(cluster.base("b"), access, third, request("ping"))).status).toBe(200);
      expect(stream.finished).toBe(false);
      await stream.close();
    } finally {
      await cluster.close();
    }
  });
});

/** Retries until `expected` (a freed slot shows once the server has seen the stream end). */
async function pollStatus(send: () => Promise<Response>, expected: number, withinMs = 3000): Promise<Response> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const response = await send();
    if (response.status === expected || Date.now() >= deadline) return response;
    await response.body?.cancel();
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
