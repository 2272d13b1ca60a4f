/**
 * What /mcp echoes back or keeps per session (README "Limits"; PRODUCT §8;
 * SPEC-CHECKLIST RES-6, RES-7), black-box over HTTP on both databases:
 * over-long names, methods and URIs refused before the SDK repeats them (on
 * both protocol paths), subscriptions per session, no database text in any
 * answer, and the newest N events kept per stream — with a resumption from
 * a dropped event saying so instead of skipping silently.
 */
import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import type { JSONRPCMessage } from "@modelcontextprotocol/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ManualClock } from "../../src/clock.js";
import { DEFAULT_MCP_LIMITS } from "../../src/config.js";
import { KvEventStore, PositionAllocator } from "../../src/mcp/event-store.js";
import { MemoryKvStore } from "../../src/storage/kv/memory.js";
import { defineResource, defineTool } from "../../src/index.js";
import type { Db } from "../../src/storage/db.js";
import { drivers } from "../helpers/databases.js";
import { type JsonRpcMessage, messageOf, SseReader } from "../helpers/sse.js";
import { type LegacySession, modernFetch, openSession, readExchange, request, rpc, sessionGet, sessionRpc } from "../helpers/mcp.js";
import { addSignedInUser, grant } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const MB = 1024 * 1024;
const huge = (prefix = "") => `${prefix}${"n".repeat(MB)}`;

/** The database each server's failing handlers query (set once the server is up). */
const databases = new Map<string, Db>();
const failOnDatabase = async (key: string) => {
  await databases.get(key)!.execute(sql`SELECT secret_column FROM no_such_table WHERE name = ${"private-parameter"}`);
};

const emit = defineTool({
  name: "emit",
  description: "Sends `count` progress notifications, then returns.",
  input: z.object({ count: z.number().int().min(1).max(1000) }),
  async handler({ count }, ctx) {
    for (let i = 1; i <= count; i++) await ctx.progress(i, count);
    return { content: [{ type: "text", text: `emitted ${count}` }] };
  },
});
const broken = defineTool({
  name: "broken",
  description: "Fails on the database.",
  input: z.object({ db: z.string() }),
  async handler({ db }) {
    await failOnDatabase(db);
    return { content: [] };
  },
});
const notes = defineResource({
  name: "note",
  uri: "test://note/{id}",
  read: (uri) => ({ contents: [{ uri: uri.href, text: "a note" }] }),
});
const brokenResource = defineResource({
  name: "broken",
  uri: "test://broken/{db}",
  read: async (_uri, _ctx, variables) => {
    await failOnDatabase(String(variables.db));
    return { contents: [] };
  },
});

/** Nothing a database says: its SQL, table names, parameters or index errors. */
const DATABASE_TEXT = /failed query|select|insert|kv_store|no_such_table|secret_column|private-parameter|index row|btree|relation/i;

