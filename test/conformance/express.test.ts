/**
 * Gatehouse in Express through `toNodeHandler`, behind the body parsers most
 * Express apps mount first (`express.json()`, `express.urlencoded()`): the
 * whole OAuth flow and /mcp work on the rebuilt bodies, Gatehouse's body caps
 * still hold, and the host's own routes — after Gatehouse — still answer.
 * Mounted without the adapter (the bare node-server listener), the same app
 * loses every body a parser read.
 */
import type { Server } from "node:http";
import net, { type AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import express, { type RequestHandler } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser } from "../../src/accounts/users.js";
import { loadConfig } from "../../src/config.js";
import { createGatehouse, type Gatehouse } from "../../src/gatehouse.js";
import { createLogger, silentLogger } from "../../src/logger.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { toNodeHandler } from "../../src/web/node-handler.js";
import { createTestDatabase, drivers, type TestDatabase } from "../helpers/databases.js";
import { envelope, mcpFetch, modernRpc, openGetStream, openSession, request, sessionRpc } from "../helpers/mcp.js";
import { connect, expectOAuthError, postForm, postRegistration, readRaw, signIn } from "../helpers/oauth.js";
import { freePort } from "../helpers/server.js";

interface ExpressHost {
  base: string;
  close(): Promise<void>;
}

/**
 * An Express app: its parsers first, then Gatehouse (through the adapter, or
 * through the bare listener), then routes of its own. A request with
 * `x-swallow` has its body read by a handler that keeps nothing; one with
 * `x-keep-raw` has its JSON bytes kept as `req.rawBody`.
 */
async function startExpressHost(gatehouse: Gatehouse, port: number, mount: "adapter" | "bare"): Promise<ExpressHost> {
  const app = express();
  const swallow: RequestHandler = (req, _res, next) => {
    if (!req.headers["x-swallow"]) return next();
    req.resume();
    req.on("end", () => next());
  };
  app.use(swallow);
  app.use(
    express.json({
      limit: "8mb", // above /mcp's 4 MB: Gatehouse's own cap must be the one that refuses
      verify: (req, _res, buf) => {
        if (req.headers["x-keep-raw"]) (req as typeof req & { rawBody?: Buffer }).rawBody = buf;
      },
    }),
  );
  app.use(express.urlencoded());
  app.use(mount === "adapter" ? toNodeHandler(gatehouse) : (getRequestListener(gatehouse.app.fetch) as RequestHandler));
  app.get("/hello", (_req, res) => {
    res.json({ hello: "from the host" });
  });
  app.post("/host/text", express.text({ limit: "1mb" }), (req, res) => {
    res.json({ length: (req.body as string).length });
  });
  app.post("/host/echo", (req, res) => {
    res.json({ echoed: req.body as unknown });
  });
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(port, "127.0.0.1", () => resolve(listening));
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A raw HTTP/1.0 request without a Host header (as some load-balancer health checks send); the status line. */
function statusWithoutHost(base: string, path: string): Promise<string> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    let answer = "";
    const socket = net.connect(Number(port), hostname, () => socket.end(`GET ${path} HTTP/1.0\r\n\r\n`));
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString()));
    socket.on("end", () => resolve(answer.split("\r\n")[0]!));
    socket.on("error", reject);
  });
}

