/**
 * Gateway mode (issue 12): Gatehouse in front of existing MCP servers. A
 * stdio upstream (test/fixtures/upstream-stdio.ts, one process shared by all
 * users) and a Streamable HTTP upstream (test/fixtures/upstream-http.ts,
 * which records the headers it receives), named in a gatehouse.config.json,
 * are served through a real Gatehouse with OAuth on both protocol
 * generations: prefixed names, the caller's identity passed on (never its
 * token), scopes with step-up, a crashed child answering its call with an
 * error and restarting, and no process left behind after close.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drivers } from "../helpers/databases.js";
import { addSignedInUser, bearerChallenge, grant, pollUntil, type Grant, type TestUser } from "../helpers/mcp-fixtures.js";
import {
  modernFetch, modernRpc, notification, openSession, readExchange, request, rpcId, sessionPost, sessionRpc, type RpcExchange,
} from "../helpers/mcp.js";
import { startTestServer, type TestServer } from "../helpers/server.js";
import { startHttpUpstream, type HttpUpstream } from "../fixtures/upstream-http.js";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const STDIO_FIXTURE = path.join(ROOT, "test/fixtures/upstream-stdio.ts");

function writeConfig(upstream: HttpUpstream): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "gatehouse-gateway-")), "gatehouse.config.json");
  const config = {
    upstreams: [
      {
        name: "local",
        command: process.execPath,
        args: ["--import", "tsx", STDIO_FIXTURE],
        env: { GATEWAY_FIXTURE_GRANDCHILD: "1" },
        cwd: ROOT,
        tools: { deny: ["hidden"] },
        timeoutMs: 3000,
      },
      {
        name: "remote",
        url: upstream.url,
        headers: { "X-Upstream-Key": "static-key" },
        identityHeaders: { userId: "X-Gatehouse-User-Id", email: "X-Gatehouse-Email", scopes: "X-Gatehouse-Scopes" },
        scopes: ["remote:use"],
      },
    ],
  };
  writeFileSync(file, JSON.stringify(config));
  return file;
}

function resultText(exchange: RpcExchange): string {
  expect(exchange.status, exchange.text).toBe(200);
  const result = exchange.message?.result as { content?: { text?: string }[]; isError?: boolean } | undefined;
  expect(result, exchange.text).toBeDefined();
  return result!.content?.[0]?.text ?? "";
}

function isError(exchange: RpcExchange): boolean {
  return (exchange.message?.result as { isError?: boolean } | undefined)?.isError === true;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const call = (base: string, token: string, name: string, args: Record<string, unknown> = {}) => modernRpc(base, token, "tools/call", { name, arguments: args });

async function pids(base: string, token: string): Promise<{ pid: number; grandchild: number; cancelled: number }> {
  return JSON.parse(resultText(await call(base, token, "local_pid"))) as { pid: number; grandchild: number; cancelled: number };
}

for (const driver of drivers()) {
  describe(`gateway: upstream MCP servers behind Gatehouse (${driver})`, () => {
    let http: HttpUpstream;
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let full: Grant;
    let mcpOnly: Grant;
    let closed = false;

    beforeAll(async () => {
      http = await startHttpUpstream();
      server = await startTestServer(driver, { config: { configFile: writeConfig(http) } });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
      full = await grant(base, alice.jar, undefined, "mcp remote:use");
      mcpOnly = await grant(base, alice.jar, undefined, "mcp");
    }, 60_000);
    afterAll(async () => {
      if (!closed) await server?.close();
      await http?.close();
    });

    it("lists both upstreams' tools under their prefixes, with the upstream's JSON Schema and without denied tools", async () => {
      const listed = await modernRpc(base, full.access, "tools/list");
      expect(listed.status, listed.text).toBe(200);
      const tools = (listed.message?.result as { tools: { name: string; title?: string; inputSchema: Record<string, unknown> }[] }).tools;
      expect(tools.map((t) => t.name).sort()).toEqual(["local_echo", "local_pid", "local_slow", "remote_echo", "whoami"]);
      const echo = tools.find((t) => t.name === "local_echo")!;
      expect(echo.title).toBe("Echo");
      expect(echo.inputSchema).toMatchObject({ type: "object", properties: { text: { type: "string", description: "What to echo" } }, required: ["text"] });
    });

    it("passes tool definitions on whole — outputSchema, annotations, icons, _meta — and structured results, on both generations", async () => {
      const session = await openSession(base, full.access);
      const lists = [await modernRpc(base, full.access, "tools/list"), await sessionRpc(base, full.access, session, request("tools/list"))];
      for (const listed of lists) {
        expect(listed.status, listed.text).toBe(200);
        const pid = (listed.message?.result as { tools: Record<string, unknown>[] }).tools.find((t) => t.name === "local_pid")!;
        expect(pid.outputSchema).toMatchObject({
          type: "object",
          properties: { pid: { type: "number" }, cancelled: { type: "number" } },
          required: ["pid", "grandchild", "cancelled"],
        });
        expect(pid.annotations).toEqual({ readOnlyHint: true, openWorldHint: false });
        expect(pid.icons).toEqual([{ src: "https://example.com/pid.svg", mimeType: "image/svg+xml", sizes: ["any"] }]);
        expect(pid._meta).toEqual({ "example.com/kind": "diagnostic" });
      }
      const called = await call(base, full.access, "local_pid");
      expect(called.message?.result).toMatchObject({ structuredContent: { pid: expect.any(Number), cancelled: expect.any(Number) } });
    });

    it("calls the stdio upstream on both protocol generations, passing the caller in _meta", async () => {
      const expected = { echo: "hi", user: { id: alice.id, email: "alice@example.com", scopes: ["mcp", "remote:use"], clientId: full.client.client_id } };
      expect(JSON.parse(resultText(await call(base, full.access, "local_echo", { text: "hi" })))).toEqual(expected);
      const session = await openSession(base, full.access);
      const legacy = await sessionRpc(base, full.access, session, request("tools/call", { name: "local_echo", arguments: { text: "hi" } }));
      expect(JSON.parse(resultText(legacy))).toEqual(expected);
    });

    it("calls the HTTP upstream on both generations with identity headers, never the caller's token", async () => {
      http.received.length = 0;
      expect(resultText(await call(base, full.access, "remote_echo", { text: "yo" }))).toBe(`remote echo: yo (for ${alice.id})`);
      const session = await openSession(base, full.access, "2025-06-18");
      const legacy = await sessionRpc(base, full.access, session, request("tools/call", { name: "remote_echo", arguments: { text: "yo" } }));
      expect(resultText(legacy)).toBe(`remote echo: yo (for ${alice.id})`);

      const calls = http.received.filter((h) => h.get("x-gatehouse-user-id") !== null);
      expect(calls.length).toBeGreaterThanOrEqual(2);
      for (const headers of calls) {
        expect(headers.get("x-gatehouse-user-id")).toBe(alice.id);
        expect(headers.get("x-gatehouse-email")).toBe("alice@example.com");
        expect(headers.get("x-gatehouse-scopes")).toBe("mcp remote:use");
      }
      for (const headers of http.received) {
        expect(headers.get("x-upstream-key")).toBe("static-key");
        expect(headers.get("authorization")).toBeNull();
        expect([...headers.values()].some((value) => value.includes(full.access))).toBe(false);
      }
    });

    it("concurrent calls of two users each carry their own identity to the HTTP upstream", async () => {
      const bob = await addSignedInUser(server, "bob@example.com");
      const bobs = await grant(base, bob.jar, undefined, "mcp remote:use");
      const users = [
        { id: alice.id, token: full.access },
        { id: bob.id, token: bobs.access },
      ];
      const calls = Array.from({ length: 12 }, (_, i) => users[i % 2]!);
      const answers = await Promise.all(calls.map((user, i) => call(base, user.token, "remote_echo", { text: String(i) })));
      answers.forEach((answer, i) => expect(resultText(answer)).toBe(`remote echo: ${i} (for ${calls[i]!.id})`));
    });

    it("a token without the upstream's scope gets 403 insufficient_scope naming it; its other tools still work", async () => {
      const denied = await call(base, mcpOnly.access, "remote_echo", { text: "no" });
      expect(denied.status, denied.text).toBe(403);
      const challenge = bearerChallenge(denied.headers.get("www-authenticate"));
      expect(challenge.get("error")).toBe("insufficient_scope");
      expect(challenge.get("scope")?.split(" ")).toContain("remote:use");
      expect(resultText(await call(base, mcpOnly.access, "local_echo", { text: "ok" }))).toContain('"echo":"ok"');
    });

    it("forwards the upstream's progress to a caller that asked for it", async () => {
      const id = rpcId();
      const response = await modernFetch(base, full.access, "tools/call", { name: "local_slow", arguments: { ms: 10 }, _meta: { progressToken: "p1" } }, { id });
      const exchange = await readExchange(response, id);
      expect(JSON.parse(resultText(exchange))).toEqual({ waited: 10 });
      const progress = exchange.events.map((e) => JSON.parse(e.data) as { method?: string; params?: Record<string, unknown> }).filter((m) => m.method === "notifications/progress");
      expect(progress).toEqual([{ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: "p1", progress: 1, total: 2 } }]);
    });

    it("a call the client cancels is cancelled upstream", async () => {
      const session = await openSession(base, full.access);
      const id = rpcId();
      const pending = sessionRpc(base, full.access, session, request("tools/call", { name: "local_slow", arguments: { ms: 10_000 } }, id));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const cancel = await sessionPost(base, full.access, session, notification("notifications/cancelled", { requestId: id }));
      expect(cancel.status).toBe(202);
      await cancel.body?.cancel();
      const counted = await pollUntil(() => pids(base, full.access), (p) => p.cancelled === 1, 5000, 100);
      expect(counted.cancelled).toBe(1);
      void pending.catch(() => {});
    });

    it("/readyz lists each upstream's health without changing its status", async () => {
      const response = await fetch(`${base}/readyz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        status: "ready",
        upstreams: [
          { name: "local", transport: "stdio", status: "up", restarts: 0 },
          { name: "remote", transport: "http", status: "up", restarts: 0 },
        ],
      });
    });

    it("a call that outlasts the upstream's timeoutMs answers with an error; the upstream stays up", async () => {
      const late = await call(base, full.access, "local_slow", { ms: 4500 });
      expect(isError(late), late.text).toBe(true);
      expect(resultText(late)).toMatch(/^upstream local: .*timed out/i);
      expect(resultText(await call(base, full.access, "local_echo", { text: "still" }))).toContain('"echo":"still"');
    });

    it("a child killed mid-call answers that call with an error; the next call restarts it", async () => {
      const before = await pids(base, full.access);
      const pending = call(base, full.access, "local_slow", { ms: 10_000 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(before.pid, "SIGKILL");
      const failed = await pending;
      expect(isError(failed), failed.text).toBe(true);
      expect(resultText(failed)).toMatch(/^upstream local: /);
      // Its grandchild went with it: the whole process group is stopped.
      expect(await pollUntil(async () => alive(before.grandchild), (up) => !up, 3000)).toBe(false);

      expect(resultText(await call(base, full.access, "local_echo", { text: "again" }))).toContain('"echo":"again"');
      const after = await pids(base, full.access);
      expect(after.pid).not.toBe(before.pid);
      const ready = (await (await fetch(`${base}/readyz`)).json()) as { upstreams: { name: string; restarts: number }[] };
      expect(ready.upstreams.find((u) => u.name === "local")?.restarts).toBe(1);
    });

    it("an HTTP upstream that went away answers with an error and shows as down on /readyz", async () => {
      await http.close();
      const failed = await call(base, full.access, "remote_echo", { text: "anyone?" });
      expect(isError(failed), failed.text).toBe(true);
      expect(resultText(failed)).toMatch(/^upstream remote: /);
      const ready = (await (await fetch(`${base}/readyz`)).json()) as { status: string; upstreams: { name: string; status: string }[] };
      expect(ready.status).toBe("ready");
      expect(ready.upstreams.find((u) => u.name === "remote")?.status).toBe("down");
    });

    it("close stops the stdio server and everything it started", async () => {
      const { pid, grandchild } = await pids(base, full.access);
      expect(alive(pid) && alive(grandchild)).toBe(true);
      closed = true;
      await server.close();
      expect(alive(pid)).toBe(false);
      expect(await pollUntil(async () => alive(grandchild), (up) => !up, 2000)).toBe(false);
    });
  });
}

describe("gateway: start-up", () => {
  it("two upstreams offering one name stop start-up with the field to change, leaving no process", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "gatehouse-gateway-"));
    const upstream = (name: string) => ({
      name,
      command: process.execPath,
      args: ["--import", "tsx", STDIO_FIXTURE],
      cwd: ROOT,
      prefix: "",
      env: { GATEWAY_FIXTURE_PIDFILE: path.join(dir, `${name}.pid`) },
    });
    await expect(startTestServer("pglite", { gatehouse: { upstreams: [upstream("a"), upstream("b")] } })).rejects.toThrow(
      /^upstreams\[1\]\.prefix: the tool "(echo|slow|pid)" is also offered by upstream "a"; give one of them a prefix$/,
    );
    for (const name of ["a", "b"]) {
      const { pid } = JSON.parse(readFileSync(path.join(dir, `${name}.pid`), "utf8")) as { pid: number };
      expect(alive(pid)).toBe(false);
    }
  });


  it("does not stop Gatehouse: its tools are absent, /readyz says it is down, and its scopes can still be granted", async () => {
    const server = await startTestServer("pglite", {
      gatehouse: { upstreams: [{ name: "broken", command: path.join(ROOT, "no-such-command"), scopes: ["broken:use"] }] },
    });
    try {
      const ready = await fetch(`${server.base}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", upstreams: [{ name: "broken", transport: "stdio", status: "down", restarts: 0 }] });
      // Its tools may appear later (a list change): a token must be able to ask for what they will need.
      const metadata = (await (await fetch(`${server.base}/.well-known/oauth-authorization-server`)).json()) as { scopes_supported: string[] };
      expect(metadata.scopes_supported).toContain("broken:use");
    } finally {
      await server.close();
    }
  });
});
