/**
 * Legacy (2025) session streams, three regressions:
 *
 * - A GET stream resumed with `Last-Event-ID: _GET_stream.<position>` is the
 *   session's listening stream again: notifications raised while it was down
 *   are stored and replayed, later ones arrive live on it.
 * - A tool call still running keeps its session's live copy through the idle
 *   sweep, so its result is stored and a resumed stream delivers it.
 * - Priming events follow the version negotiated for the session, not the
 *   request's MCP-Protocol-Version header (missing or older); initialize with
 *   an unsupported version negotiates the newest 2025 revision.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { definePrompt, defineResource } from "../../src/index.js";
import type { Notifier } from "../../src/mcp/endpoint.js";
import { drivers } from "../helpers/databases.js";
import { type JsonRpcMessage, messageOf, type SseEvent, SseReader } from "../helpers/sse.js";
import { type LegacySession, mcpFetch, notification, openGetStream, openSession, readExchange, request, rpc, sessionGet, sessionPost } from "../helpers/mcp.js";
import { addSignedInUser, type Cluster, Gates, gatedTool, grant, pollUntil, resumeStream, startCluster, type TestUser } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const TOOLS_CHANGED = "notifications/tools/list_changed";
const RESOURCES_CHANGED = "notifications/resources/list_changed";
const PROMPTS_CHANGED = "notifications/prompts/list_changed";
const GET_STREAM_PREFIX = "_GET_stream.";

/* ------------------------------------------------------------ definitions */

const gates = new Gates();

/** Signals that it started, waits for its gate, then answers. */
const gated = gatedTool(gates);

// A resource and a prompt, so the server declares (and may announce changes of) both lists.
const note = defineResource({
  name: "note",
  uri: "test://legacy-streams/note",
  description: "A note.",
  mimeType: "text/plain",
  read: (uri) => ({ contents: [{ uri: uri.href, text: "note" }] }),
});
const greet = definePrompt({
  name: "greet",
  description: "Says hello.",
  get: () => ({ messages: [{ role: "user", content: { type: "text", text: "hello" } }] }),
});

/* ---------------------------------------------------------------- helpers */

const isResult = (id: string | number) => (_: SseEvent, m: JsonRpcMessage | null) =>
  m !== null && m.id === id && (m.result !== undefined || m.error !== undefined);

/** Waits for the first notification of `method`, returning its event (skips everything else); fails past the deadline. */
async function eventOf(reader: SseReader, method: string, timeoutMs = 5000): Promise<SseEvent> {
  const events = await reader.until((_, m) => m?.method === method, timeoutMs);
  return events.at(-1)!;
}

/** The notifications (not priming events) among `events`. */
const methodsOf = (events: SseEvent[]) =>
  events
    .map(messageOf)
    .filter((m): m is JsonRpcMessage => m !== null && m.method !== undefined)
    .map((m) => m.method);


/**
 * Gives the server time to see a client disconnect (the socket close reaches it on loopback within a
 * millisecond or two). Nothing black-box tells "the server has noticed" without itself opening a stream —
 * which would make the session listening, or busy, again and hide the behaviour under test — so this waits.
 * The fixed code passes whether or not the server has noticed; the wait only makes sure the old code is
 * caught in the state the bug needed (no open stream).
 */
const serverSeesDisconnect = () => new Promise((resolve) => setTimeout(resolve, 250));

/**
 * The GET-stream resume scenario: the session's GET stream opens at `openAt` and gets a change; it
 * drops; a change is raised while it is down; the client resumes it with `Last-Event-ID` at `resumeAt`
 * and gets the missed change replayed, then a new change live. Changes are raised through `notify`;
 * a second session of the user, listening at `openAt` throughout, tells when a change has reached that node.
 */
async function resumedStreamListens(t: { notify: Notifier; token: string; userId: string; openAt: string; resumeAt: string }) {
  const session = await openSession(t.openAt, t.token, "2025-11-25");
  const witnessSession = await openSession(t.openAt, t.token, "2025-11-25");
  const witness = await openGetStream(t.openAt, t.token, witnessSession);
  const stream = await openGetStream(t.openAt, t.token, session);
  let resumed: SseReader | null = null;
  try {
    await t.notify.toolsChanged(t.userId);
    const first = await eventOf(stream, TOOLS_CHANGED);
    await eventOf(witness, TOOLS_CHANGED);
    const kept = first.id!;
    expect(kept, "a standalone-stream event id").toMatch(/^_GET_stream\./);

    await stream.close(); // the client's GET stream drops
    await serverSeesDisconnect();

    await t.notify.resourcesChanged(t.userId); // raised while the stream is down
    await eventOf(witness, RESOURCES_CHANGED); // handled where the stream was: stored by now

    const response = await resumeStream(t.resumeAt, t.token, session, kept);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type") ?? "").toContain("text/event-stream");
    resumed = new SseReader(response);
    const missed = await eventOf(resumed, RESOURCES_CHANGED);
    expect(missed.id?.startsWith(GET_STREAM_PREFIX), `replayed with a standalone-stream id: ${missed.id}`).toBe(true);
    expect(missed.id).not.toBe(kept);
    expect(methodsOf(resumed.seen), "nothing before the missed notification, the kept one not again").toEqual([RESOURCES_CHANGED]);

    // The resumed stream is the session's listening stream now: a new change arrives on it, live.
    await t.notify.promptsChanged(t.userId);
    const live = await eventOf(resumed, PROMPTS_CHANGED);
    expect(live.id?.startsWith(GET_STREAM_PREFIX), `a standalone-stream id: ${live.id}`).toBe(true);
    expect(await resumed.drain(300), "nothing else (no duplicates)").toEqual([]);
    const ids = resumed.seen.map((e) => e.id).filter((id): id is string => !!id);
    expect(new Set(ids).size, "no event twice").toBe(ids.length);
    expect(methodsOf(resumed.seen)).toEqual([RESOURCES_CHANGED, PROMPTS_CHANGED]);
  } finally {
    await resumed?.close();
    await stream.close();
    await witness.close();
  }
}

