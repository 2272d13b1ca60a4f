/**
 * What most MCP suites need around the protocol: signed-in users with
 * grants, polling and gates, several nodes behind a router, and parsing of
 * WWW-Authenticate challenges.
 */
import { readFile, rm } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { expect, inject } from "vitest";
import { z } from "zod";
import { defineTool } from "../../src/index.js";
import { openDatabase, type Database } from "../../src/storage/db.js";
import type { TestDatabase } from "./databases.js";
import { freePort, startTestServer, type TestServer, type TestServerOptions } from "./server.js";
import { authorizeForCode, connect, registerClient, signIn, tokenRequest, type ClientRegistration, type CookieJar } from "./oauth.js";
import { type LegacySession, sessionGet } from "./mcp.js";

/* ------------------------------------------------------ users and tokens */

export interface Grant {
  client: ClientRegistration;
  access: string;
  refresh: string;
  scope: string;
}

let clientCounter = 0;

/** A new, distinct public client (distinct metadata, so DCR never returns an existing one). */
export function newClient(base: string, label = "mcp-test", metadata: Record<string, unknown> = {}): Promise<ClientRegistration> {
  return registerClient(base, { client_name: `${label}-${process.pid}-${++clientCounter}`, ...metadata });
}

/** Authorization code flow for a signed-in user, optionally asking for `scope`. */
export async function grant(base: string, jar: CookieJar, client?: ClientRegistration, scope?: string): Promise<Grant> {
  const registered = client ?? (await newClient(base));
  if (scope === undefined) {
    const { tokens } = await connect(base, jar, registered);
    return { client: registered, access: tokens.access_token, refresh: tokens.refresh_token, scope: tokens.scope ?? "" };
  }
  const issued = await authorizeForCode(base, jar, registered, { scope });
  const tokens = await tokenRequest(base, {
    grant_type: "authorization_code",
    code: issued.code,
    code_verifier: issued.verifier,
    client_id: registered.client_id,
    redirect_uri: issued.redirectUri,
    resource: `${base}/mcp`,
  });
  if (tokens.status !== 200) throw new Error(`token: ${tokens.status} ${JSON.stringify(tokens.body)}`);
  return { client: registered, access: tokens.body.access_token!, refresh: tokens.body.refresh_token!, scope: tokens.body.scope ?? "" };
}

export interface TestUser {
  id: string;
  email: string;
  jar: CookieJar;
}

/** Creates an account and signs it in. */
export async function addSignedInUser(
  server: { base: string; addUser(email: string, password: string): Promise<{ id: string; email: string }> },
  email: string,
): Promise<TestUser> {
  const password = `${email} long password`;
  const user = await server.addUser(email, password);
  return { id: user.id, email: user.email, jar: await signIn(server.base, email, password) };
}

/* ------------------------------------------------------------- timing */

/** Polls `probe` until `done` accepts its value or the deadline passes; returns the last value. */
export async function pollUntil<T>(probe: () => Promise<T>, done: (value: T) => boolean, withinMs: number, everyMs = 25): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await probe();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A promise with its resolve function outside (gates between a test and a tool it defined). */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Resumes a stream with Last-Event-ID; a 409 (the server has not yet seen the old connection go) is
 * retried, as a client retries after `retry`.
 */
export async function resumeStream(base: string, token: string, session: Pick<LegacySession, "id" | "header">, lastEventId: string): Promise<Response> {
  let response: Response | null = null;
  await pollUntil(
    async () => {
      await response?.body?.cancel();
      response = await sessionGet(base, token, session, lastEventId);
      return response.status;
    },
    (status) => status !== 409,
    3000,
    50,
  );
  return response!;
}

/** A test tool's gate: the tool says when it started and waits until the test releases it. */
export interface Gate {
  started: Promise<void>;
  start: () => void;
  released: Promise<void>;
  release: () => void;
}

/** Gates by run name, for tools that look theirs up. */
export class Gates {
  private readonly gates = new Map<string, Gate>();
  open(run: string): Gate {
    const started = deferred();
    const released = deferred();
    const gate = { started: started.promise, start: () => started.resolve(), released: released.promise, release: () => released.resolve() };
    this.gates.set(run, gate);
    return gate;
  }
  get(run: string): Gate | undefined {
    return this.gates.get(run);
  }
}

/** A tool named "gated" that signals it started, waits for the gate of its `run`, then answers `gated <run> done`. */
export function gatedTool(gates: Gates) {
  return defineTool({
    name: "gated",
    description: "Waits until the test releases it.",
    input: z.object({ run: z.string() }),
    async handler({ run }) {
      const gate = gates.get(run);
      gate?.start();
      await gate?.released;
      return { content: [{ type: "text", text: `gated ${run} done` }] };
    },
  });
}

/* ------------------------------------------------------ several nodes */

/**
 * A loopback "load balancer" in front of several nodes that share one
 * public URL: `<public>/node/<name>/…` goes to that node, anything else to
 * the node named "default". The Host header passes through unchanged, as
 * behind a real proxy, so every node sees the public host.
 */
