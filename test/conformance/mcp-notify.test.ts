/**
 * Change notifications reach listeners on every node, and only the users
 * concerned (PRODUCT §6 "Notifications reach listeners on every node"):
 * `gatehouse.notify.toolsChanged(userId)` / `resourceUpdated(uri, userId)`
 * raised on one node arrive on legacy (2025) GET streams and on 2026-07-28
 * `subscriptions/listen` streams — on another node over PostgreSQL
 * LISTEN/NOTIFY, within the node on PGlite — and never on another user's.
 */
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defineResource } from "../../src/index.js";
import type { Notifier } from "../../src/mcp/endpoint.js";
import { drivers } from "../helpers/databases.js";
import { SseReader, type JsonRpcMessage } from "../helpers/sse.js";
import { MODERN_VERSION, modernFetch, openGetStream, openSession, request, sessionRpc } from "../helpers/mcp.js";
import { addSignedInUser, deferred, grant, newClient, startCluster, type Grant, type TestUser } from "../helpers/mcp-fixtures.js";
import { postForm } from "../helpers/oauth.js";
import { startTestServer, type TestServer } from "../helpers/server.js";

const DOC = "test://notes/doc";
const doc = defineResource({
  name: "doc",
  uri: DOC,
  description: "A document whose updates are announced.",
  mimeType: "text/plain",
  read: (uri) => ({ contents: [{ uri: uri.href, text: "doc" }] }),
});

const LIST_CHANGED = "notifications/tools/list_changed";
const UPDATED = "notifications/resources/updated";

/** The listeners one user holds: a legacy GET stream (subscribed to DOC) and a 2026-07-28 listen stream. */
interface Listeners {
  legacy: SseReader;
  modern: SseReader;
  close(): Promise<void>;
}

/** The notifications (not priming events, not the acknowledgement) a reader gets within `ms`. */
async function received(reader: SseReader, ms: number): Promise<JsonRpcMessage[]> {
  const events = await reader.drain(ms);
  return events
    .map((e) => (e.data.trim() === "" ? null : (JSON.parse(e.data) as JsonRpcMessage)))
    .filter((m): m is JsonRpcMessage => m !== null && m.method !== undefined && m.method !== "notifications/subscriptions/acknowledged");
}

/** Waits for the first notification of `method`; fails past the deadline. */
async function arrives(reader: SseReader, method: string, timeoutMs = 5000): Promise<JsonRpcMessage> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const message = await reader.nextMessage(Math.max(1, deadline - Date.now()));
    if (message === null) throw new Error(`stream ended before ${method}`);
    if (message.method === method) return message;
  }
}

/**
 * Opens both kinds of listener for a user at `base`. The legacy session
 * subscribes to DOC first (a 2025 server sends resource updates only to
 * subscribers); the listen stream asks for tool-list changes and DOC.
 */
async function listen(base: string, token: string): Promise<Listeners> {
  const session = await openSession(base, token, "2025-11-25");
  const subscribed = await sessionRpc(base, token, session, request("resources/subscribe", { uri: DOC }));
  expect(subscribed.status, subscribed.text).toBe(200);
  expect(subscribed.message?.error, subscribed.text).toBeUndefined();
  const legacy = await openGetStream(base, token, session);

  const response = await modernFetch(base, token, "subscriptions/listen", {
    notifications: { toolsListChanged: true, resourceSubscriptions: [DOC] },
  });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type") ?? "").toContain("text/event-stream");
  const modern = new SseReader(response);
  const ack = await arrives(modern, "notifications/subscriptions/acknowledged");
  expect(JSON.stringify(ack.params)).toContain(DOC);
  return {
    legacy,
    modern,
    async close() {
      await legacy.close();
      await modern.close();
    },
  };
}

/**
 * The contract, run once per topology: `raise` is the notifier of the node
 * where the change happens; `listenAt` the base URL listeners connect to.
 */