for (const driver of drivers()) {
  describe(`Gatehouse in Express behind its body parsers (${driver})`, () => {
    let testDb: TestDatabase;
    let gatehouse: Gatehouse;
    let host: ExpressHost;
    let base: string;
    let adaId: string;
    const logLines: string[] = [];
    beforeAll(async () => {
      testDb = await createTestDatabase(driver);
      const port = await freePort();
      gatehouse = await createGatehouse({
        config: loadConfig({}, { port, host: "127.0.0.1", publicUrl: `http://127.0.0.1:${port}` }),
        database: testDb.database,
        logger: createLogger({ format: "json", write: (line) => logLines.push(line) }),
        onSetupLink: () => {},
        appDeps: { rateLimits: { register: unlimited, loginByIp: unlimited, loginByIpAccount: unlimited, loginByAccount: unlimited, clientSecret: unlimited } },
      });
      host = await startExpressHost(gatehouse, port, "adapter");
      base = host.base;
      adaId = (await createUser(testDb.database.db, { email: "ada@example.com", password: "ada's long password" })).id;
    });
    afterAll(async () => {
      await host?.close();
      await gatehouse?.close();
      await testDb?.cleanup();
    });

    it("DCR → sign-in → consent → token → tools/call whoami, every body through express.json() or express.urlencoded()", async () => {
      const jar = await signIn(base, "ada@example.com", "ada's long password"); // a urlencoded POST /login, 303
      const { client, tokens } = await connect(base, jar); // JSON /oauth/register 201, the consent form, the token form
      expect(client.client_id).toMatch(/^gh_/);
      expect(tokens.token_type).toBe("Bearer");
      const whoami = await modernRpc(base, tokens.access_token, "tools/call", { name: "whoami", arguments: {} });
      expect(whoami.status).toBe(200);
      expect(JSON.stringify(whoami.message?.result)).toContain("ada@example.com");
      // The refresh grant is a form too.
      const refreshed = await postForm(`${base}/oauth/token`, { grant_type: "refresh_token", refresh_token: tokens.refresh_token, client_id: client.client_id });
      expect(refreshed.status, refreshed.text).toBe(200);
    });

    it("a 2025 session streams through Express's response: initialize, tools/call, a notification on the GET stream", async () => {
      const jar = await signIn(base, "ada@example.com", "ada's long password");
      const { tokens } = await connect(base, jar);
      const session = await openSession(base, tokens.access_token);
      const call = await sessionRpc(base, tokens.access_token, session, request("tools/call", { name: "whoami", arguments: {} }));
      expect(call.status).toBe(200);
      expect(JSON.stringify(call.message?.result)).toContain("ada@example.com");
      const stream = await openGetStream(base, tokens.access_token, session);
      try {
        await gatehouse.notify.toolsChanged(adaId);
        expect((await stream.nextMessage())?.method).toBe("notifications/tools/list_changed");
      } finally {
        await stream.close();
      }
    });

    it("the host's own routes, mounted after Gatehouse, still answer, with the bodies its parsers read", async () => {
      const hello = await fetch(`${base}/hello`);
      expect(hello.status).toBe(200);
      expect(await hello.json()).toEqual({ hello: "from the host" });
      const echo = await fetch(`${base}/host/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ a: [1, "two"] }) });
      expect(echo.status).toBe(200);
      expect(await echo.json()).toEqual({ echoed: { a: [1, "two"] } });
      const form = await fetch(`${base}/host/echo`, { method: "POST", body: new URLSearchParams({ b: "c" }) });
      expect(await form.json()).toEqual({ echoed: { b: "c" } });
      // A body no parser before Gatehouse took is left unread for the host's own parser behind it.
      const late = await fetch(`${base}/host/text`, { method: "POST", headers: { "content-type": "text/plain" }, body: "x".repeat(200_000) });
      expect(late.status).toBe(200);
      expect(await late.json()).toEqual({ length: 200_000 });
      // A path Gatehouse does not serve is Express's 404, not Gatehouse's JSON one.
      const unknown = await fetch(`${base}/nowhere`);
      expect(unknown.status).toBe(404);
      expect(unknown.headers.get("content-type")).toMatch(/^text\/html/);
      await unknown.body?.cancel();
      // A request Gatehouse cannot even build a URL for (no Host) is the host's to answer too.
      expect(await statusWithoutHost(base, "/hello")).toBe("HTTP/1.1 200 OK");
      // Handed-on requests are the host's to log: Gatehouse's request log has only its own.
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      const logged = logLines.map((line) => JSON.parse(line) as { msg: string; path?: string }).filter((entry) => entry.msg === "request");
      expect(logged.map((entry) => entry.path)).toContain("/healthz");
      expect(logged.filter((entry) => ["/hello", "/host/echo", "/host/text", "/nowhere"].includes(entry.path!))).toEqual([]);
    });

    it("Gatehouse's own 404s and errors stay Gatehouse's: an unknown 2025 session id, a repeated form field", async () => {
      const jar = await signIn(base, "ada@example.com", "ada's long password");
      const { tokens } = await connect(base, jar);
      const session = await mcpFetch(base, {
        token: tokens.access_token,
        sessionId: "no-such-session",
        protocolVersion: "2025-11-25",
        body: { jsonrpc: "2.0", id: 1, method: "tools/list" },
      });
      expect(session.status).toBe(404);
      expect(((await session.json()) as { error: { code: number } }).error.code).toBe(-32001);
      // Repeated fields survive the parser (it makes an array) and are refused as without Express (OAuth 2.1 §3.2).
      const repeated = await postForm(`${base}/oauth/token`, [["grant_type", "refresh_token"], ["grant_type", "authorization_code"]]);
      expectOAuthError(repeated, 400, "invalid_request");
      expect(repeated.json?.error_description).toBe("The grant_type parameter is repeated.");
    });

    it("Gatehouse's body caps hold on rebuilt bodies: a 5 MB /mcp call express.json() let through is 413, a 70 KB token form 400", async () => {
      const jar = await signIn(base, "ada@example.com", "ada's long password");
      const { tokens } = await connect(base, jar);
      const big = await mcpFetch(base, {
        token: tokens.access_token,
        protocolVersion: "2026-07-28",
        headers: { "mcp-method": "tools/call", "mcp-name": "whoami" },
        body: { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "whoami", arguments: { pad: "x".repeat(5 * 1024 * 1024) }, _meta: envelope() } },
      });
      expect(big.status).toBe(413);
      expect(((await big.json()) as { error: { code: number; message: string } }).error).toMatchObject({ code: -32000, message: "Request body too large" });
      const form = await postForm(`${base}/oauth/token`, { grant_type: "refresh_token", refresh_token: "r".repeat(70 * 1024), client_id: "x" });
      expectOAuthError(form, 400, "invalid_request");
      expect(form.json?.error_description).toBe("The request body is too large.");
    });

    it("kept bytes (req.rawBody) are handed on as sent, not re-serialized: 5 MB of JSON whitespace is still 5 MB", async () => {
      const jar = await signIn(base, "ada@example.com", "ada's long password");
      const { tokens } = await connect(base, jar);
      const body = JSON.stringify({ jsonrpc: "2.0", id: 8, method: "tools/call", params: { name: "whoami", arguments: {}, _meta: envelope() } });
      const headers = { "mcp-method": "tools/call", "mcp-name": "whoami" };
      const padded = `${body}${" ".repeat(5 * 1024 * 1024)}`;
      const raw = await mcpFetch(base, { token: tokens.access_token, protocolVersion: "2026-07-28", rawBody: padded, headers: { ...headers, "x-keep-raw": "1" } });
      expect(raw.status).toBe(413);
      await raw.body?.cancel();
      // Without kept bytes the parsed value is re-serialized: the padding is gone and the call goes through.
      const reserialized = await mcpFetch(base, { token: tokens.access_token, protocolVersion: "2026-07-28", rawBody: padded, headers });
      expect(reserialized.status).toBe(200);
      expect(await reserialized.text()).toContain("ada@example.com");
    });

    it("a body read by a handler that kept nothing is 400 invalid_request at a Gatehouse route that reads it; other requests are untouched", async () => {
      const registration = await readRaw(
        await fetch(`${base}/oauth/register`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-swallow": "1" },
          body: JSON.stringify({ redirect_uris: ["http://127.0.0.1:9999/callback"], token_endpoint_auth_method: "none" }),
        }),
      );
      expectOAuthError(registration, 400, "invalid_request");
      expect(registration.json?.error_description).toBe("The request body was read by another handler before Gatehouse and cannot be passed on.");
      // A route that does not read the body (here: Gatehouse's 404, handed on to the host) is not affected.
      const hostRoute = await fetch(`${base}/host/echo`, { method: "POST", headers: { "content-type": "application/json", "x-swallow": "1" }, body: "{}" });
      expect(hostRoute.status).toBe(200);
      expect(await hostRoute.json()).toEqual({});
    });
  });

  describe(`Gatehouse mounted in Express without the adapter (${driver})`, () => {
    let testDb: TestDatabase;
    let gatehouse: Gatehouse;
    let host: ExpressHost;
    beforeAll(async () => {
      testDb = await createTestDatabase(driver);
      const port = await freePort();
      gatehouse = await createGatehouse({
        config: loadConfig({}, { port, host: "127.0.0.1", publicUrl: `http://127.0.0.1:${port}` }),
        database: testDb.database,
        logger: silentLogger,
        onSetupLink: () => {},
        appDeps: { rateLimits: { register: unlimited } },
      });
      host = await startExpressHost(gatehouse, port, "bare");
    });
    afterAll(async () => {
      await host?.close();
      await gatehouse?.close();
      await testDb?.cleanup();
    });

    it("loses what the parsers read, and the host's routes after it are never reached", async () => {
      const registration = await postRegistration(host.base, { redirect_uris: ["http://127.0.0.1:9999/callback"], token_endpoint_auth_method: "none" });
      expect(registration.status).toBe(400);
      await registration.body?.cancel();
      const hello = await fetch(`${host.base}/hello`);
      expect(hello.status).toBe(404);
      expect(await hello.json()).toEqual({ error: "not_found", error_description: "Not found." });
    });
  });
}
