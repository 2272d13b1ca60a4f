/**
 * The tool API seen from outside (PRODUCT §6 "Tools"; SPEC-CHECKLIST RS-4,
 * LC-4; THREATS 40): built-in `whoami` returns the caller on both protocol
 * generations; a tool's declared scopes are offered by the authorization
 * server and enforced with a 403 `insufficient_scope` step-up challenge;
 * handlers get who is calling, the session and an abort signal; unknown
 * tools and bad arguments are protocol errors, never 500s.
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { defineTool } from "../../src/index.js";
import { drivers } from "../helpers/databases.js";
import { SseReader } from "../helpers/sse.js";
import { MODERN_VERSION, modernFetch, readExchange, modernRpc, notification, openSession, request, sessionPost, sessionRpc, type LegacySession, type RpcExchange } from "../helpers/mcp.js";
import { addSignedInUser, bearerChallenge, deferred, grant, newClient, type Grant, type TestUser } from "../helpers/mcp-fixtures.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/* ------------------------------------------------------------- tools */

const writeFile = defineTool({
  name: "write_file",
  description: "Writes a file (needs files:write).",
  input: z.object({ path: z.string().min(1), content: z.string() }),
  scopes: ["files:write"],
  handler: ({ path }) => ({ content: [{ type: "text", text: `wrote ${path}` }] }),
});

const syncFiles = defineTool({
  name: "sync_files",
  description: "Reads and writes files (needs files:read and files:write).",
  scopes: ["files:read", "files:write"],
  handler: () => ({ content: [{ type: "text", text: "synced" }] }),
});

const probe = defineTool({
  name: "ctx_probe",
  description: "Reports the context it was called with.",
  handler: (_args, ctx) => {
    const seen = {
      user: ctx.user,
      client: ctx.client,
      scopes: ctx.scopes,
      sessionId: ctx.sessionId ?? null,
      connectionId: ctx.connectionId,
      signal: { isAbortSignal: ctx.signal instanceof AbortSignal, aborted: ctx.signal.aborted },
      progress: typeof ctx.progress,
    };
    return { content: [{ type: "text", text: JSON.stringify(seen) }], structuredContent: seen };
  },
});

const cancellations = new Map<string, { started: () => void; aborted: (reason: unknown) => void }>();
const waitForCancel = defineTool({
  name: "wait_for_cancel",
  description: "Waits until the call is cancelled (or 10 s pass).",
  input: z.object({ key: z.string() }),
  async handler({ key }, ctx) {
    const hooks = cancellations.get(key);
    hooks?.started();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      ctx.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        hooks?.aborted(ctx.signal.reason);
        resolve();
      });
    });
    return { content: [{ type: "text", text: ctx.signal.aborted ? "cancelled" : "timed out" }] };
  },
});

const add = defineTool({
  name: "add",
  description: "Adds two non-negative integers.",
  input: z.object({ a: z.number().int().min(0), b: z.number().int().min(0) }),
  handler: ({ a, b }) => ({ content: [{ type: "text", text: String(a + b) }] }),
});

const TOOLS = [writeFile, syncFiles, probe, waitForCancel, add];

interface Identity {
  user: { id: string; email: string };
  client: { id: string; name: string | null };
  scopes: string[];
}

function structured<T>(exchange: RpcExchange): T {
  expect(exchange.status, exchange.text).toBe(200);
  expect(exchange.message?.error, exchange.text).toBeUndefined();
  const result = exchange.message!.result as { structuredContent?: T; isError?: boolean };
  expect(result.isError ?? false, exchange.text).toBe(false);
  return result.structuredContent!;
}

/** A tools/call answered as an error: a JSON-RPC error (optionally with `code`) or an `isError` result — never 5xx. */
function expectToolError(exchange: RpcExchange, allowed: { code?: number; result?: boolean }) {
  expect(exchange.status, exchange.text).toBeLessThan(500);
  expect(exchange.message, exchange.text).not.toBeNull();
  const error = exchange.message!.error;
  const result = exchange.message!.result as { isError?: boolean } | undefined;
  if (error) {
    if (allowed.code !== undefined) expect(error.code, exchange.text).toBe(allowed.code);
  } else {
    expect(allowed.result, `an isError result is not allowed here: ${exchange.text}`).toBe(true);
    expect(result?.isError, exchange.text).toBe(true);
  }
}