/* ------------------------------------------------------------------ suite */

for (const driver of drivers()) {
  describe(`MCP legacy session streams (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let token: string;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock, gatehouse: { tools: [gated], resources: [note], prompts: [greet] } });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
      token = (await grant(base, alice.jar)).access;
    });
    afterAll(async () => server?.close());

    it("keeps a GET stream resumed with Last-Event-ID listening: missed notifications replay, later ones arrive live", async () => {
      await resumedStreamListens({ notify: server.running.gatehouse.notify, token, userId: alice.id, openAt: base, resumeAt: base });
    });

    it("primes a 2025-11-25 GET stream (TR-8): resuming from the priming id replays a change raised before any other event", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const stream = await openGetStream(base, token, session);
      let resumed: SseReader | null = null;
      try {
        await stream.until((event) => event.id !== undefined, 3000);
        const [priming] = stream.seen;
        expect(priming?.id, "the first event carries an id").toMatch(/^_GET_stream\./);
        expect(priming?.retry, "and a retry interval").toBeGreaterThan(0);
        expect(priming?.data ?? "", "and no message").toBe("");
        await stream.close();
        await serverSeesDisconnect();
        await server.running.gatehouse.notify.toolsChanged(alice.id);
        const response = await resumeStream(base, token, session, priming!.id!);
        expect(response.status).toBe(200);
        resumed = new SseReader(response);
        await eventOf(resumed, TOOLS_CHANGED);
      } finally {
        await resumed?.close();
        await stream.close();
      }
    });

    it("sends no priming event on a 2025-06-18 GET stream: the first event is the notification", async () => {
      const session = await openSession(base, token, "2025-06-18");
      const stream = await openGetStream(base, token, session);
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        await server.running.gatehouse.notify.promptsChanged(alice.id);
        await eventOf(stream, PROMPTS_CHANGED);
        expect(messageOf(stream.seen[0]!)?.method).toBe(PROMPTS_CHANGED);
      } finally {
        await stream.close();
      }
    });

    it("keeps a session with a call in flight through the idle sweep: the result is stored and delivered on resume", async () => {
      const session = await openSession(base, token, "2025-11-25");
      const key = `sweep-${driver}`;
      const gate = gates.open(key);
      const call = request("tools/call", { name: "gated", arguments: { run: key } });
      const response = await sessionPost(base, token, session, call);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type") ?? "").toContain("text/event-stream");
      const reader = new SseReader(response);
      const priming = (await reader.next())!;
      expect(priming, "a priming event first").not.toBeNull();
      expect(priming.id, "the priming event has an id").toBeTruthy();
      expect(priming.retry, "and a retry interval").toBeGreaterThan(0);
      expect(priming.data).toBe("");

      await gate.started; // the handler runs
      await reader.close(); // the client disconnects; the call goes on
      await serverSeesDisconnect();

      clock.advance(61_000); // past the live-session idle limit (60 s)
      await server.running.gatehouse.sweep();
      gate.release(); // the call answers after the sweep

      const resumed = await resumeStream(base, token, session, priming.id!);
      expect(resumed.status).toBe(200);
      const after = new SseReader(resumed);
      const events = await after.until(isResult(call.id!));
      const result = messageOf(events.at(-1)!)!;
      expect(result.error, JSON.stringify(result)).toBeUndefined();
      expect(JSON.stringify(result.result)).toContain(`gated ${key} done`);
      expect(events.at(-1)!.id, "the result is a stored event").toBeTruthy();
      await after.close();

      // Once answered, nothing pins the session: the next sweep past the idle limit drops its live copy
      // (observed through the endpoint's count of live sessions; no stream of any test is open now).
      const live = server.running.services.mcp.legacy;
      const remaining = await pollUntil(
        async () => {
          clock.advance(61_000);
          await server.running.gatehouse.sweep();
          return live.size;
        },
        (size) => size === 0,
        3000,
        50,
      );
      expect(remaining, "the answered session is dropped from memory").toBe(0);
    });

    describe("priming follows the session's negotiated version", () => {
      const whoamiCall = () => request("tools/call", { name: "whoami", arguments: {} });

      /** POST a tools/call within `session` with exactly the given MCP-Protocol-Version (undefined: none). */
      async function callWithHeader(session: LegacySession, header: string | undefined) {
        const call = whoamiCall();
        const response = await mcpFetch(base, {
          token,
          sessionId: session.id,
          ...(header !== undefined ? { protocolVersion: header } : {}),
          body: call,
        });
        expect(response.status, `header ${header ?? "(none)"}`).toBe(200);
        expect(response.headers.get("content-type") ?? "", `header ${header ?? "(none)"}`).toContain("text/event-stream");
        const exchange = await readExchange(response, call.id!);
        expect(exchange.message?.error, exchange.text).toBeUndefined();
        expect(JSON.stringify(exchange.message?.result)).toContain(alice.email);
        return { call, exchange };
      }

      for (const header of [undefined, "2025-03-26"]) {
        it(`primes a 2025-11-25 session's POST stream with MCP-Protocol-Version ${header ?? "omitted"}`, async () => {
          const session = await openSession(base, token, "2025-11-25");
          const { call, exchange } = await callWithHeader(session, header);
          const first = exchange.events[0]!;
          expect(first.id, "the first event is a priming event with an id").toBeTruthy();
          expect(first.retry, "and a retry interval").toBeGreaterThan(0);
          expect(first.data).toBe("");
          expect(messageOf(exchange.events.at(-1)!)?.id, "the result follows").toBe(call.id);
          // The priming id is a real resumption point: replaying from it gives the result.
          const replay = await sessionGet(base, token, session, first.id!);
          expect(replay.status).toBe(200);
          const replayed = await new SseReader(replay).rest();
          expect(replayed.map(messageOf).some((m) => m?.id === call.id)).toBe(true);
        });
      }

      it("sends no priming event on a 2025-03-26 session (that revision has none)", async () => {
        const session = await openSession(base, token, "2025-03-26");
        const { call, exchange } = await callWithHeader(session, undefined);
        expect(exchange.events.length).toBeGreaterThan(0);
        const first = exchange.events[0]!;
        expect(first.data, "the first event carries a message").not.toBe("");
        expect(messageOf(first)?.id, "the first event is the result itself").toBe(call.id);
        expect(first.retry).toBeUndefined();
      });

      it("negotiates 2025-11-25 for an unsupported initialize version, and the session then works with that header", async () => {
        const init = await rpc(base, {
          token,
          body: request("initialize", { protocolVersion: "1999-01-01", capabilities: {}, clientInfo: { name: "old", version: "1" } }),
        });
        expect(init.status, init.text).toBe(200);
        expect((init.message?.result as { protocolVersion?: string } | undefined)?.protocolVersion).toBe("2025-11-25");
        const id = init.headers.get("mcp-session-id");
        expect(id).toBeTruthy();
        const initialized = await mcpFetch(base, { token, sessionId: id!, protocolVersion: "2025-11-25", body: notification("notifications/initialized") });
        expect(initialized.status).toBe(202);
        await initialized.body?.cancel();

        const session: LegacySession = { id: id!, version: "2025-11-25", result: init.message!.result!, header: "2025-11-25" };
        const { exchange } = await callWithHeader(session, "2025-11-25");
        expect(exchange.status).toBe(200);
        expect(exchange.events[0]?.id, "negotiated 2025-11-25: primed").toBeTruthy();
        expect(exchange.events[0]?.data).toBe("");
        // And without the header, the same (the negotiated version stands).
        const bare = await callWithHeader(session, undefined);
        expect(bare.exchange.events[0]?.data).toBe("");
        expect(bare.exchange.events[0]?.id).toBeTruthy();
      });
    });
  });
}

describe.runIf(drivers().includes("postgres"))("MCP legacy GET-stream resume across nodes (postgres)", () => {
  let cluster: Cluster;
  let alice: TestUser;
  let token: string;

  beforeAll(async () => {
    cluster = await startCluster({ gatehouse: { tools: [gated], resources: [note], prompts: [greet] } });
    alice = await addSignedInUser(cluster.a, "alice@example.com");
    token = (await grant(cluster.publicUrl, alice.jar)).access;
  });
  afterAll(async () => cluster?.close());

  it("makes a GET stream resumed with Last-Event-ID on another node the listening stream there", async () => {
    // Node B has never seen the session: it listens only because the resumed GET counts as the GET stream.
    await resumedStreamListens({ notify: cluster.a.running.gatehouse.notify, token, userId: alice.id, openAt: cluster.base("a"), resumeAt: cluster.base("b") });
  });
});
