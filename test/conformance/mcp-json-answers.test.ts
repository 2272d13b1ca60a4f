/**
 * `GATEHOUSE_MCP_JSON_ANSWERS` (src/mcp/legacy-held.ts): a 2025 session call
 * that sends nothing before its answer is answered as `application/json`
 * (MCP 2025-11-25 transports: the client accepts both forms) and stores no
 * event; a call that sends progress, or runs past the hold, gets the primed
 * SSE stream it always had, and resumes from it. Both forms carry the same
 * JSON-RPC answers (the differential block flips the setting on one server).
 */
import { like } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineTool } from "../../src/index.js";
import { kvStoreEntries } from "../../src/storage/schema.js";
import { drivers } from "../helpers/databases.js";
import { mcpFetch, openSession, readExchange, request, sessionGet, sessionPost, sessionRpc, type LegacySession } from "../helpers/mcp.js";
import { addSignedInUser, Gates, gatedTool, grant, type TestUser } from "../helpers/mcp-fixtures.js";
import { messageOf, SseReader, type JsonRpcMessage } from "../helpers/sse.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const gates = new Gates();

const gated = gatedTool(gates);

const counting = defineTool({
  name: "counting",
  description: "Reports progress three times, then answers.",
  async handler(_, ctx) {
    for (let i = 1; i <= 3; i++) await ctx.progress(i, 3);
    return { content: [{ type: "text", text: "counted" }] };
  },
});

const failing = defineTool({
  name: "failing",
  description: "Throws.",
  handler() {
    throw new Error("it broke");
  },
});

const progressOf = (messages: (JsonRpcMessage | null)[]) => messages.filter((m) => m?.method === "notifications/progress").map((m) => m!.params!.progress);

