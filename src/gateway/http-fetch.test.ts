/**
 * The upstream client's fetch (http-fetch.ts) does what the SDK transport
 * needs of fetch: serial calls share one kept-alive connection; a JSON
 * answer arrives whole with its status and headers, an SSE answer as it is
 * written; a 204 has no body; redirects are left to the caller; an abort
 * rejects with its reason; a refused connection is fetch's TypeError.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepAliveFetch } from "./http-fetch.js";

let server: http.Server;
let base: string;
let connections = 0;
const client = keepAliveFetch();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      if (req.url === "/json") {
        res.writeHead(200, { "content-type": "application/json", "x-echo": req.headers["x-mine"] ?? "" });
        res.end(JSON.stringify({ method: req.method, body, length: req.headers["content-length"] }));
      } else if (req.url === "/sse") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("data: one\n\n");
        setTimeout(() => res.end("data: two\n\n"), 50);
      } else if (req.url === "/none") {
        res.writeHead(204).end();
      } else if (req.url === "/moved") {
        res.writeHead(307, { location: "/json" }).end();
      } else if (req.url === "/weird") {
        res.writeHead(600, "Weird", { "content-type": "application/json" }).end("{}");
      } // "/hang" never answers
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  client.close();
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe("keepAliveFetch", () => {
  it("answers JSON whole, over one kept-alive connection for serial requests", async () => {
    const before = connections;
    for (let i = 0; i < 5; i++) {
      const response = await client.fetch(`${base}/json`, { method: "POST", headers: new Headers({ "X-Mine": `v${i}` }), body: "é" });
      expect(response.status).toBe(200);
      expect(response.headers.get("x-echo")).toBe(`v${i}`);
      expect(await response.json()).toEqual({ method: "POST", body: "é", length: "2" });
    }
    expect(connections - before).toBe(1);
  });

  it("streams an SSE answer, gives a 204 no body, and leaves a redirect to the caller", async () => {
    const sse = await client.fetch(`${base}/sse`, { method: "GET" });
    expect(sse.headers.get("content-type")).toBe("text/event-stream");
    expect(await sse.text()).toBe("data: one\n\ndata: two\n\n");
    const none = await client.fetch(`${base}/none`, { method: "DELETE" });
    expect(none.status).toBe(204);
    expect(none.body).toBeNull();
    const moved = await client.fetch(`${base}/moved`, { method: "POST", body: "{}", redirect: "manual" });
    expect(moved.status).toBe(307);
    expect(moved.headers.get("location")).toBe("/json");
  });

  it("rejects with the abort reason, and with fetch's TypeError when nothing answers", async () => {
    const controller = new AbortController();
    const pending = client.fetch(`${base}/hang`, { method: "POST", body: "{}", signal: controller.signal });
    const reason = new Error("cancelled by the caller");
    setTimeout(() => controller.abort(reason), 20);
    await expect(pending).rejects.toBe(reason);
    await expect(client.fetch(`${base}/json`, { method: "GET", signal: controller.signal })).rejects.toBe(reason);
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(client.fetch(`http://127.0.0.1:${port}/`, { method: "GET" })).rejects.toThrow(new TypeError("fetch failed"));
  });

  it("a status no Response can hold (600) is fetch's TypeError, not an uncaught throw that ends the process", async () => {
    await expect(client.fetch(`${base}/weird`, { method: "POST", body: "{}" })).rejects.toThrow(new TypeError("fetch failed"));
    const after = await client.fetch(`${base}/json`, { method: "GET" });
    expect(after.status).toBe(200);
  });
});
