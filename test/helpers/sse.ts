/** Server-sent events as MCP streams them, read with deadlines: the JSON-RPC messages, ids and priming events. */


export type JsonRpcMessage = {
  jsonrpc: "2.0";
  id?: string | number | null;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
};

/* ------------------------------------------------------------------ SSE */

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
  retry?: number;
}

/** The JSON-RPC message an SSE event carries, or null (priming events carry an id and empty data). */
export function messageOf(event: SseEvent): JsonRpcMessage | null {
  if (event.data.trim() === "") return null;
  return JSON.parse(event.data) as JsonRpcMessage;
}

/**
 * Reads a `text/event-stream` body event by event. Every wait has a
 * deadline; `ended` settles when the server ends the stream.
 */
export class SseReader {
  private readonly queue: SseEvent[] = [];
  private waiter: (() => void) | null = null;
  private done = false;
  private failure: unknown = null;
  private buffer = "";
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Every event seen so far, in arrival order. */
  readonly seen: SseEvent[] = [];
  /** Resolves when the stream ends (by the server, or by `close()`), with the time it ended. */
  readonly ended: Promise<number>;

  constructor(readonly response: Response) {
    if (!response.body) throw new Error(`no body (status ${response.status})`);
    this.reader = response.body.getReader();
    this.ended = this.pump();
  }

  private async pump(): Promise<number> {
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { done, value } = await this.reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        this.parse();
      }
    } catch (error) {
      this.failure = error;
    }
    this.done = true;
    this.wake();
    return Date.now();
  }

  private parse(): void {
    this.buffer = this.buffer.replace(/\r\n?/g, "\n");
    for (let end = this.buffer.indexOf("\n\n"); end >= 0; end = this.buffer.indexOf("\n\n")) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event: SseEvent = { data: "" };
      const data: string[] = [];
      let fields = 0;
      for (const line of block.split("\n")) {
        if (line === "" || line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        fields++;
        if (name === "data") data.push(value);
        else if (name === "id") event.id = value;
        else if (name === "event") event.event = value;
        else if (name === "retry") event.retry = Number(value);
      }
      if (fields === 0) continue; // a comment-only block (keep-alive)
      event.data = data.join("\n");
      this.queue.push(event);
      this.seen.push(event);
    }
    this.wake();
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  /** What ended the stream if it did not end cleanly (network error, reset, abort); null while open or after a clean end. */
  get error(): unknown {
    return this.failure;
  }

  /** True once the server has ended the stream and every event was taken. */
  get finished(): boolean {
    return this.done && this.queue.length === 0;
  }

  /** The next event; null when the stream ended first. Throws when none arrives within `timeoutMs`. */
  async next(timeoutMs = 5000): Promise<SseEvent | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = this.queue.shift();
      if (event) return event;
      if (this.done) {
        if (this.failure && !isAbort(this.failure)) throw this.failure;
        return null;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no SSE event within ${timeoutMs} ms (seen ${this.seen.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** The next event that carries a JSON-RPC message (priming events skipped); null at end of stream. */
  async nextMessage(timeoutMs = 5000): Promise<JsonRpcMessage | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event === null) return null;
      const message = messageOf(event);
      if (message) return message;
    }
  }

  /** Events up to and including the first one `stop` accepts; throws at end of stream or deadline. */
  async until(stop: (event: SseEvent, message: JsonRpcMessage | null) => boolean, timeoutMs = 10_000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    const events: SseEvent[] = [];
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event === null) throw new Error(`stream ended before the awaited event (after ${events.length} events)`);
      events.push(event);
      if (stop(event, messageOf(event))) return events;
    }
  }

  /** Every remaining event until the server ends the stream (throws past the deadline). */
  async rest(timeoutMs = 10_000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    const events: SseEvent[] = [];
    for (;;) {
      const event = await this.next(Math.max(1, deadline - Date.now()));
      if (event === null) return events;
      events.push(event);
    }
  }

  /** Whether the server ends the stream within `timeoutMs` (events still queued are left alone). */
  async endsWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const result = await Promise.race([this.ended.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  /** Events that arrive within `ms` (for "nothing else comes" checks). */
  async drain(ms: number): Promise<SseEvent[]> {
    const deadline = Date.now() + ms;
    const events: SseEvent[] = [];
    while (Date.now() < deadline) {
      try {
        const event = await this.next(Math.max(1, deadline - Date.now()));
        if (event === null) break;
        events.push(event);
      } catch {
        break;
      }
    }
    return events;
  }

  /** Disconnects (the client side going away). */
  async close(): Promise<void> {
    await this.reader.cancel().catch(() => {});
    await this.ended;
  }
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || /abort|terminated|cancel/i.test(error.message));
}