for (const driver of drivers()) {
  describe(`MCP 2025 session calls answered as JSON (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let token: string;
    let session: LegacySession;

    beforeAll(async () => {
      server = await startTestServer(driver, { config: { mcpJsonAnswers: true }, gatehouse: { tools: [gated, counting, failing] } });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
      token = (await grant(base, alice.jar)).access;
      session = await openSession(base, token, "2025-11-25");
    });
    afterAll(async () => server?.close());

    const storedEvents = async (sessionId: string) =>
      server.running.deps.database.db
        .select({ key: kvStoreEntries.key })
        .from(kvStoreEntries)
        .where(like(kvStoreEntries.key, `mcp:event:${encodeURIComponent(sessionId)}:%`));

    it("answers a call that sends nothing before its answer with one JSON object, and stores no event", async () => {
      const own = await openSession(base, token, "2025-11-25");
      const before = await storedEvents(own.id); // initialize's own stream
      const call = request("tools/call", { name: "whoami", arguments: {} });
      const exchange = await sessionRpc(base, token, own, call);
      expect(exchange.status).toBe(200);
      expect(exchange.headers.get("content-type")).toBe("application/json");
      expect(exchange.headers.get("mcp-session-id")).toBe(own.id);
      expect(exchange.message?.id).toBe(call.id);
      expect(exchange.text).toContain("alice@example.com");
      expect(await storedEvents(own.id)).toEqual(before);
    });

    it("answers a protocol error (unknown tool) as JSON too", async () => {
      const exchange = await sessionRpc(base, token, session, request("tools/call", { name: "nope", arguments: {} }));
      expect(exchange.headers.get("content-type")).toBe("application/json");
      expect(exchange.message?.error?.code).toBe(-32602);
    });

    it("streams a call that reports progress as SSE, primed, with every event stored for resumption", async () => {
      const call = request("tools/call", { name: "counting", arguments: {}, _meta: { progressToken: "p1" } });
      const response = await sessionPost(base, token, session, call);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      const exchange = await readExchange(response, call.id!);
      const priming = exchange.events[0]!;
      expect(priming.id, "the stream opens with its priming event").toBeTruthy();
      expect(priming.data).toBe("");
      expect(progressOf(exchange.events.map(messageOf))).toEqual([1, 2, 3]);

      // Resuming from the priming event replays everything the call sent, the answer last.
      const resumed = await sessionGet(base, token, session, priming.id);
      expect(resumed.status).toBe(200);
      const replay = await new SseReader(resumed).until((_, m) => m?.id === call.id, 5000);
      const messages = replay.map(messageOf);
      expect(progressOf(messages)).toEqual([1, 2, 3]);
      expect(JSON.stringify(messages.at(-1)?.result)).toContain("counted");
    });

    it("gives a call still running after the hold its primed stream, and the answer resumes from it", async () => {
      const gate = gates.open("long");
      const call = request("tools/call", { name: "gated", arguments: { run: "long" } });
      const response = await sessionPost(base, token, session, call);
      // The headers arrived while the tool is still waiting for its gate.
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      const reader = new SseReader(response);
      const [priming] = await reader.until((event) => event.id !== undefined, 5000);
      expect(priming!.data).toBe("");
      await gate.started;
      await reader.close(); // the client drops the stream before the answer
      gate.release();

      let replay: ReturnType<typeof messageOf>[] = [];
      for (let attempt = 0; attempt < 50 && !replay.some((m) => m?.id === call.id); attempt++) {
        const resumed = await sessionGet(base, token, session, priming!.id);
        if (resumed.status !== 200) {
          await resumed.body?.cancel();
          continue;
        }
        replay = (await new SseReader(resumed).rest(300)).map(messageOf);
      }
      const answer = replay.find((m) => m?.id === call.id);
      expect(JSON.stringify(answer?.result)).toContain("gated long done");
    });

    it("ends a held call's response when its session ends, as the SDK ends an open stream", async () => {
      const own = await openSession(base, token, "2025-11-25");
      const gate = gates.open("ended");
      const call = request("tools/call", { name: "gated", arguments: { run: "ended" } });
      const pending = sessionPost(base, token, own, call);
      await gate.started;
      const ended = await mcpFetch(base, { method: "DELETE", token, sessionId: own.id, protocolVersion: own.header! });
      expect(ended.status).toBe(200);
      const response = await pending;
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      const reader = new SseReader(response);
      expect(await reader.endsWithin(5000), "the stream ends").toBe(true);
      expect(reader.seen.map(messageOf).some((m) => m?.id === call.id), "with no answer").toBe(false);
      gate.release();
    });

    it("never answers JSON to a client that does not accept it (the SDK's 406, as before)", async () => {
      const response = await sessionPost(base, token, session, request("tools/call", { name: "whoami", arguments: {} }), {
        headers: { accept: "text/event-stream" },
      });
      expect(response.status).toBe(406);
      await response.body?.cancel();
    });

    it("keeps another user's token out of the session (404)", async () => {
      const bob = await addSignedInUser(server, "bob@example.com");
      const bobToken = (await grant(base, bob.jar)).access;
      const exchange = await sessionRpc(base, bobToken, session, request("tools/call", { name: "whoami", arguments: {} }));
      expect(exchange.status).toBe(404);
      expect(exchange.message?.error?.code).toBe(-32001);
      expect(exchange.text).not.toContain("alice@example.com");
    });

    it("gives the same JSON-RPC answers as the SSE path (differential)", async () => {
      const legacy = server.running.services.mcp.legacy;
      const bodies = [
        request("tools/call", { name: "whoami", arguments: {} }, "w"),
        request("tools/call", { name: "nope", arguments: {} }, "n"),
        request("tools/call", { name: "gated", arguments: { run: 5 } }, "bad-args"),
        request("tools/call", { name: "failing", arguments: {} }, "f"),
        request("tools/call", { name: "whoami", arguments: { extra: "ünïcödé ✓" } }, 7),
        request("tools/list", {}, "l"),
        request("prompts/list", {}, "p"),
        request("no/such/method", {}, "m"),
        request("ping", {}, "ping"),
      ];
      const answers = async (json: boolean) => {
        legacy.jsonAnswers = json;
        const out = [];
        for (const body of bodies) {
          const exchange = await sessionRpc(base, token, session, body);
          const type = exchange.headers.get("content-type") ?? "";
          expect(type, JSON.stringify(body)).toContain(json ? "application/json" : "text/event-stream");
          out.push({ status: exchange.status, message: exchange.message });
        }
        return out;
      };
      try {
        const viaSse = await answers(false);
        const viaJson = await answers(true);
        expect(viaJson).toEqual(viaSse);
      } finally {
        legacy.jsonAnswers = true;
      }
    });
  });
}
