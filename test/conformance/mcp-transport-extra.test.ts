/**
 * /mcp transport behaviour not covered elsewhere, black-box over HTTP:
 * SPEC-CHECKLIST RS-12 (CORS and preflight for browser clients), RES-5
 * (resuming a POST stream while the standalone GET stream is open), TR-13
 * and TR-14 (responses and request-related notifications stay on their own
 * stream, also with concurrent calls), TR-21 (an idle session expires: 404,
 * also for a freshly refreshed token, and the client starts a new one).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ManualClock } from "../../src/clock.js";
import { defineTool } from "../../src/index.js";
import { SESSION_IDLE_TTL_MS } from "../../src/mcp/sessions.js";
import { drivers } from "../helpers/databases.js";
import { type JsonRpcMessage, messageOf, type SseEvent, SseReader } from "../helpers/sse.js";
import { mcpFetch, openGetStream, openSession, request, rpc, sessionGet, sessionPost, sessionRpc } from "../helpers/mcp.js";
import { addSignedInUser, Gates, grant, resumeStream, type TestUser } from "../helpers/mcp-fixtures.js";
import { refreshGrant } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/* ------------------------------------------------------------- the tool */

const gates = new Gates();

/** Reports progress 1/2, waits for its gate, reports progress 2/2, then answers with its run name. */
const waits = defineTool({
  name: "waits",
  description: "Reports progress, waits until the test releases it, reports progress again, then answers.",
  input: z.object({ run: z.string() }),
  async handler({ run }, ctx) {
    const gate = gates.get(run);
    await ctx.progress(1, 2, `${run} started`);
    gate?.start();
    await gate?.released;
    await ctx.progress(2, 2, `${run} finishing`);
    return { content: [{ type: "text", text: `${run} done` }] };
  },
});

function waitsCall(run: string, progressToken: string): JsonRpcMessage {
  return request("tools/call", { name: "waits", arguments: { run }, _meta: { progressToken } });
}

/* ---------------------------------------------------------------- helpers */

const TOOLS_CHANGED = "notifications/tools/list_changed";

const isResult = (id: string | number) => (_: SseEvent, m: JsonRpcMessage | null) =>
  m !== null && m.id === id && (m.result !== undefined || m.error !== undefined);

const isProgress = (token: string, progress: number) => (_: SseEvent, m: JsonRpcMessage | null) =>
  m?.method === "notifications/progress" && m.params?.progressToken === token && m.params?.progress === progress;

/** The JSON-RPC messages among `events` (priming events left out). */
const messagesIn = (events: SseEvent[]) => events.map(messageOf).filter((m): m is JsonRpcMessage => m !== null);

/** The progress values for `token` among `events`, in order. */
const progressFor = (events: SseEvent[], token: string) =>
  messagesIn(events)
    .filter((m) => m.method === "notifications/progress" && m.params?.progressToken === token)
    .map((m) => m.params!.progress as number);

/** Whether a message belongs to a call (its response, or a notification carrying its progress token). */
const belongsTo = (m: JsonRpcMessage, call: JsonRpcMessage) =>
  m.id === call.id || (m.params as { progressToken?: unknown } | undefined)?.progressToken === (call.params!._meta as { progressToken: string }).progressToken;

/** A comma-separated header as a list; lower-cased for header names (methods compare case-sensitively). */
const listOf = (header: string | null, lower = true) =>
  (header ?? "").split(",").map((v) => (lower ? v.trim().toLowerCase() : v.trim())).filter(Boolean);


/**
 * Everything the standalone GET stream carried up to a marker: a tools list change raised now. Messages
 * on one stream keep their order, so anything the server had put on the GET stream before comes first.
 */
async function getStreamUpToMarker(server: TestServer, user: TestUser, stream: SseReader): Promise<SseEvent[]> {
  await server.running.gatehouse.notify.toolsChanged(user.id);
  return stream.until((_, m) => m?.method === TOOLS_CHANGED, 5000);
}