for (const driver of drivers()) {
  describe(`MCP limits on what is echoed and stored (${driver})`, () => {
    let server: TestServer;
    /** Small event cap; URIs allowed past what the KV index can hold, to reach the database's own refusal. */
    let small: TestServer;
    let token: string;
    let smallToken: string;

    beforeAll(async () => {
      const gatehouse = { tools: [emit, broken], resources: [notes, brokenResource] };
      server = await startTestServer(driver, { gatehouse });
      small = await startTestServer(driver, {
        gatehouse,
        config: { mcpLimits: { ...DEFAULT_MCP_LIMITS, maxEventsPerStream: 20, maxUriChars: 20_000 } },
      });
      databases.set(`${driver}-default`, server.running.deps.database.db);
      databases.set(`${driver}-small`, small.running.deps.database.db);
      token = (await grant(server.base, (await addSignedInUser(server, "echo@example.com")).jar)).access;
      smallToken = (await grant(small.base, (await addSignedInUser(small, "store@example.com")).jar)).access;
    });
    afterAll(async () => {
      await server?.close();
      await small?.close();
    });

    const storedEvents = async (target: TestServer, sessionId: string, streamId = "") =>
      (await target.running.deps.kv.scanByPrefix(`mcp:event:${encodeURIComponent(sessionId)}:${streamId ? `${encodeURIComponent(streamId)}:` : ""}`, { limit: 1000 }))
        .entries;

    describe(`names echoed into errors (methods and names ${DEFAULT_MCP_LIMITS.maxNameChars} characters, URIs ${DEFAULT_MCP_LIMITS.maxUriChars})`, () => {
      const expectShortRefusal = (exchange: { status: number; text: string; message: JsonRpcMessage | null }, id: number | string, code: number, path: string) => {
        expect(exchange.status, exchange.text.slice(0, 300)).toBe(200);
        expect(exchange.text.length, "the answer quotes only the start of the name").toBeLessThan(400);
        expect(exchange.message?.id).toBe(id);
        expect(exchange.message?.error?.code).toBe(code);
        expect(exchange.message?.error?.message).toMatch(new RegExp(`^Invalid (params|Request): ${path.replace(/[.]/g, "\\.")} is longer than \\d+ characters \\(".{1,40}…"\\)$`));
      };

      it("a 1 MB tool name in a 2025 session → -32602 quoting its first 40 characters, and no 1 MB event stored", async () => {
        const session = await openSession(server.base, token);
        const call = request("tools/call", { name: huge("tool-"), arguments: {} });
        expectShortRefusal(await sessionRpc(server.base, token, session, call), call.id!, -32602, "params.name");
        for (const event of await storedEvents(server, session.id)) expect(event.value.length).toBeLessThan(4096);
      });

      it("a 1 MB tool name at 2026-07-28 → the same refusal", async () => {
        const id = 9001;
        const response = await modernFetch(server.base, token, "tools/call", { name: huge("tool-"), arguments: {} }, { id, headers: { "mcp-name": "tool-n" } });
        expectShortRefusal(await readExchange(response, id), id, -32602, "params.name");
      });

      it.each([
        ["method", () => request(huge("tools/"), {}), -32600],
        ["params.name", () => request("prompts/get", { name: huge() }), -32602],
        ["params.uri", () => request("resources/read", { uri: `test://note/${"u".repeat(DEFAULT_MCP_LIMITS.maxUriChars)}` }), -32602],
        ["params.ref.name", () => request("completion/complete", { ref: { type: "ref/prompt", name: huge() }, argument: { name: "a", value: "" } }), -32602],
        ["params.ref.uri", () => request("completion/complete", { ref: { type: "ref/resource", uri: huge("test://") }, argument: { name: "a", value: "" } }), -32602],
        ["params.taskId", () => request("tasks/get", { taskId: huge() }), -32602],
      ])("an over-long %s → a short refusal on both paths", async (path, make, code) => {
        const session = await openSession(server.base, token);
        const legacy = make();
        expectShortRefusal(await sessionRpc(server.base, token, session, legacy), legacy.id!, code, path);
        const modern = make();
        const headers = { "mcp-method": "x", "mcp-name": "x" };
        const response = await modernFetch(server.base, token, String(modern.method), modern.params, { id: modern.id!, headers });
        expectShortRefusal(await readExchange(response, modern.id!), modern.id!, code, path);
      });

      it("an over-long protocol version (initialize, or the 2026-07-28 envelope) → a short refusal", async () => {
        const init = request("initialize", { protocolVersion: huge(), capabilities: {}, clientInfo: { name: "v", version: "1" } });
        expectShortRefusal(await rpc(server.base, { token, body: init }), init.id!, -32602, "params.protocolVersion");
        const id = 9002;
        const response = await modernFetch(server.base, token, "tools/list", { _meta: { "io.modelcontextprotocol/protocolVersion": huge() } }, { id });
        expectShortRefusal(await readExchange(response, id), id, -32602, "params._meta protocol version");
      });

      it("a name at the limit is served as usual (the SDK's own 'not found')", async () => {
        const session = await openSession(server.base, token);
        const name = "t".repeat(DEFAULT_MCP_LIMITS.maxNameChars);
        const answer = await sessionRpc(server.base, token, session, request("tools/call", { name, arguments: {} }));
        expect(answer.message?.error?.code).toBe(-32602);
        expect(answer.message?.error?.message).toContain(name);
      });
    });

    describe(`resources/subscribe (URIs up to ${DEFAULT_MCP_LIMITS.maxUriChars} characters, ${DEFAULT_MCP_LIMITS.maxSubscriptionsPerSession} per session)`, () => {
      const subscribe = (session: LegacySession, uri: string, target = server, bearer = token) =>
        sessionRpc(target.base, bearer, session, request("resources/subscribe", { uri }));
      const held = async (sessionId: string) =>
        (await server.running.deps.kv.scanByPrefix(`mcp:subscription:${sessionId}:`, { limit: 1000 })).entries.length;

      it("a longer URI → -32602, nothing stored", async () => {
        const session = await openSession(server.base, token);
        const answer = await subscribe(session, `test://note/${randomBytes(3000).toString("base64url")}`);
        expect(answer.message?.error?.code, answer.text.slice(0, 200)).toBe(-32602);
        expect(answer.text).not.toMatch(DATABASE_TEXT);
        expect(await held(session.id)).toBe(0);
      });

      it("one more subscription → -32000; renewing a held one, or subscribing after an unsubscribe, works", async () => {
        const session = await openSession(server.base, token);
        const max = DEFAULT_MCP_LIMITS.maxSubscriptionsPerSession;
        for (let i = 0; i < max; i++) expect((await subscribe(session, `test://note/${i}`)).message?.result).toEqual({});
        const refused = await subscribe(session, "test://note/one-too-many");
        expect(refused.message?.error).toEqual({ code: -32000, message: `Too many subscriptions: at most ${max} per session; unsubscribe from one first` });
        expect(await held(session.id)).toBe(max);
        expect((await subscribe(session, "test://note/7")).message?.result, "renewing a held URI").toEqual({});
        await sessionRpc(server.base, token, session, request("resources/unsubscribe", { uri: "test://note/7" }));
        expect((await subscribe(session, "test://note/one-too-many")).message?.result).toEqual({});
      });
    });

    describe("database errors never reach a client (PRODUCT §8)", () => {
      it("a subscription the KV index cannot hold → -32603 'Internal error', no SQL", async () => {
        const session = await openSession(small.base, smallToken);
        // Random, so the database cannot compress it under its index row limit (2,704 bytes).
        const uri = `test://note/${randomBytes(4500).toString("base64url")}`;
        const answer = await sessionRpc(small.base, smallToken, session, request("resources/subscribe", { uri }));
        expect(answer.status).toBe(200);
        expect(answer.message?.error).toEqual({ code: -32603, message: "Internal error" });
        expect(answer.text).not.toMatch(DATABASE_TEXT);
      });

      it("a tool failing on the database → an error result 'Internal error', on both paths", async () => {
        const session = await openSession(server.base, token);
        const call = request("tools/call", { name: "broken", arguments: { db: `${driver}-default` } });
        const legacy = await sessionRpc(server.base, token, session, call);
        expect(legacy.message?.result).toEqual({ content: [{ type: "text", text: "Internal error" }], isError: true });
        const modern = await readExchange(await modernFetch(server.base, token, "tools/call", call.params, { id: 9003 }), 9003);
        expect(modern.message?.result).toMatchObject({ content: [{ type: "text", text: "Internal error" }], isError: true });
        expect(legacy.text + modern.text).not.toMatch(DATABASE_TEXT);
      });

      it("a resource failing on the database → -32603 'Internal error'", async () => {
        const session = await openSession(server.base, token);
        const answer = await sessionRpc(server.base, token, session, request("resources/read", { uri: `test://broken/${driver}-default` }));
        expect(answer.message?.error).toEqual({ code: -32603, message: "Internal error" });
        expect(answer.text).not.toMatch(DATABASE_TEXT);
      });
    });

    describe("stored events per stream (RES-6): the newest 20 on this server", () => {
      let session: LegacySession;
      let events: { id: string; message: JsonRpcMessage | null }[];
      let callId: number | string;
      let streamId: string;

      beforeAll(async () => {
        session = await openSession(small.base, smallToken);
        const call = request("tools/call", { name: "emit", arguments: { count: 50 }, _meta: { progressToken: "p" } });
        callId = call.id!;
        const exchange = await sessionRpc(small.base, smallToken, session, call);
        events = exchange.events.map((e) => ({ id: e.id ?? "", message: messageOf(e) }));
        streamId = events[0]!.id.slice(0, events[0]!.id.lastIndexOf("."));
      });

      const progress = (list: { message: JsonRpcMessage | null }[]) =>
        list.filter((e) => e.message?.method === "notifications/progress").map((e) => e.message!.params!.progress as number);
      const resume = async (lastEventId: string) => {
        const response = await sessionGet(small.base, smallToken, session, lastEventId);
        if (response.status !== 200) return { status: response.status, body: await response.text(), events: [] };
        return { status: 200, body: "", events: (await new SseReader(response).rest()).map((e) => ({ id: e.id ?? "", message: messageOf(e) })) };
      };

      it("a call that sent 52 events (priming, 50 progress, result) leaves its newest 20 stored", async () => {
        expect(events, "the live stream itself carried everything").toHaveLength(52);
        expect(progress(events)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        let stored = await storedEvents(small, session.id, streamId);
        for (let i = 0; i < 100 && stored.length > 20; i++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          stored = await storedEvents(small, session.id, streamId);
        }
        expect(stored.map((e) => `${streamId}.${e.key.split(":").at(-1)}`)).toEqual(events.slice(-20).map((e) => e.id));
      });

      it("resuming from a dropped event says so first (with the client's own id), then replays every event kept", async () => {
        const replay = await resume(events[0]!.id);
        expect(replay.status, replay.body).toBe(200);
        const [notice, ...rest] = replay.events;
        expect(notice!.id, "resuming again from the same id says it again").toBe(events[0]!.id);
        expect(notice!.message).toMatchObject({
          method: "notifications/message",
          params: { level: "warning", logger: "gatehouse", data: { error: "events_dropped" } },
        });
        expect(rest.map((e) => e.id)).toEqual(events.slice(-20).map((e) => e.id));
        expect(progress(rest)).toEqual(Array.from({ length: 19 }, (_, i) => i + 32));
        expect(rest.at(-1)!.message?.id).toBe(callId);
      });

      it("resuming from a kept event replays exactly what follows, with no notice", async () => {
        const from = events.findIndex((e) => e.message?.params?.progress === 40);
        const replay = await resume(events[from]!.id);
        expect(replay.events.map((e) => e.id)).toEqual(events.slice(from + 1).map((e) => e.id));
      });

      it("an id never stored here (another session's, or made up) still gets the SDK's 400 (RES-7)", async () => {
        const other = await openSession(small.base, smallToken);
        const theirs = await sessionRpc(small.base, smallToken, other, request("ping"));
        const foreign = theirs.events.find((e) => e.id)?.id ?? `${streamId}.${"9".repeat(19)}zzzzzzzz`;
        for (const id of [foreign, `${streamId}.${"9".repeat(19)}zzzzzzzz`, `${streamId}.${"0".repeat(19)}zzzzzzzz`]) {
          const replay = await resume(id);
          expect(replay.status, id).toBe(400);
          expect(replay.body).toContain("Invalid event ID");
        }
      });
    });
  });
}

describe("KvEventStore retention", () => {
  const note = (n: number) => ({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: n } }) as JSONRPCMessage;

  it("trims a stream when its writes could have filled it, not again and again below the cap, and at most 1% over it", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const kv = new MemoryKvStore(clock);
    const trims: number[] = [];
    const trim = kv.trimByPrefix.bind(kv);
    kv.trimByPrefix = async (prefix, keep) => {
      const result = await trim(prefix, keep);
      trims.push(result.kept);
      return result;
    };
    const store = new KvEventStore(kv, "retention", new PositionAllocator(clock, "unit0002"), 60_000, { maxEvents: 1000 });
    const stored = async () => (await kv.scanByPrefix("mcp:event:retention:s:", { limit: 1000 })).entries.length;
    const write = async (count: number) => {
      for (let i = 0; i < count; i++) await store.storeEvent("s", note(i));
      await new Promise((resolve) => setTimeout(resolve, 10));
    };

    await write(10);
    expect(trims, "the first check after 1% of the cap learns how many the stream holds").toEqual([10]);
    await write(980);
    expect(trims, "no scan while the stream cannot have reached the cap").toEqual([10]);
    await write(30);
    expect(trims.length).toBeGreaterThan(1);
    expect(await stored()).toBeLessThanOrEqual(1010);
    for (let round = 0; round < 5; round++) {
      await write(100);
      expect(await stored()).toBeLessThanOrEqual(1010);
    }
  });
});