function notificationSuite(topology: () => { raise: Notifier; listenAt: string; publicUrl: string; alice: TestUser; bob: TestUser }) {
  let alice: Grant;
  let bob: Grant;

  beforeAll(async () => {
    const t = topology();
    const client = await newClient(t.publicUrl, "notify");
    alice = await grant(t.publicUrl, t.alice.jar, client);
    bob = await grant(t.publicUrl, t.bob.jar, client); // same client: only the user tells them apart
  });

  it("delivers toolsChanged(user) to that user's legacy GET stream and listen stream, and to nobody else's", async () => {
    const t = topology();
    const mine = await listen(t.listenAt, alice.access);
    const theirs = await listen(t.listenAt, bob.access);
    try {
      await t.raise.toolsChanged(t.alice.id);
      await arrives(mine.legacy, LIST_CHANGED);
      const onListen = await arrives(mine.modern, LIST_CHANGED);
      expect(JSON.stringify(onListen.params ?? {})).toContain("io.modelcontextprotocol/subscriptionId");

      // A barrier: Bob's own change comes after Alice's on the same bus; had Alice's leaked, Bob would see two.
      await t.raise.toolsChanged(t.bob.id);
      await arrives(theirs.legacy, LIST_CHANGED);
      await arrives(theirs.modern, LIST_CHANGED);
      expect(await received(theirs.legacy, 400), "nothing else reaches Bob's GET stream").toEqual([]);
      expect(await received(theirs.modern, 100), "nothing else reaches Bob's listen stream").toEqual([]);
      expect(await received(mine.legacy, 100), "Bob's change does not reach Alice").toEqual([]);
      expect(await received(mine.modern, 100)).toEqual([]);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  it("delivers resourceUpdated(uri, user) to that user's subscribed streams only", async () => {
    const t = topology();
    const mine = await listen(t.listenAt, alice.access);
    const theirs = await listen(t.listenAt, bob.access);
    try {
      await t.raise.resourceUpdated(DOC, t.alice.id);
      const legacy = await arrives(mine.legacy, UPDATED);
      expect(legacy.params?.uri).toBe(DOC);
      const modern = await arrives(mine.modern, UPDATED);
      expect(modern.params?.uri).toBe(DOC);

      await t.raise.resourceUpdated(DOC, t.bob.id);
      expect((await arrives(theirs.legacy, UPDATED)).params?.uri).toBe(DOC);
      expect((await arrives(theirs.modern, UPDATED)).params?.uri).toBe(DOC);
      expect(await received(theirs.legacy, 400)).toEqual([]);
      expect(await received(theirs.modern, 100)).toEqual([]);
      expect(await received(mine.legacy, 100)).toEqual([]);
      expect(await received(mine.modern, 100)).toEqual([]);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  it("delivers a change raised for no user in particular to every user", async () => {
    const t = topology();
    const mine = await listen(t.listenAt, alice.access);
    const theirs = await listen(t.listenAt, bob.access);
    try {
      await t.raise.toolsChanged();
      for (const reader of [mine.legacy, mine.modern, theirs.legacy, theirs.modern]) await arrives(reader, LIST_CHANGED);
    } finally {
      await mine.close();
      await theirs.close();
    }
  });

  it("reaches the official 2.x client's listen() subscription (2026-07-28)", async () => {
    const t = topology();
    const client = new Client({ name: "notify-modern", version: "1.0.0" }, { versionNegotiation: { mode: { pin: MODERN_VERSION } } });
    const changed = deferred<void>();
    client.setNotificationHandler(LIST_CHANGED, () => changed.resolve());
    const transport = new StreamableHTTPClientTransport(new URL(`${t.listenAt}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${alice.access}` } },
    });
    await client.connect(transport);
    try {
      const subscription = await client.listen({ toolsListChanged: true });
      expect(subscription.honoredFilter.toolsListChanged).toBe(true);
      await t.raise.toolsChanged(t.alice.id);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), 5000);
      });
      expect(await Promise.race([changed.promise.then(() => "delivered"), timeout])).toBe("delivered");
      clearTimeout(timer);
      await subscription.close();
    } finally {
      await client.close();
    }
  });

  it("ends a revoked connection's listen stream (PRODUCT §6: revoking closes its streams on every node)", async () => {
    const t = topology();
    const client = await newClient(t.publicUrl, "notify-revoke");
    await grant(t.publicUrl, t.bob.jar, client); // keeps the client registered
    const mine = await grant(t.publicUrl, t.alice.jar, client);
    const response = await modernFetch(t.listenAt, mine.access, "subscriptions/listen", { notifications: { toolsListChanged: true } });
    expect(response.status).toBe(200);
    const stream = new SseReader(response);
    await arrives(stream, "notifications/subscriptions/acknowledged");
    const revoked = await postForm(`${t.publicUrl}/oauth/revoke`, { token: mine.refresh, client_id: client.client_id });
    expect(revoked.status).toBe(200);
    expect(await stream.endsWithin(1000), "the listen stream ends within 1 s").toBe(true);
  });
}

describe("MCP notifications within one node (pglite)", () => {
  let server: TestServer;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    server = await startTestServer("pglite", { gatehouse: { resources: [doc] } });
    alice = await addSignedInUser(server, "alice@example.com");
    bob = await addSignedInUser(server, "bob@example.com");
  });
  afterAll(async () => server?.close());

  notificationSuite(() => ({ raise: server.running.gatehouse.notify, listenAt: server.base, publicUrl: server.base, alice, bob }));
});

describe.runIf(drivers().includes("postgres"))("MCP notifications across nodes (postgres)", () => {
  let cluster: Awaited<ReturnType<typeof startCluster>>;
  let alice: TestUser;
  let bob: TestUser;
  beforeAll(async () => {
    cluster = await startCluster({ gatehouse: { resources: [doc] } });
    alice = await addSignedInUser(cluster.a, "alice@example.com");
    bob = await addSignedInUser(cluster.a, "bob@example.com");
  });
  afterAll(async () => cluster?.close());

  // Raised on node A, listened to on node B.
  notificationSuite(() => ({ raise: cluster.a.running.gatehouse.notify, listenAt: cluster.base("b"), publicUrl: cluster.publicUrl, alice, bob }));
});