const PREFLIGHT_HEADERS = ["authorization", "content-type", "mcp-session-id", "mcp-protocol-version", "last-event-id"];

function preflight(base: string, origin: string, method: string): Promise<Response> {
  return fetch(`${base}/mcp`, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": method, "access-control-request-headers": PREFLIGHT_HEADERS.join(", ") },
  });
}

const initialize = () => request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "browser", version: "1" } });

/* ---------------------------------------------------------------- suites */

for (const driver of drivers()) {
  describe(`MCP transport extras (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let origin: string;
    let alice: TestUser;
    let token: string;

    beforeAll(async () => {
      server = await startTestServer(driver, { gatehouse: { tools: [waits] } });
      base = server.base;
      origin = new URL(base).origin;
      alice = await addSignedInUser(server, "alice@example.com");
      token = (await grant(base, alice.jar)).access;
    });
    afterAll(async () => server?.close());

    describe("CORS for browser clients (RS-12, TR-2)", () => {
      it("answers a preflight from the public origin: that origin, the methods and the MCP headers allowed", async () => {
        for (const method of ["POST", "GET", "DELETE"]) {
          const response = await preflight(base, origin, method);
          await response.body?.cancel();
          expect(response.status, `preflight for ${method}`).toBeGreaterThanOrEqual(200);
          expect(response.status, `preflight for ${method}`).toBeLessThan(300);
          expect(response.headers.get("access-control-allow-origin"), method).toBe(origin);
          expect(listOf(response.headers.get("access-control-allow-methods"), false), method).toContain(method);
          const allowed = listOf(response.headers.get("access-control-allow-headers"));
          for (const header of PREFLIGHT_HEADERS) expect(allowed, `${method}: ${header} allowed`).toContain(header);
        }
      });

      it("lets a browser read a 401 and its WWW-Authenticate challenge", async () => {
        const response = await mcpFetch(base, { token: null, body: initialize(), headers: { origin } });
        await response.body?.cancel();
        expect(response.status).toBe(401);
        expect(response.headers.get("www-authenticate") ?? "").toMatch(/^Bearer\b/i);
        expect(response.headers.get("access-control-allow-origin")).toBe(origin);
        expect(listOf(response.headers.get("access-control-expose-headers"))).toContain("www-authenticate");
      });

      it("lets a browser read Mcp-Session-Id from the initialize response, and reach the session's streams", async () => {
        const init = await rpc(base, { token, body: initialize(), headers: { origin } });
        expect(init.status, init.text).toBe(200);
        expect(init.headers.get("mcp-session-id")).toBeTruthy();
        expect(init.headers.get("access-control-allow-origin")).toBe(origin);
        expect(listOf(init.headers.get("access-control-expose-headers"))).toContain("mcp-session-id");

        const session = await openSession(base, token, "2025-11-25");
        const get = await mcpFetch(base, { method: "GET", token, sessionId: session.id, protocolVersion: "2025-11-25", headers: { origin } });
        expect(get.status).toBe(200);
        expect(get.headers.get("content-type") ?? "").toContain("text/event-stream");
        expect(get.headers.get("access-control-allow-origin")).toBe(origin);
        await get.body?.cancel();
      });

      it("allows nothing to a foreign origin: no Access-Control-Allow-Origin on its preflight, 403 for its request", async () => {
        for (const foreign of ["http://evil.example", "null", `http://127.0.0.1:1`, origin.replace("127.0.0.1", "localhost")]) {
          const response = await preflight(base, foreign, "POST");
          await response.body?.cancel();
          expect(response.headers.get("access-control-allow-origin"), `preflight from ${foreign}`).toBeNull();

          const actual = await mcpFetch(base, { token, body: initialize(), headers: { origin: foreign } });
          await actual.body?.cancel();
          expect(actual.status, `request from ${foreign}`).toBe(403);
          expect(actual.headers.get("access-control-allow-origin"), `request from ${foreign}`).toBeNull();
          expect(actual.headers.get("mcp-session-id")).toBeNull();
        }
      });

      it("allows a configured origin instead of the public one", async () => {
        const app = "https://app.example";
        const configured = await startTestServer(driver, { config: { allowedOrigins: [app] } });
        try {
          const allowed = await preflight(configured.base, app, "POST");
          await allowed.body?.cancel();
          expect(allowed.status).toBeLessThan(300);
          expect(allowed.headers.get("access-control-allow-origin")).toBe(app);
          const other = await preflight(configured.base, "https://other.example", "POST");
          await other.body?.cancel();
          expect(other.headers.get("access-control-allow-origin")).toBeNull();
          const unauthenticated = await mcpFetch(configured.base, { token: null, body: initialize(), headers: { origin: app } });
          await unauthenticated.body?.cancel();
          expect(unauthenticated.status).toBe(401);
          expect(unauthenticated.headers.get("access-control-allow-origin")).toBe(app);
        } finally {
          await configured.close();
        }
      });
    });

    it("resumes a dropped POST stream while the standalone GET stream is open; nothing of it reaches the GET stream (RES-5, TR-13, TR-14)", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const listening = await openGetStream(base, token, session);
      const run = `res5-${driver}`;
      const gate = gates.open(run);
      const call = waitsCall(run, `p-${run}`);
      const abort = new AbortController();
      const post = await sessionPost(base, token, session, call, { signal: abort.signal });
      expect(post.status).toBe(200);
      expect(post.headers.get("content-type") ?? "").toContain("text/event-stream");
      const reader = new SseReader(post);
      const before = await reader.until(isProgress(`p-${run}`, 1));
      await gate.started;
      abort.abort();
      await reader.ended;

      const lastSeen = before.filter((e) => e.id).at(-1)?.id;
      expect(lastSeen, "the POST stream's events carry ids").toBeTruthy();
      const resumed = await resumeStream(base, token, session, lastSeen!);
      expect(resumed.status, "a resumption GET is accepted while the standalone GET stream is open").toBe(200);
      expect(resumed.headers.get("content-type") ?? "").toContain("text/event-stream");
      const live = new SseReader(resumed);

      gate.release();
      const after = await live.until(isResult(call.id!));
      const result = messagesIn(after).filter((m) => m.id === call.id);
      expect(result).toHaveLength(1);
      expect(JSON.stringify(result[0]!.result)).toContain(`${run} done`);
      expect(progressFor(after, `p-${run}`), "the rest of the stream, and nothing already delivered").toEqual([2]);
      expect(await live.endsWithin(2000), "the resumed stream ends after the result").toBe(true);

      const onGet = await getStreamUpToMarker(server, alice, listening);
      const leaked = messagesIn(onGet).filter((m) => belongsTo(m, call) || JSON.stringify(m).includes(run));
      expect(leaked, "the GET stream carries none of the call's messages").toEqual([]);
      await listening.close();
    });

    it("keeps two concurrent calls in one session apart: each stream gets only its own progress and result (TR-13, TR-14)", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const listening = await openGetStream(base, token, session);
      const runA = `tr14-a-${driver}`;
      const runB = `tr14-b-${driver}`;
      const gateA = gates.open(runA);
      const gateB = gates.open(runB);
      const callA = waitsCall(runA, `p-${runA}`);
      const callB = waitsCall(runB, `p-${runB}`);
      const [postA, postB] = await Promise.all([sessionPost(base, token, session, callA), sessionPost(base, token, session, callB)]);
      for (const post of [postA, postB]) {
        expect(post.status).toBe(200);
        expect(post.headers.get("content-type") ?? "").toContain("text/event-stream");
      }
      const readerA = new SseReader(postA);
      const readerB = new SseReader(postB);
      await readerA.until(isProgress(`p-${runA}`, 1));
      await readerB.until(isProgress(`p-${runB}`, 1));
      await Promise.all([gateA.started, gateB.started]);

      // The later call finishes first: a server routing by order, not by request, would mix them up.
      gateB.release();
      await readerB.until(isResult(callB.id!));
      expect(await readerB.endsWithin(2000), "B's stream ends after its result").toBe(true);
      expect(readerA.finished, "A's stream stays open while A runs").toBe(false);
      gateA.release();
      await readerA.until(isResult(callA.id!));
      expect(await readerA.endsWithin(2000), "A's stream ends after its result").toBe(true);

      for (const [reader, own, other, run] of [
        [readerA, callA, callB, runA],
        [readerB, callB, callA, runB],
      ] as const) {
        const messages = messagesIn(reader.seen);
        expect(messages.filter((m) => belongsTo(m, other)), `${run}: nothing of the other call`).toEqual([]);
        expect(messages.filter((m) => !belongsTo(m, own)), `${run}: only its own messages`).toEqual([]);
        expect(progressFor(reader.seen, `p-${run}`), `${run}: each progress once, in order`).toEqual([1, 2]);
        const results = messages.filter((m) => m.id === own.id);
        expect(results, `${run}: its result once`).toHaveLength(1);
        expect(JSON.stringify(results[0]!.result)).toContain(`${run} done`);
      }

      const onGet = await getStreamUpToMarker(server, alice, listening);
      const leaked = messagesIn(onGet).filter((m) => belongsTo(m, callA) || belongsTo(m, callB));
      expect(leaked, "the GET stream carries none of the calls' messages").toEqual([]);
      await listening.close();
    });
  });

  describe(`MCP idle sessions expire (TR-21, TR-17) (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let base: string;
    let alice: TestUser;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
    });
    afterAll(async () => server?.close());

    it("keeps a used session past a day, answers 404 once it idled longer than its TTL, even for a refreshed token; a new session works", async () => {
      const granted = await grant(base, alice.jar);
      let refresh = granted.refresh;
      const session = await openSession(base, granted.access, "2025-11-25");
      /** Moves time on; the access token (1 h) has expired by then, so the client refreshes, as it would. */
      const later = async (ms: number) => {
        clock.advance(ms);
        const refreshed = await refreshGrant(base, granted.client.client_id, refresh);
        expect(refreshed.status, refreshed.text).toBe(200);
        refresh = refreshed.json!.refresh_token as string;
        return refreshed.json!.access_token as string;
      };
      const ping = (access: string) => sessionRpc(base, access, session, request("ping"));

      // Used within its TTL each time: alive, also after the sweeps (the live copy is rebuilt from the record),
      // and for longer in total than one TTL since it was created (the TTL counts idle time).
      for (let i = 0; i < 2; i++) {
        const access = await later(SESSION_IDLE_TTL_MS - 5 * 60_000);
        await server.running.gatehouse.sweep();
        const alive = await ping(access);
        expect(alive.status, `after ${i + 1} × (TTL − 5 min): ${alive.text}`).toBe(200);
        expect(alive.message?.result).toEqual({});
      }

      const access = await later(SESSION_IDLE_TTL_MS + 1000);
      // What the 5-second live sweeper does (the frozen clock keeps it from seeing the time pass): the in-memory
      // copy goes, the record stays until the expiry sweep; the record's expiry alone must end the session.
      await server.running.services.mcp.sweep();
      const expired = await ping(access);
      expect(expired.status, `idle beyond the TTL: ${expired.text}`).toBe(404);

      await server.running.gatehouse.sweep();
      expect((await ping(access)).status).toBe(404);
      const get = await sessionGet(base, access, session);
      await get.body?.cancel();
      expect(get.status).toBe(404);
      const deleted = await mcpFetch(base, { method: "DELETE", token: access, sessionId: session.id, protocolVersion: "2025-11-25" });
      await deleted.body?.cancel();
      expect(deleted.status).toBe(404);

      // The client starts over with the same token.
      const fresh = await openSession(base, access, "2025-11-25");
      expect(fresh.id).not.toBe(session.id);
      const call = await sessionRpc(base, access, fresh, request("tools/call", { name: "whoami", arguments: {} }));
      expect(call.status, call.text).toBe(200);
      expect(call.text).toContain("alice@example.com");
      expect((await ping(access)).status, "the old session stays gone").toBe(404);
    });
  });
}
