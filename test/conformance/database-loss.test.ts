/**
 * Loss of the database (PRODUCT §8): every request that needs PostgreSQL
 * answers 503 with `Retry-After` and a clean JSON error, promptly; liveness
 * stays 200; and once the database is back the same node serves again —
 * pool, sessions and the event bus's LISTEN connection — without a restart.
 *
 * The shared PostgreSQL server keeps running for the other suites: the outage
 * is a TCP proxy between one node and its database that resets every open
 * connection and then either resets (a crashed server) or holds without an
 * answer (a network black hole) every new one, until restored.
 */
import net from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../src/storage/db.js";
import { createTestDatabase, drivers, type TestDatabase } from "../helpers/databases.js";
import { modernFetch } from "../helpers/mcp.js";
import { pollUntil } from "../helpers/mcp-fixtures.js";
import {
  CookieJar,
  connect,
  expectOAuthError,
  formFields,
  mcpStatusAfterRevocation,
  postForm,
  readRaw,
  refreshGrant,
  registerClient,
  signIn,
  type ClientRegistration,
  type RawResponse,
} from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

type Outage = "reset" | "blackhole";

interface TcpProxy {
  port: number;
  /** Resets every open connection; new ones are then reset on accept, or accepted and never answered. */
  cut(outage: Outage): void;
  /** Forwards new connections again (connections held by a black hole are reset); a no-op when not cut. */
  restore(): void;
  /**
   * Resolves once `connections` connections have sent a statement matching `statement`; from then on the
   * server's replies on each are held back: a request caught waiting on the database when it goes.
   */
  holdReplies(statement: RegExp, connections?: number): Promise<void>;
  close(): Promise<void>;
}