export interface NodeRouter {
  /** The public URL (issuer) every node is configured with. */
  readonly publicUrl: string;
  /** The base URL that reaches one node: `${router.base("b")}/mcp`. */
  base(name: string): string;
  /** Points a name at a node's own URL (RunningServer.url); replaces any earlier target. */
  route(name: string, target: string): void;
  close(): Promise<void>;
}

export async function startNodeRouter(port: number): Promise<NodeRouter> {
  const targets = new Map<string, string>();
  const server = http.createServer((req, res) => {
    const match = /^\/node\/([A-Za-z0-9_-]+)(\/.*)?$/.exec(req.url ?? "/");
    const name = match ? match[1]! : "default";
    const path = match ? (match[2] ?? "/") : (req.url ?? "/");
    const target = targets.get(name);
    if (!target) {
      res.writeHead(502).end();
      return;
    }
    const url = new URL(target);
    const upstream = http.request(
      { host: url.hostname, port: url.port, method: req.method, path, headers: req.headers, agent: false },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.flushHeaders();
        answer.pipe(res);
        answer.on("error", () => res.destroy());
        answer.on("aborted", () => res.destroy());
      },
    );
    upstream.on("error", () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(upstream);
    // The client went away: so does the upstream request (a disconnect reaches the node).
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const publicUrl = `http://127.0.0.1:${port}`;
  return {
    publicUrl,
    base: (name) => `${publicUrl}/node/${name}`,
    route: (name, target) => void targets.set(name, target),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * Two (or more) nodes on one PostgreSQL database behind a NodeRouter, all
 * configured with the router's public URL. Node "a" owns the database.
 */
export interface Cluster {
  publicUrl: string;
  a: TestServer;
  b: TestServer;
  /** The base URL that reaches one node ("a", "b", or a name given to `start`). */
  base(name: string): string;
  /** Starts another node on the same database and routes `name` to it. */
  start(name: string): Promise<TestServer>;
  close(): Promise<void>;
}

export async function startCluster(options: Omit<TestServerOptions, "testDb"> = {}): Promise<Cluster> {
  const router = await startNodeRouter(await freePort());
  const config = { ...options.config, publicUrl: router.publicUrl };
  const a = await startTestServer("postgres", { ...options, config });
  router.route("default", a.running.url);
  router.route("a", a.running.url);
  const others: TestServer[] = [];
  const start = async (name: string) => {
    const node = await startTestServer("postgres", { ...options, config, testDb: a.testDb });
    others.push(node);
    router.route(name, node.running.url);
    return node;
  };
  const b = await start("b");
  return {
    publicUrl: router.publicUrl,
    a,
    b,
    base: (name) => router.base(name),
    start,
    async close() {
      await Promise.all(others.map((node) => node.close().catch(() => {})));
      await a.close();
      await router.close();
    },
  };
}

/**
 * A PGlite database in a data directory that outlives the server using it:
 * `startTestServer("pglite", { testDb })` opens it (each start reopens it, so
 * a stopped server can be followed by a new one on the same data).
 */
export function pgliteDataDir(dir: string): TestDatabase {
  let current: Database | null = null;
  let seeded = false;
  return {
    get database(): Database {
      if (!current) throw new Error("the data directory is not open");
      return current;
    },
    url: null,
    async openAnother() {
      if (!seeded) {
        // Start from the suite's migrated template: far faster than initdb and migrations in a fresh directory.
        const seed = new PGlite(path.join(dir, "pglite"), { loadDataDir: new Blob([await readFile(inject("pgliteTemplate"))]) });
        await seed.waitReady;
        await seed.close();
        seeded = true;
      }
      current = await openDatabase({ driver: "pglite", dataDir: dir });
      return current;
    },
    async cleanup() {
      await current?.close().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/* --------------------------------------------------------- challenges */

/** The attributes of a `WWW-Authenticate: Bearer k="v", …` challenge (lower-cased names); fails on bad syntax or repeats. */
export function bearerChallenge(header: string | null): Map<string, string> {
  expect(header, "WWW-Authenticate is present").toBeTruthy();
  const match = /^Bearer(?:\s+([\s\S]*))?$/i.exec(header!.trim());
  expect(match, `a Bearer challenge: ${header}`).not.toBeNull();
  const rest = match![1] ?? "";
  const params = new Map<string, string>();
  const attribute = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([!#$%&'*+.^_`|~0-9A-Za-z-]+))\s*(?:,|$)/y;
  while (attribute.lastIndex < rest.length) {
    const start = attribute.lastIndex;
    const found = attribute.exec(rest);
    expect(found, `challenge attribute at "${rest.slice(start)}"`).not.toBeNull();
    const name = found![1]!.toLowerCase();
    expect(params.has(name), `${name} appears twice in ${header}`).toBe(false);
    params.set(name, found![2] !== undefined ? found![2].replace(/\\(.)/g, "$1") : found![3]!);
  }
  return params;
}