for (const driver of drivers()) {
  describe(`MCP tools (${driver})`, () => {
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let plain: Grant; // scope mcp only

    beforeAll(async () => {
      server = await startTestServer(driver, { gatehouse: { tools: TOOLS } });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
      plain = await grant(base, alice.jar);
    });
    afterAll(async () => server?.close());

    const resourceMetadata = () => `${base}/.well-known/oauth-protected-resource/mcp`;
    const call = (name: string, args: Record<string, unknown> = {}) => request("tools/call", { name, arguments: args });

    describe("whoami (PRODUCT §6: built in)", () => {
      it("returns the caller's email, id, client name and scopes on a 2025 session", async () => {
        const session = await openSession(base, plain.access, "2025-11-25");
        const me = structured<Identity>(await sessionRpc(base, plain.access, session, call("whoami")));
        expect(me.user).toEqual({ id: alice.id, email: "alice@example.com" });
        expect(me.client).toEqual({ id: plain.client.client_id, name: plain.client.client_name });
        expect(me.scopes).toEqual(["mcp"]);
      });

      it("returns the same over raw 2026-07-28 requests", async () => {
        const me = structured<Identity>(await modernRpc(base, plain.access, "tools/call", { name: "whoami", arguments: {} }));
        expect(me.user).toEqual({ id: alice.id, email: "alice@example.com" });
        expect(me.client).toEqual({ id: plain.client.client_id, name: plain.client.client_name });
        expect(me.scopes).toEqual(["mcp"]);
      });

      it("answers the official 2.x client pinned to 2026-07-28, and tells two users apart", async () => {
        const bob = await addSignedInUser(server, `bob-${driver}@example.com`);
        const bobGrant = await grant(base, bob.jar, plain.client);
        for (const [who, token, email] of [
          ["alice", plain.access, "alice@example.com"],
          ["bob", bobGrant.access, `bob-${driver}@example.com`],
        ] as const) {
          const client = new Client({ name: `whoami-${who}`, version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN_VERSION } } });
          await client.connect(
            new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }),
          );
          try {
            const result = await client.callTool({ name: "whoami", arguments: {} });
            const me = result.structuredContent as unknown as Identity;
            expect(me.user.email).toBe(email);
            expect(me.client.name).toBe(plain.client.client_name);
          } finally {
            await client.close();
          }
        }
      });

      it("keeps users and clients apart under concurrent 2026-07-28 calls with the same request id (servers are reused per user and client)", async () => {
        const carol = await addSignedInUser(server, `carol-${driver}@example.com`);
        const grants = [
          { email: "alice@example.com", grant: plain },
          { email: "alice@example.com", grant: await grant(base, alice.jar) },
          { email: `carol-${driver}@example.com`, grant: await grant(base, carol.jar, plain.client) },
        ];
        const calls = Array.from({ length: 60 }, (_, i) => grants[i % grants.length]!);
        const answers = await Promise.all(
          calls.map(async ({ grant: g }) => {
            const response = await modernFetch(base, g.access, "tools/call", { name: "whoami", arguments: {} }, { id: 1 });
            return structured<Identity>(await readExchange(response, 1));
          }),
        );
        answers.forEach((me, i) => {
          expect(me.user.email).toBe(calls[i]!.email);
          expect(me.client.id).toBe(calls[i]!.grant.client.client_id);
        });
      });

      it("reports the scopes actually granted", async () => {
        const wide = await grant(base, alice.jar, undefined, "mcp files:write");
        const session = await openSession(base, wide.access, "2025-06-18");
        const me = structured<Identity>(await sessionRpc(base, wide.access, session, call("whoami")));
        expect([...me.scopes].sort()).toEqual(["files:write", "mcp"]);
      });
    });

    describe("scoped tools and step-up (RS-4; PRODUCT §6)", () => {
      it("offers every declared scope in the authorization server metadata, and never offline_access at the resource", async () => {
        const as = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported?: string[] };
        expect(as.scopes_supported).toEqual(expect.arrayContaining(["mcp", "files:write", "files:read", "offline_access"]));
        const prm = (await (await fetch(resourceMetadata())).json()) as { scopes_supported?: string[] };
        expect(prm.scopes_supported).toEqual(expect.arrayContaining(["mcp", "files:write", "files:read"]));
        expect(prm.scopes_supported).not.toContain("offline_access");
      });

      const expectStepUp = (exchange: RpcExchange, needed: string[]) => {
        expect(exchange.status, exchange.text).toBe(403);
        const challenge = bearerChallenge(exchange.headers.get("www-authenticate"));
        expect(challenge.get("error")).toBe("insufficient_scope");
        const scopes = (challenge.get("scope") ?? "").split(" ");
        expect(scopes, "the challenge names every scope the tool needs").toEqual(expect.arrayContaining(needed));
        expect(scopes).not.toContain("offline_access");
        expect(challenge.get("resource_metadata")).toBe(resourceMetadata());
        expect(exchange.text).not.toMatch(/wrote|synced/);
      };

      it("answers a 2025 tools/call without the scope with 403 insufficient_scope naming it; the session lives on", async () => {
        const session = await openSession(base, plain.access, "2025-11-25");
        expectStepUp(await sessionRpc(base, plain.access, session, call("write_file", { path: "a.txt", content: "x" })), ["files:write"]);
        // Other tools stay usable, and the session survives the refusal.
        const list = await sessionRpc(base, plain.access, session, request("tools/list"));
        expect((list.message?.result?.tools as { name: string }[]).map((t) => t.name)).toContain("write_file");
        structured<Identity>(await sessionRpc(base, plain.access, session, call("whoami")));
      });

      it("answers a 2026-07-28 tools/call without the scope with 403 insufficient_scope naming it", async () => {
        expectStepUp(await modernRpc(base, plain.access, "tools/call", { name: "write_file", arguments: { path: "a.txt", content: "x" } }), [
          "files:write",
        ]);
      });

      it("names all the scopes a tool needs, not only the missing one", async () => {
        const partial = await grant(base, alice.jar, undefined, "mcp files:read");
        const session = await openSession(base, partial.access, "2025-11-25");
        expectStepUp(await sessionRpc(base, partial.access, session, call("sync_files")), ["files:read", "files:write"]);
        expectStepUp(await modernRpc(base, partial.access, "tools/call", { name: "sync_files", arguments: {} }), ["files:read", "files:write"]);
      });

      it("lets the call through once the user has authorized the scope (both generations)", async () => {
        const client = await newClient(base, "step-up");
        const before = await grant(base, alice.jar, client);
        const session = await openSession(base, before.access, "2025-11-25");
        expectStepUp(await sessionRpc(base, before.access, session, call("write_file", { path: "b.txt", content: "y" })), ["files:write"]);

        // Step-up: the same client asks again with the challenged scope.
        const after = await grant(base, alice.jar, client, "mcp files:write");
        expect(after.scope.split(" ")).toContain("files:write");
        const legacy = await sessionRpc(base, after.access, await openSession(base, after.access, "2025-11-25"), call("write_file", { path: "b.txt", content: "y" }));
        expect(legacy.status, legacy.text).toBe(200);
        expect(legacy.text).toContain("wrote b.txt");
        const modern = await modernRpc(base, after.access, "tools/call", { name: "write_file", arguments: { path: "c.txt", content: "z" } });
        expect(modern.status, modern.text).toBe(200);
        expect(modern.text).toContain("wrote c.txt");

        const both = await grant(base, alice.jar, undefined, "mcp files:read files:write");
        const synced = await modernRpc(base, both.access, "tools/call", { name: "sync_files", arguments: {} });
        expect(synced.text).toContain("synced");
      });
    });

    describe("the handler's context (PRODUCT §6: user, client, scopes, session, signal)", () => {
      interface Seen extends Identity {
        sessionId: string | null;
        connectionId: string;
        signal: { isAbortSignal: boolean; aborted: boolean };
        progress: string;
      }

      it("carries user, client, scopes, the session id and a live signal on a 2025 session", async () => {
        const session = await openSession(base, plain.access, "2025-11-25");
        const seen = structured<Seen>(await sessionRpc(base, plain.access, session, call("ctx_probe")));
        expect(seen.user).toEqual({ id: alice.id, email: "alice@example.com" });
        expect(seen.client).toEqual({ id: plain.client.client_id, name: plain.client.client_name, capabilities: {} });
        expect(seen.scopes).toEqual(["mcp"]);
        expect(seen.sessionId).toBe(session.id);
        expect(seen.connectionId).toBeTypeOf("string");
        expect(seen.signal).toEqual({ isAbortSignal: true, aborted: false });
        expect(seen.progress).toBe("function");
      });

      it("carries the same without a session on 2026-07-28", async () => {
        const seen = structured<Seen>(await modernRpc(base, plain.access, "tools/call", { name: "ctx_probe", arguments: {} }));
        expect(seen.user).toEqual({ id: alice.id, email: "alice@example.com" });
        expect(seen.client.id).toBe(plain.client.client_id);
        expect(seen.scopes).toEqual(["mcp"]);
        expect(seen.sessionId).toBeNull();
        expect(seen.signal).toEqual({ isAbortSignal: true, aborted: false });
      });

      it("aborts the signal when the client cancels the call (notifications/cancelled)", async () => {
        const session: LegacySession = await openSession(base, plain.access, "2025-11-25");
        const started = deferred();
        const aborted = deferred<unknown>();
        const key = `cancel-${driver}`;
        cancellations.set(key, { started: () => started.resolve(), aborted: (reason) => aborted.resolve(reason) });
        const waiting = call("wait_for_cancel", { key });
        const stream = new SseReader(await sessionPost(base, plain.access, session, waiting));
        await started.promise;
        const cancel = await sessionPost(base, plain.access, session, notification("notifications/cancelled", { requestId: waiting.id, reason: "test" }));
        expect(cancel.status).toBe(202);
        await cancel.body?.cancel();
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          aborted.promise.then(() => "aborted"),
          new Promise((resolve) => {
            timer = setTimeout(() => resolve("not aborted within 3 s"), 3000);
          }),
        ]);
        clearTimeout(timer);
        expect(outcome).toBe("aborted");
        await stream.close();
      });
    });

    describe("errors (LC-4; PRODUCT §8)", () => {
      it("answers an unknown tool with JSON-RPC error -32602 on a 2025 session", async () => {
        const session = await openSession(base, plain.access, "2025-11-25");
        const exchange = await sessionRpc(base, plain.access, session, call("no_such_tool"));
        expect(exchange.status).toBe(200);
        expect(exchange.message?.error?.code, exchange.text).toBe(-32602);
      });

      it("answers an unknown tool on 2026-07-28 with an error, never 5xx", async () => {
        const exchange = await modernRpc(base, plain.access, "tools/call", { name: "no_such_tool", arguments: {} });
        expectToolError(exchange, { code: -32602, result: true });
      });

      it("validates arguments with the tool's zod schema: an error result or -32602, never 500 (both generations)", async () => {
        const session = await openSession(base, plain.access, "2025-11-25");
        for (const args of [{ a: "one", b: 2 }, { a: 1 }, { a: -1, b: 2 }, { a: 1.5, b: 2 }]) {
          const legacy = await sessionRpc(base, plain.access, session, call("add", args));
          expectToolError(legacy, { code: -32602, result: true });
          const modern = await modernRpc(base, plain.access, "tools/call", { name: "add", arguments: args });
          expectToolError(modern, { code: -32602, result: true });
          expect(`${legacy.text}${modern.text}`, JSON.stringify(args)).not.toMatch(/"text":"\d+"/);
        }
        const good = await sessionRpc(base, plain.access, session, call("add", { a: 2, b: 3 }));
        expect(good.text).toContain('"text":"5"');
      });

      it("refuses a 2026-07-28 tools/call whose Mcp-Name header differs from the body with 4xx", async () => {
        const response = await modernFetch(base, plain.access, "tools/call", { name: "add", arguments: { a: 1, b: 2 } }, { headers: { "mcp-name": "whoami" } });
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        await response.body?.cancel();
      });
    });
  });
}
