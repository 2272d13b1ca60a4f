/**
 * `/healthz` and `/readyz` (PRODUCT §5, §8) on a real server on a loopback
 * port, built by `startServer` exactly as `gatehouse start` builds it: once on
 * PGlite in a temp data dir, once on a fresh PostgreSQL database when available.
 */
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/logger.js";
import { startServer, type RunningServer } from "../../src/server.js";
import { createTestDatabase, drivers, type DriverName } from "../helpers/databases.js";

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

for (const driver of drivers()) {
  describe(`health endpoints on ${driver}`, () => {
    let running: RunningServer;
    let dataDir: string;
    let cleanupDb: () => Promise<void> = async () => {};
    const setupLinks: string[] = [];

    beforeAll(async () => {
      dataDir = await mkdtemp(path.join(os.tmpdir(), "gatehouse-health-"));
      let databaseUrl: string | undefined;
      if (driver === ("postgres" satisfies DriverName)) {
        // A fresh database of our own; the helper's pool is closed right away, the server opens its own.
        const testDb = await createTestDatabase("postgres");
        databaseUrl = testDb.url!;
        cleanupDb = testDb.cleanup;
      }
      const config = loadConfig({}, { port: 0, host: "127.0.0.1", dataDir, databaseUrl, logLevel: "silent" });
      running = await startServer({ config, logger: silentLogger, onSetupLink: (url) => setupLinks.push(url) });
    });

    afterAll(async () => {
      await running?.close();
      await cleanupDb();
      await rm(dataDir, { recursive: true, force: true });
    });

    it("listens on a loopback port and reports the setup link of an empty database", () => {
      expect(running.url).toBe(`http://127.0.0.1:${running.port}`);
      expect(running.port).toBeGreaterThan(0);
      expect(setupLinks).toHaveLength(1);
      expect(setupLinks[0]).toMatch(/\/setup\?token=[A-Za-z0-9_-]{43}$/);
    });

    it("/healthz answers 200 {status: ok}, never cached", async () => {
      const res = await fetch(`${running.url}/healthz`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ status: "ok" });
    });

    it("/readyz answers 200 once migrated, never cached", async () => {
      const res = await fetch(`${running.url}/readyz`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ status: "ready" });
    });

    it("an unknown path is a 404 JSON error", async () => {
      const res = await fetch(`${running.url}/no/such/path`);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = (await res.json()) as { error?: unknown };
      expect(body.error).toBe("not_found");
    });

    it("/healthz is GET only", async () => {
      const res = await fetch(`${running.url}/healthz`, { method: "POST" });
      expect(res.status).toBe(404);
    });

    it("/readyz answers 503 with Retry-After once the database is gone, /healthz still 200", async () => {
      await running.deps.database.close();
      const res = await fetch(`${running.url}/readyz`);
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toMatch(/^\d+$/);
      expect(res.headers.get("cache-control")).toBe("no-store");
      expect(await res.json()).toEqual({ status: "database_unavailable" });
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
    });

    it("close() resolves, frees the port and (on PGlite) the data directory", async () => {
      await running.close();
      await expect(fetch(`${running.url}/healthz`)).rejects.toThrow();
      expect(await portIsFree(running.port)).toBe(true);
      expect(existsSync(path.join(dataDir, "gatehouse.lock"))).toBe(false);
      expect(existsSync(path.join(dataDir, "gatehouse.sock"))).toBe(false);
      // Closing twice is harmless (SIGTERM and an embedding app may both ask).
      await expect(running.close()).resolves.toBeUndefined();
    });
  });
}