async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let outage: Outage | null = null;
  let hold: { statement: RegExp; remaining: number; resolve: () => void } | null = null;
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };
  const resetAll = () => {
    for (const socket of sockets) socket.resetAndDestroy();
  };
  const server = net.createServer((client) => {
    track(client);
    if (outage === "reset") return void client.resetAndDestroy();
    if (outage === "blackhole") return;
    const upstream = net.connect(targetPort, targetHost);
    track(upstream);
    let held = false;
    client.on("data", (chunk: Buffer) => {
      if (hold && !held && hold.statement.test(chunk.toString("latin1"))) {
        held = true;
        if (--hold.remaining === 0) {
          hold.resolve();
          hold = null;
        }
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!held) client.write(chunk);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    cut(next) {
      outage = next;
      resetAll();
    },
    restore() {
      if (outage === null) return;
      outage = null;
      resetAll();
    },
    holdReplies: (statement, connections = 1) => new Promise<void>((resolve) => (hold = { statement, remaining: connections, resolve })),
    async close() {
      resetAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A small pool, so that a connection the outage costs the node shows as a node that no longer serves. */
const POOL_SIZE = 2;

/** Every request made during the outage must be answered, and soon (no hang until a TCP timeout). */
const ANSWER_WITHIN_MS = 15_000;

type Timed = RawResponse & { ms: number };

/** One request, read to the end, aborted (and so failed) if unanswered within ANSWER_WITHIN_MS. */
async function timed(request: (signal: AbortSignal) => Promise<Response>): Promise<Timed> {
  const started = Date.now();
  const response = await request(AbortSignal.timeout(ANSWER_WITHIN_MS));
  return { ...(await readRaw(response)), ms: Date.now() - started };
}

function within<T>(promise: Promise<T>, ms: number, failure: string): Promise<T> {
  return Promise.race([promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(failure)), ms).unref())]);
}

const send = (url: string, init: RequestInit = {}) => timed((signal) => fetch(url, { redirect: "manual", ...init, signal }));

/** A stateless 2026-07-28 `tools/list` at /mcp: 200 with a valid token. */
const listTools = (base: string, token: string) => timed((signal) => modernFetch(base, token, "tools/list", {}, { signal }));

/** Driver messages, error codes, stack frames and paths must never reach a client. */
const INTERNALS = /ECONN|ETIMEDOUT|EPIPE|postgres|\bpg\b|pool|Connection terminated|timeout exceeded|node_modules|\/work\/|\.[jt]s:\d+|\bat \S+ \(/i;

/** 503, `Retry-After` in whole seconds, an RFC 6749-style JSON error (no-store) that says nothing of the cause. */
function expectUnavailable(response: Timed, what: string): void {
  expect(response.status, `${what}: ${response.text}`).toBe(503);
  expectOAuthError(response, 503, "temporarily_unavailable");
  expect(response.headers.get("retry-after"), `${what}: Retry-After`).toMatch(/^[1-9]\d*$/);
  expect(response.text, what).not.toMatch(INTERNALS);
  expect(response.ms, `${what}: answered within ${ANSWER_WITHIN_MS} ms`).toBeLessThan(ANSWER_WITHIN_MS);
}

describe.runIf(drivers().includes("postgres"))("loss of the database (PRODUCT §8)", () => {
  describe.each<Outage>(["reset", "blackhole"])("PostgreSQL unreachable (%s)", (outage) => {
    let testDb: TestDatabase;
    let proxy: TcpProxy;
    let server: TestServer;
    /** A second node on a direct connection: it revokes, and the outage node must hear it over the bus. */
    let other: TestServer;
    let base: string;
    const email = `loss-${outage}@example.com`;
    const password = "a long enough password";
    let alice: CookieJar;
    /** Obtained before the outage and never shown to /mcp: not in any token cache. */
    let fresh: { client: ClientRegistration; access: string; refresh: string };
    /** Refreshed at the moment of an outage. */
    const inFlight: { client: ClientRegistration; refresh: string }[] = [];
    /** Shown to /mcp before the outage: in the node's token cache. */
    let cached: { access: string };
    /** The login form (and its CSRF cookie) as fetched before the outage. */
    let loginJar: CookieJar;
    let loginFields: Record<string, string>;

    beforeAll(async () => {
      testDb = await createTestDatabase("postgres");
      const direct = new URL(testDb.url!);
      proxy = await startTcpProxy(direct.hostname, Number(direct.port || 5432));
      const proxied = new URL(direct);
      proxied.hostname = "127.0.0.1";
      proxied.port = String(proxy.port);
      const database = await openDatabase({ driver: "postgres", url: proxied.toString(), poolSize: POOL_SIZE });
      // Real rate limits: they are the first database round trip of /login and /oauth/register.
      server = await startTestServer("postgres", { testDb, database, appDeps: { rateLimits: {} } });
      base = server.base;
      other = await startTestServer("postgres", { testDb, config: { publicUrl: base } });
      await server.addUser(email, password);
      alice = await signIn(base, email, password);
      // Distinct client names: DCR answers identical metadata with the same client, and a second grant replaces the first.
      const first = await connect(base, alice, await registerClient(base, { client_name: "Fresh token" }));
      fresh = { client: first.client, access: first.tokens.access_token, refresh: first.tokens.refresh_token };
      for (let i = 0; i <= POOL_SIZE; i++) {
        const { client, tokens } = await connect(base, alice, await registerClient(base, { client_name: `In-flight refresh ${i}` }));
        inFlight.push({ client, refresh: tokens.refresh_token });
      }
      const second = await connect(base, alice, await registerClient(base, { client_name: "Cached token" }));
      cached = { access: second.tokens.access_token };
      expect((await listTools(base, cached.access)).status).toBe(200);
      loginJar = new CookieJar();
      const page = await fetch(`${base}/login`);
      loginJar.absorb(page);
      loginFields = formFields(await page.text(), "/login");
    });

    // A failed step must not leave the database away for the next one.
    afterEach(() => proxy.restore());

    afterAll(async () => {
      proxy?.restore();
      await other?.close();
      await server?.close();
      await testDb?.cleanup();
      await proxy?.close();
    });

    const refreshRequest = (grant: { client: ClientRegistration; refresh: string }) =>
      timed((signal) =>
        fetch(`${base}/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: grant.refresh, client_id: grant.client.client_id }),
          signal,
        }),
      );

    it("a transaction cut mid-way answers 503, and the node stays up", async () => {
      // A refresh rotates the token in one transaction: the connection goes while its guarded UPDATE waits.
      const held = proxy.holdReplies(/update "user_api_tokens" set "token_hash"/i);
      const refresh = refreshRequest(inFlight[0]!);
      await within(held, 5000, "the refresh never reached its rotating UPDATE");
      proxy.cut(outage);
      expectUnavailable(await refresh, "refresh cut mid-transaction");
      expect((await send(`${base}/healthz`)).status).toBe(200);
      proxy.restore();
      expect((await pollUntil(() => send(`${base}/readyz`), (r) => r.status === 200, 5000, 100)).status).toBe(200);
    });

    it("transactions cut at BEGIN answer 503 and do not cost the node its connections", async () => {
      // As many as the pool holds: a connection not handed back would leave the node unable to serve.
      const held = proxy.holdReplies(/\bbegin\b/i, POOL_SIZE);
      const refreshes = inFlight.slice(1).map(refreshRequest);
      await within(held, 5000, "the refreshes never reached BEGIN");
      proxy.cut(outage);
      for (const refresh of await Promise.all(refreshes)) expectUnavailable(refresh, "refresh cut at BEGIN");
      proxy.restore();
      expect((await pollUntil(() => send(`${base}/readyz`), (r) => r.status === 200, 5000, 100)).status).toBe(200);
      const retried = await refreshGrant(base, inFlight[1]!.client.client_id, inFlight[1]!.refresh);
      expect(retried.status, retried.text).toBe(200);
    });

    it("while it is gone: 503 + Retry-After, a clean JSON error, within a bounded time", async () => {
      proxy.cut(outage);
      // The node notices through its LISTEN connection: token caching is off until the bus is back.
      const bus = server.running.services.bus;
      expect(await pollUntil(async () => bus.reliable, (reliable) => !reliable, 2000)).toBe(false);

      const [readyz, healthz, token, register, user, login, mcpFresh, mcpCached] = await Promise.all([
        send(`${base}/readyz`),
        send(`${base}/healthz`),
        send(`${base}/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: fresh.refresh, client_id: fresh.client.client_id }),
        }),
        send(`${base}/oauth/register`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ client_name: "During the outage", redirect_uris: ["http://127.0.0.1:9999/callback"], token_endpoint_auth_method: "none" }),
        }),
        send(`${base}/user`, { headers: { cookie: alice.header() } }),
        send(`${base}/login`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: loginJar.header(), origin: base },
          body: new URLSearchParams({ ...loginFields, email, password }),
        }),
        listTools(base, fresh.access),
        listTools(base, cached.access),
      ]);

      expect(readyz.status).toBe(503);
      expect(readyz.headers.get("retry-after")).toMatch(/^[1-9]\d*$/);
      expect(readyz.headers.get("cache-control")).toBe("no-store");
      expect(readyz.json).toEqual({ status: "database_unavailable" });
      expect(readyz.ms).toBeLessThan(ANSWER_WITHIN_MS);
      // Liveness is about the process, not its dependencies: a restart would not help.
      expect(healthz.status).toBe(200);
      expect(healthz.ms).toBeLessThan(1000);

      expectUnavailable(token, "POST /oauth/token (refresh)");
      expectUnavailable(register, "POST /oauth/register");
      expectUnavailable(user, "GET /user (session cookie)");
      expectUnavailable(login, "POST /login");
      expectUnavailable(mcpFresh, "POST /mcp (token not cached)");
      // A token the node had cached is checked against the database too while revocations may be missed.
      expectUnavailable(mcpCached, "POST /mcp (token cached before the outage)");
    });

    it("once it is back: ready again and serving, without a restart", async () => {
      proxy.restore();
      const ready = await pollUntil(() => send(`${base}/readyz`), (r) => r.status === 200, 5000, 100);
      expect(ready.status).toBe(200);

      // The session and the refresh token written before the outage survived it; the refused refresh changed nothing.
      expect((await send(`${base}/user`, { headers: { cookie: alice.header() } })).status).toBe(200);
      const refreshed = await refreshGrant(base, fresh.client.client_id, fresh.refresh);
      expect(refreshed.status, refreshed.text).toBe(200);
      // The transaction cut mid-way was rolled back whole: its refresh token still works.
      const retried = await refreshGrant(base, inFlight[0]!.client.client_id, inFlight[0]!.refresh);
      expect(retried.status, retried.text).toBe(200);
      const again = await signIn(base, email, password);
      expect((await send(`${base}/user`, { headers: { cookie: again.header() } })).status).toBe(200);
      const client = await registerClient(base, { client_name: "After the outage" });
      const { tokens } = await connect(base, again, client);
      expect((await listTools(base, tokens.access_token)).status).toBe(200);
      expect((await listTools(base, String(refreshed.json!.access_token))).status).toBe(200);
    });

    it("the event bus reconnects: a revocation on another node reaches this one within 1 s", async () => {
      const bus = server.running.services.bus;
      // Reconnection backs off to at most 10 s between attempts.
      expect(await pollUntil(async () => bus.reliable, (reliable) => reliable, 15_000, 50)).toBe(true);
      const { client, tokens } = await connect(base, alice, await registerClient(base, { client_name: "Revoked elsewhere" }));
      // Accepted, and cached now that the bus is reliable: only a bus message can make this node refuse it.
      expect((await listTools(base, tokens.access_token)).status).toBe(200);
      const revoked = await postForm(`${other.running.url}/oauth/revoke`, { token: tokens.refresh_token, client_id: client.client_id });
      expect(revoked.status).toBe(200);
      expect(await mcpStatusAfterRevocation(base, tokens.access_token, 1000)).toBe(401);
    }, 30_000);
  });
});
