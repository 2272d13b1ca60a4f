/**
 * Session-based Streamable HTTP at /mcp (MCP 2025-11-25, 2025-06-18,
 * 2025-03-26), black-box over HTTP: SPEC-CHECKLIST TR-1..TR-19, LC-1, LC-4,
 * RS-7, RS-11, RES-9; THREATS 41, 45, 47, 49; PRODUCT §6 "MCP endpoint" and
 * "Tokens and connections" (refresh keeps a session, revocation ends it).
 */
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { drivers } from "../helpers/databases.js";
import { LEGACY_VERSIONS, mcpFetch, notification, openGetStream, openSession, request, rpc, sessionGet, sessionPost, sessionRpc, type LegacySession } from "../helpers/mcp.js";
import { addSignedInUser, grant, newClient, pollUntil, startCluster, type Cluster, type TestUser } from "../helpers/mcp-fixtures.js";
import { mcpStatusAfterRevocation, postForm, refreshGrant } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

/** TR-15: visible ASCII only. */
const VISIBLE_ASCII = /^[\x21-\x7E]+$/;

/**
 * A lower bound on the randomness an id can hold, judged from its alphabet
 * (hex: 4 bits a character, less a UUID's fixed version bits; base64url: 6).
 * Black-box, this bounds what the id *can* carry; uniqueness is checked apart.
 */
function maxRandomBits(id: string): number {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return 122;
  if (/^[0-9a-f]+$/i.test(id)) return id.length * 4;
  if (/^[A-Za-z0-9_-]+$/.test(id)) return id.length * 6;
  return Math.floor(id.length * Math.log2(94));
}

