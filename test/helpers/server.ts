/**
 * A real Gatehouse on a random loopback port over a fresh database, for
 * black-box tests over HTTP.
 */
import net from "node:net";
import { createUser } from "../../src/accounts/users.js";
import type { Clock } from "../../src/clock.js";
import { loadConfig, type Config } from "../../src/config.js";
import { unlimited } from "../../src/storage/rate-limit.js";
import { silentLogger, type Logger } from "../../src/logger.js";
import { startServer, type RunningServer, type StartOptions } from "../../src/server.js";
import type { Database } from "../../src/storage/db.js";
import { createTestDatabase, type DriverName, type TestDatabase } from "./databases.js";

export interface TestServer {
  /** The public URL (issuer), e.g. http://127.0.0.1:PORT */
  base: string;
  running: RunningServer;
  testDb: TestDatabase;
  close(): Promise<void>;
  addUser(email: string, password: string): Promise<{ id: string; email: string }>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface TestServerOptions {
  config?: Partial<Config>;
  appDeps?: StartOptions["appDeps"];
  /** Tools, resources, prompts and server options for /mcp. */
  gatehouse?: StartOptions["gatehouse"];
  clock?: Clock;
  logger?: Logger;
  /** Reuse an existing database (a second node on the same PostgreSQL database). */
  testDb?: TestDatabase;
  /** An open pool on `testDb`'s database to serve from (e.g. one reached through a proxy); closed with the server. */
  database?: Database;
}

export async function startTestServer(driver: DriverName, options: TestServerOptions = {}): Promise<TestServer> {
  const testDb = options.testDb ?? (await createTestDatabase(driver));
  const port = await freePort();
  const config = loadConfig({}, { port, host: "127.0.0.1", publicUrl: `http://127.0.0.1:${port}`, ...options.config });
  const running = await startServer({
    config,
    logger: options.logger ?? silentLogger,
    database: options.database ?? (options.testDb ? await testDb.openAnother() : testDb.database),
    onSetupLink: () => {},
    drainMs: 200,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.gatehouse ? { gatehouse: options.gatehouse } : {}),
    appDeps: {
      rateLimits: {
        register: unlimited, loginByIp: unlimited, loginByIpAccount: unlimited, loginByAccount: unlimited, clientSecret: unlimited,
        cimdFetch: unlimited,
      },
      ...options.appDeps,
    },
  });
  return {
    base: config.publicUrl,
    running,
    testDb,
    async close() {
      await running.close();
      if (!options.testDb) await testDb.cleanup();
    },
    addUser: (email, password) => createUser(testDb.database.db, { email, password }),
  };
}
