/**
 * A load client on plain TCP sockets for `BENCH_CLIENT=raw`: each caller
 * keeps one keep-alive connection, writes a prepared HTTP/1.1 request and
 * reads just enough of the answer to know where it ends (Content-Length,
 * chunked, or the connection closing). node:http's client costs about as much
 * CPU per request as a small server answer (80–120 µs); sharing two cores with
 * the servers, that cost is added to every row alike and squeezes the ratios
 * between them. This client costs a fraction of it, so the rows measure the
 * servers — as an external load generator on its own core would.
 */
import net from "node:net";
import type { RunResult, RunSpec } from "./load.js";

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

/** Reads answers off one socket, one at a time (requests are never pipelined). */
class Connection {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: { resolve(answer: Answer): void; reject(error: Error): void } | null = null;
  private ended = false;
  readonly ready: Promise<void>;

  get usable(): boolean {
    return !this.ended && !this.socket.destroyed;
  }

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    this.ready = new Promise((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    socket.on("data", (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.tryParse();
    });
    socket.on("end", () => {
      this.ended = true;
      this.tryParse();
    });
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("socket closed")));
  }

  send(request: Buffer): Promise<Answer> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(request);
    });
  }

  private fail(error: Error): void {
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(error);
  }

  private tryParse(): void {
    if (!this.waiting) return;
    const headEnd = this.buffer.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const head = this.buffer.toString("latin1", 0, headEnd);
    const status = Number(head.slice(9, 12));
    const header = (name: string) => new RegExp(`\r\n${name}:[ \t]*([^\r\n]*)`, "i").exec(head)?.[1]?.trim() ?? null;
    const start = headEnd + 4;
    let body: Buffer | undefined;
    let end = 0;
    const length = header("content-length");
    if (length !== null) {
      end = start + Number(length);
      if (this.buffer.length >= end) body = this.buffer.subarray(start, end);
    } else if (header("transfer-encoding")?.toLowerCase() === "chunked") {
      const chunks: Buffer[] = [];
      for (let at = start; ; ) {
        const lineEnd = this.buffer.indexOf("\r\n", at);
        if (lineEnd < 0) return;
        const size = parseInt(this.buffer.toString("latin1", at, lineEnd), 16);
        if (size === 0) {
          if (this.buffer.length < lineEnd + 4) return;
          end = lineEnd + 4;
          body = Buffer.concat(chunks);
          break;
        }
        if (this.buffer.length < lineEnd + 2 + size + 2) return;
        chunks.push(this.buffer.subarray(lineEnd + 2, lineEnd + 2 + size));
        at = lineEnd + 2 + size + 2;
      }
    } else if (this.ended) {
      end = this.buffer.length;
      body = this.buffer.subarray(start);
    }
    if (!body) return;
    this.buffer = this.buffer.subarray(end);
    const waiting = this.waiting;
    this.waiting = null;
    waiting.resolve({ status, contentType: header("content-type"), text: body.toString("utf8") });
  }
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? -1 : sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export async function rawRun(spec: RunSpec, nextId: () => number): Promise<RunResult> {
  const url = new URL(spec.url);
  const port = Number(url.port || 80);
  const [head, ...tail] = spec.body.split('"__ID__"');
  const lines = Object.entries({ host: url.host, ...spec.headers }).map(([name, value]) => `${name}: ${value}\r\n`);
  const prefix = `POST ${url.pathname}${url.search} HTTP/1.1\r\n${lines.join("")}`;
  const request = () => {
    const body = tail.length === 0 ? head! : head + tail.map((part) => `${nextId()}${part}`).join("");
    return Buffer.from(`${prefix}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  };
  const latencies: number[] = [];
  let started = 0;
  let errors = 0;
  let firstError: string | null = null;
  let contentType: string | null = null;
  const begin = performance.now();
  const deadline = begin + spec.durationMs;
  await Promise.all(
    Array.from({ length: spec.concurrency }, async () => {
      let connection: Connection | null = null;
      while (started < spec.maxRequests && performance.now() < deadline) {
        started++;
        const t0 = performance.now();
        try {
          // A connection the server ended (Connection: close) is replaced before the request, not failed by it.
          if (connection && !connection.usable) connection = null;
          if (!connection) {
            connection = new Connection(net.connect(port, url.hostname));
            await connection.ready;
          }
          const answer = await connection.send(request());
          contentType = answer.contentType;
          if (answer.status !== spec.expectStatus || !answer.text.includes(spec.expectText)) {
            errors++;
            firstError ??= `${answer.status} ${answer.text.slice(0, 300)}`;
          }
        } catch (error) {
          errors++;
          firstError ??= String(error);
          connection?.socket.destroy();
          connection = null;
        }
        latencies.push(performance.now() - t0);
      }
      connection?.socket.destroy();
    }),
  );
  const elapsedMs = performance.now() - begin;
  const sorted = Float64Array.from(latencies).sort();
  return { count: latencies.length, errors, firstError, elapsedMs, contentType, latenciesMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99) } };
}