/** A raw HTTP/1.1 request with a Host header of our choosing (fetch does not let a caller set Host). */
function postWithHost(base: string, host: string, token: string, body: unknown): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        path: "/mcp",
        method: "POST",
        headers: {
          host,
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

const whoamiCall = () => request("tools/call", { name: "whoami", arguments: {} });

for (const driver of drivers()) {
  describe(`MCP legacy sessions (${driver})`, () => {
    const clock = new ManualClock(Date.now());
    let server: TestServer;
    let base: string;
    let alice: TestUser;
    let bob: TestUser;

    beforeAll(async () => {
      server = await startTestServer(driver, { clock });
      base = server.base;
      alice = await addSignedInUser(server, "alice@example.com");
      bob = await addSignedInUser(server, "bob@example.com");
    });
    afterAll(async () => server?.close());

    /** Still alive for its owner: a ping in the session is answered. */
    const expectAlive = async (token: string, session: LegacySession) => {
      const ping = await sessionRpc(base, token, session, request("ping"));
      expect(ping.status, ping.text).toBe(200);
      expect(ping.message?.result).toEqual({});
    };

    describe("life cycle (TR-6, TR-7, TR-15, TR-17, TR-18, LC-1, LC-4)", () => {
      for (const version of LEGACY_VERSIONS) {
        it(`initialize → Mcp-Session-Id → initialized (202) → tools/list → ping → DELETE → 404 at ${version}`, async () => {
          const { access } = await grant(base, alice.jar);
          const init = await rpc(base, {
            token: access,
            body: request("initialize", { protocolVersion: version, capabilities: {}, clientInfo: { name: "lifecycle", version: "1.0.0" } }),
          });
          expect(init.status, init.text).toBe(200);
          const id = init.headers.get("mcp-session-id");
          expect(id).toBeTruthy();
          expect(id!).toMatch(VISIBLE_ASCII);
          expect(maxRandomBits(id!), `session id ${id} is too short to hold 128 random bits`).toBeGreaterThanOrEqual(128);
          const result = init.message?.result as { protocolVersion?: string; capabilities?: unknown; serverInfo?: { name?: string } };
          expect(result?.protocolVersion).toBe(version);
          expect(result?.capabilities).toBeTypeOf("object");
          expect(result?.serverInfo?.name).toBeTypeOf("string");

          const session: LegacySession = { id: id!, version, result: result as Record<string, unknown>, header: version === "2025-03-26" ? undefined : version };
          const initialized = await sessionPost(base, access, session, notification("notifications/initialized"));
          expect(initialized.status).toBe(202);
          expect(await initialized.text()).toBe("");

          const list = await sessionRpc(base, access, session, request("tools/list"));
          expect(list.status, list.text).toBe(200);
          expect(list.headers.get("content-type") ?? "").toMatch(/^(application\/json|text\/event-stream)/);
          const tools = (list.message?.result?.tools ?? []) as { name: string }[];
          expect(tools.map((t) => t.name)).toContain("whoami");

          const ping = await sessionRpc(base, access, session, request("ping"));
          expect(ping.status).toBe(200);
          expect(ping.message?.result).toEqual({});

          const deleted = await mcpFetch(base, { method: "DELETE", token: access, sessionId: session.id, ...(session.header ? { protocolVersion: session.header } : {}) });
          await deleted.body?.cancel();
          expect([200, 204]).toContain(deleted.status);

          const after = await sessionRpc(base, access, session, request("ping"));
          expect(after.status, after.text).toBe(404);
          const getAfter = await sessionGet(base, access, session);
          await getAfter.body?.cancel();
          expect(getAfter.status).toBe(404);
          const deleteAgain = await mcpFetch(base, { method: "DELETE", token: access, sessionId: session.id });
          await deleteAgain.body?.cancel();
          expect(deleteAgain.status).toBe(404);
        });
      }

      it("answers an unknown future version with a version it supports, not an error (LC-1)", async () => {
        const { access } = await grant(base, alice.jar);
        const init = await rpc(base, {
          token: access,
          body: request("initialize", { protocolVersion: "2099-01-01", capabilities: {}, clientInfo: { name: "future", version: "1" } }),
        });
        expect(init.status, init.text).toBe(200);
        expect(LEGACY_VERSIONS as readonly string[]).toContain((init.message?.result as { protocolVersion?: string }).protocolVersion);
      });

      it("gives every session a different id (TR-15)", async () => {
        const { access } = await grant(base, alice.jar);
        const ids: string[] = [];
        for (let i = 0; i < 6; i++) ids.push((await openSession(base, access)).id);
        expect(new Set(ids).size).toBe(ids.length);
        for (const id of ids) {
          expect(id).toMatch(VISIBLE_ASCII);
          expect(maxRandomBits(id)).toBeGreaterThanOrEqual(128);
        }
      });
    });

    describe("session and version checks (TR-16, TR-17, TR-19)", () => {
      it("answers a request without Mcp-Session-Id (other than initialize) with 400", async () => {
        const { access } = await grant(base, alice.jar);
        await openSession(base, access);
        const post = await rpc(base, { token: access, protocolVersion: "2025-11-25", body: request("tools/list") });
        expect(post.status, post.text).toBe(400);
        for (const method of ["GET", "DELETE"] as const) {
          const response = await mcpFetch(base, { method, token: access, protocolVersion: "2025-11-25" });
          await response.body?.cancel();
          expect(response.status, method).toBe(400);
        }
      });

      it("answers an unknown session id with 404 on POST, GET and DELETE", async () => {
        const { access } = await grant(base, alice.jar);
        for (const sessionId of ["nonexistent", "x".repeat(300), "ffffffffffffffffffffffffffffffff"]) {
          const post = await rpc(base, { token: access, sessionId, protocolVersion: "2025-11-25", body: request("ping") });
          expect(post.status, post.text).toBe(404);
          for (const method of ["GET", "DELETE"] as const) {
            const response = await mcpFetch(base, { method, token: access, sessionId, protocolVersion: "2025-11-25" });
            await response.body?.cancel();
            expect(response.status, `${method} ${sessionId.slice(0, 20)}`).toBe(404);
          }
        }
      });

      it("refuses an unsupported MCP-Protocol-Version with 400, accepts a supported one and none", async () => {
        const { access } = await grant(base, alice.jar);
        const session = await openSession(base, access, "2025-11-25");
        const bad = await sessionRpc(base, access, session, request("tools/list"), { "mcp-protocol-version": "1999-01-01" });
        expect(bad.status, bad.text).toBe(400);
        // TR-19: no header → the negotiated version; another supported version (as conformance 0.1.16 sends) is accepted.
        const none = await rpc(base, { token: access, sessionId: session.id, body: request("ping") });
        expect(none.status, none.text).toBe(200);
        const older = await rpc(base, { token: access, sessionId: session.id, protocolVersion: "2025-03-26", body: request("ping") });
        expect(older.status, older.text).toBe(200);
        await expectAlive(access, session);
      });
    });

    describe("a session belongs to its user and client (RS-11, RES-9; THREATS 45, 47)", () => {
      it("answers another user's token with 404, and sends nothing of the owner's — also with Last-Event-ID", async () => {
        const client = await newClient(base);
        const mine = await grant(base, alice.jar, client);
        const theirs = await grant(base, bob.jar, client); // same client, another user
        const session = await openSession(base, mine.access, "2025-11-25");

        // Alice's call produces events on a POST stream; their ids are what an attacker would replay.
        const call = await sessionRpc(base, mine.access, session, whoamiCall());
        expect(call.status).toBe(200);
        expect(call.text).toContain("alice@example.com");
        const eventIds = call.events.map((e) => e.id).filter((id): id is string => !!id);
        expect(eventIds.length).toBeGreaterThan(0);

        const leaks = (text: string) => {
          expect(text).not.toContain("alice@example.com");
          expect(text).not.toContain(alice.id);
        };
        const asBob = await sessionRpc(base, theirs.access, session, whoamiCall());
        expect(asBob.status, asBob.text).toBe(404);
        leaks(asBob.text);
        const initialized = await sessionPost(base, theirs.access, session, notification("notifications/initialized"));
        expect(initialized.status).toBe(404);
        leaks(await initialized.text());
        for (const lastEventId of [undefined, ...eventIds]) {
          const get = await sessionGet(base, theirs.access, session, lastEventId);
          expect(get.status, `GET with Last-Event-ID ${lastEventId}`).toBe(404);
          leaks(await get.text());
        }
        const deleted = await mcpFetch(base, { method: "DELETE", token: theirs.access, sessionId: session.id, protocolVersion: "2025-11-25" });
        expect(deleted.status).toBe(404);
        await deleted.body?.cancel();

        // Nothing Bob did touched Alice's session.
        const again = await sessionRpc(base, mine.access, session, whoamiCall());
        expect(again.status).toBe(200);
        expect(again.text).toContain("alice@example.com");
      });

      it("answers the same user through another client with 404", async () => {
        const mine = await grant(base, alice.jar);
        const other = await grant(base, alice.jar); // another client, same user
        const session = await openSession(base, mine.access, "2025-11-25");
        const post = await sessionRpc(base, other.access, session, whoamiCall());
        expect(post.status, post.text).toBe(404);
        const get = await sessionGet(base, other.access, session);
        expect(get.status).toBe(404);
        await get.body?.cancel();
        const deleted = await mcpFetch(base, { method: "DELETE", token: other.access, sessionId: session.id });
        expect(deleted.status).toBe(404);
        await deleted.body?.cancel();
        await expectAlive(mine.access, session);
      });

      it("does not let a valid token create or reach a session by naming an id (THREATS 41)", async () => {
        const { access } = await grant(base, alice.jar);
        const invented = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        const post = await rpc(base, { token: access, sessionId: invented, protocolVersion: "2025-11-25", body: request("tools/list") });
        expect(post.status).toBe(404);
        // An initialize naming an id still gets a fresh, server-chosen one.
        const init = await rpc(base, {
          token: access,
          sessionId: invented,
          body: request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } }),
        });
        expect(init.headers.get("mcp-session-id") ?? "").not.toBe(invented);
      });
    });

    describe("tokens and the session (PRODUCT §6; RS-7; THREATS 45)", () => {
      it("keeps the session across a refresh: new access token, same session id", async () => {
        const granted = await grant(base, alice.jar);
        const session = await openSession(base, granted.access, "2025-11-25");
        const refreshed = await refreshGrant(base, granted.client.client_id, granted.refresh);
        expect(refreshed.status, refreshed.text).toBe(200);
        const access = refreshed.json!.access_token as string;
        expect(access).not.toBe(granted.access);
        const call = await sessionRpc(base, access, session, whoamiCall());
        expect(call.status, call.text).toBe(200);
        expect(call.text).toContain("alice@example.com");
        const echoed = call.headers.get("mcp-session-id");
        if (echoed !== null) expect(echoed).toBe(session.id);
        await expectAlive(access, session);
      });

      it("revoking the connection ends its sessions (404 for a new grant) and closes its open GET stream within 1 s", async () => {
        const client = await newClient(base);
        const keeper = await grant(base, bob.jar, client); // keeps the client registered
        const mine = await grant(base, alice.jar, client);
        const session = await openSession(base, mine.access, "2025-11-25");
        const stream = await openGetStream(base, mine.access, session);
        const bobSession = await openSession(base, keeper.access, "2025-11-25");
        const bobStream = await openGetStream(base, keeper.access, bobSession);

        const revoked = await postForm(`${base}/oauth/revoke`, { token: mine.refresh, client_id: client.client_id });
        expect(revoked.status, revoked.text).toBe(200);
        const revokedAt = Date.now();
        expect(await stream.endsWithin(1000), "the revoked connection's GET stream is closed within 1 s").toBe(true);
        expect(await mcpStatusAfterRevocation(base, mine.access, Math.max(0, 1000 - (Date.now() - revokedAt)))).toBe(401);

        // The session itself is gone, not only the token: a new grant for the same user and client finds nothing.
        const again = await grant(base, alice.jar, client);
        const status = await pollUntil(
          async () => (await sessionRpc(base, again.access, session, request("ping"))).status,
          (s) => s === 404,
          1000,
        );
        expect(status).toBe(404);

        // Bob's session on the same client is untouched.
        expect(bobStream.finished).toBe(false);
        expect(await bobStream.endsWithin(100)).toBe(false);
        await expectAlive(keeper.access, bobSession);
        await bobStream.close();
      });

      // Moves the shared clock: keep it last in this file's token tests.
      it("answers 401 once the access token expires mid-session; a refreshed token carries on in the same session", async () => {
        const granted = await grant(base, alice.jar);
        const session = await openSession(base, granted.access, "2025-11-25");
        await expectAlive(granted.access, session);
        clock.advance(server.running.deps.config.accessTokenTtlMs + 1000);
        const expired = await sessionRpc(base, granted.access, session, request("ping"));
        expect(expired.status).toBe(401);
        expect(expired.headers.get("www-authenticate") ?? "").toMatch(/error="invalid_token"/);
        const refreshed = await refreshGrant(base, granted.client.client_id, granted.refresh);
        expect(refreshed.status, refreshed.text).toBe(200);
        await expectAlive(refreshed.json!.access_token as string, session);
      });
    });

    describe("DNS-rebinding protection (TR-2, TR-3; THREATS 49)", () => {
      it("refuses a foreign Origin with 403 on initialize, and creates no session", async () => {
        const { access } = await grant(base, alice.jar);
        for (const origin of ["http://evil.example", "null", `http://127.0.0.1:1`]) {
          const response = await mcpFetch(base, {
            token: access,
            body: request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } }),
            headers: { origin },
          });
          expect(response.status, origin).toBe(403);
          expect(response.headers.get("mcp-session-id")).toBeNull();
          await response.body?.cancel();
        }
      });

      it("refuses a foreign Origin on POST, GET and DELETE within a session, and leaves the session alone", async () => {
        const { access } = await grant(base, alice.jar);
        const session = await openSession(base, access, "2025-11-25");
        const headers = { origin: "http://evil.example" };
        const post = await sessionRpc(base, access, session, request("ping"), headers);
        expect(post.status).toBe(403);
        for (const method of ["GET", "DELETE"] as const) {
          const response = await mcpFetch(base, { method, token: access, sessionId: session.id, protocolVersion: "2025-11-25", headers });
          await response.body?.cancel();
          expect(response.status, method).toBe(403);
        }
        await expectAlive(access, session);
      });

      it("accepts the public origin, and no Origin at all", async () => {
        const { access } = await grant(base, alice.jar);
        const origin = new URL(base).origin;
        const init = await rpc(base, {
          token: access,
          body: request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } }),
          headers: { origin },
        });
        expect(init.status, init.text).toBe(200);
        const session: LegacySession = { id: init.headers.get("mcp-session-id")!, version: "2025-11-25", result: {}, header: "2025-11-25" };
        const ping = await sessionRpc(base, access, session, request("ping"), { origin });
        expect(ping.status).toBe(200);
        await expectAlive(access, session);
      });

      it("refuses a foreign Host on a loopback server with 403", async () => {
        const { access } = await grant(base, alice.jar);
        const init = request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } });
        expect(await postWithHost(base, "evil.example.com", access, init)).toBe(403);
        expect(await postWithHost(base, new URL(base).host, access, init)).toBe(200);
      });
    });

    describe("request bodies (TR-4; PRODUCT §8)", () => {
      it("refuses a JSON-RPC batch with 4xx on a 2025-11-25 session", async () => {
        const { access } = await grant(base, alice.jar);
        const session = await openSession(base, access, "2025-11-25");
        const response = await mcpFetch(base, {
          token: access,
          sessionId: session.id,
          protocolVersion: "2025-11-25",
          body: [request("ping"), request("tools/list")],
        });
        const text = await response.text();
        expect(response.status, `batch answered ${response.status}: ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      });

      it("refuses an initialize sent as a batch with 4xx (batching is gone since 2025-06-18)", async () => {
        const { access } = await grant(base, alice.jar);
        const response = await mcpFetch(base, {
          token: access,
          body: [request("initialize", { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "x", version: "1" } })],
        });
        const text = await response.text();
        expect(response.status, `batch initialize answered ${response.status}: ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
      });

      it("answers invalid JSON with 400 and -32700, with or without a session", async () => {
        const { access } = await grant(base, alice.jar);
        const session = await openSession(base, access, "2025-11-25");
        for (const sessionId of [undefined, session.id]) {
          const response = await mcpFetch(base, {
            token: access,
            ...(sessionId ? { sessionId } : {}),
            protocolVersion: "2025-11-25",
            rawBody: '{"jsonrpc":"2.0","id":1,"method":',
          });
          expect(response.status).toBe(400);
          const body = (await response.json()) as { error?: { code?: number } };
          expect(body.error?.code).toBe(-32700);
        }
        await expectAlive(access, session);
      });

      it("answers JSON that is not JSON-RPC with 4xx, never 5xx", async () => {
        const { access } = await grant(base, alice.jar);
        const session = await openSession(base, access, "2025-11-25");
        for (const body of [{ hello: "world" }, 42, "text", null, { jsonrpc: "2.0", id: {}, method: 7 }]) {
          const response = await mcpFetch(base, { token: access, sessionId: session.id, protocolVersion: "2025-11-25", body });
          const text = await response.text();
          expect(response.status, `${JSON.stringify(body)} → ${response.status} ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
          expect(response.status, JSON.stringify(body)).toBeLessThan(500);
        }
        await expectAlive(access, session);
      });

      it("answers a body that is not application/json with 415", async () => {
        const { access } = await grant(base, alice.jar);
        const session = await openSession(base, access, "2025-11-25");
        for (const type of ["text/plain", "application/x-www-form-urlencoded"]) {
          const response = await mcpFetch(base, {
            token: access,
            sessionId: session.id,
            protocolVersion: "2025-11-25",
            body: request("ping"),
            headers: { "content-type": type },
          });
          await response.body?.cancel();
          expect(response.status, type).toBe(415);
        }
      });

      it("answers a notification in a session with 202 and an empty body (TR-6)", async () => {
        const { access } = await grant(base, alice.jar);
        const session = await openSession(base, access, "2025-06-18");
        const response = await sessionPost(base, access, session, notification("notifications/roots/list_changed"));
        expect(response.status).toBe(202);
        expect(await response.text()).toBe("");
      });
    });
  });
}

describe.runIf(drivers().includes("postgres"))("MCP legacy sessions across nodes (postgres)", () => {
  let cluster: Cluster;
  let alice: TestUser;

  beforeAll(async () => {
    cluster = await startCluster();
    alice = await addSignedInUser(cluster.a, "alice@example.com");
  });
  afterAll(async () => cluster?.close());

  it("serves a session created on node A from node B, and a DELETE on B ends it on A", async () => {
    const { access } = await grant(cluster.publicUrl, alice.jar);
    const session = await openSession(cluster.base("a"), access, "2025-11-25");
    const onB = await sessionRpc(cluster.base("b"), access, session, whoamiCall());
    expect(onB.status, onB.text).toBe(200);
    expect(onB.text).toContain("alice@example.com");
    const listB = await sessionRpc(cluster.base("b"), access, session, request("tools/list"));
    expect(listB.status).toBe(200);
    const streamB = await openGetStream(cluster.base("b"), access, session);
    expect(streamB.finished).toBe(false);
    await streamB.close();
    // Back and forth: A still serves it.
    const onA = await sessionRpc(cluster.base("a"), access, session, request("ping"));
    expect(onA.message?.result).toEqual({});

    const deleted = await mcpFetch(cluster.base("b"), { method: "DELETE", token: access, sessionId: session.id, protocolVersion: "2025-11-25" });
    await deleted.body?.cancel();
    expect([200, 204]).toContain(deleted.status);
    // Node B answers 404 at once; node A holds a live copy that the bus closes, so it follows within the
    // bus's latency (PRODUCT §6 gives revocations 1 s on every node; a DELETE travels the same way).
    expect((await sessionRpc(cluster.base("b"), access, session, request("ping"))).status, "node b").toBe(404);
    const onNodeA = await pollUntil(() => sessionRpc(cluster.base("a"), access, session, request("ping")), (r) => r.status === 404, 1000);
    expect(onNodeA.status, "node a").toBe(404);
  });

  it("keeps another user's token out of a session on every node", async () => {
    const bob = await addSignedInUser(cluster.a, "bob@example.com");
    const client = await newClient(cluster.publicUrl);
    const mine = await grant(cluster.publicUrl, alice.jar, client);
    const theirs = await grant(cluster.publicUrl, bob.jar, client);
    const session = await openSession(cluster.base("a"), mine.access, "2025-11-25");
    const call = await sessionRpc(cluster.base("a"), mine.access, session, whoamiCall());
    const eventId = call.events.find((e) => e.id)?.id;
    expect(eventId).toBeTruthy();
    for (const node of ["a", "b"]) {
      const post = await sessionRpc(cluster.base(node), theirs.access, session, whoamiCall());
      expect(post.status, `node ${node}`).toBe(404);
      expect(post.text).not.toContain("alice@example.com");
      const get = await sessionGet(cluster.base(node), theirs.access, session, eventId);
      expect(get.status, `node ${node} GET`).toBe(404);
      expect(await get.text()).not.toContain("alice@example.com");
    }
  });

  it("revoking the connection on node A closes the session's GET stream on node B and the session everywhere", async () => {
    const carol = await addSignedInUser(cluster.a, "carol@example.com");
    const client = await newClient(cluster.publicUrl);
    await grant(cluster.publicUrl, carol.jar, client); // keeps the client registered
    const mine = await grant(cluster.publicUrl, alice.jar, client);
    const session = await openSession(cluster.base("a"), mine.access, "2025-11-25");
    const streamB = await openGetStream(cluster.base("b"), mine.access, session);
    const revoked = await postForm(`${cluster.base("a")}/oauth/revoke`, { token: mine.refresh, client_id: client.client_id });
    expect(revoked.status).toBe(200);
    expect(await streamB.endsWithin(1000), "node B closes the revoked connection's stream within 1 s").toBe(true);
    expect(await mcpStatusAfterRevocation(cluster.base("b"), mine.access)).toBe(401);
    const again = await grant(cluster.publicUrl, alice.jar, client);
    for (const node of ["a", "b"]) {
      const status = await pollUntil(
        async () => (await sessionRpc(cluster.base(node), again.access, session, request("ping"))).status,
        (s) => s === 404,
        1000,
      );
      expect(status, `node ${node}`).toBe(404);
    }
  });

  it("closes node B's streams when B shuts down, while node A keeps serving B's session", async () => {
    const nodeC = await cluster.start("c");
    const { access } = await grant(cluster.publicUrl, alice.jar);
    const session = await openSession(cluster.base("c"), access, "2025-11-25");
    const stream = await openGetStream(cluster.base("c"), access, session);
    const closing = nodeC.close();
    expect(await stream.endsWithin(5000), "the shutting-down node ends its open stream").toBe(true);
    await closing;
    const onA = await sessionRpc(cluster.base("a"), access, session, whoamiCall());
    expect(onA.status, onA.text).toBe(200);
    expect(onA.text).toContain("alice@example.com");
    // A new stream for the same session opens on A.
    const streamA = await openGetStream(cluster.base("a"), access, session);
    expect(streamA.finished).toBe(false);
    await streamA.close();
    // And the node that went away answers nothing any more.
    const gone = await fetch(`${cluster.base("c")}/healthz`).then((r) => r.status);
    expect(gone).toBe(502);
  });
});
