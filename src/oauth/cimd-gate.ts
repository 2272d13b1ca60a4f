/**
 * Bounds on outbound metadata-document fetches (MCP authorization §"AS abuse
 * protection"; THREATS 26, 30). Every new https `client_id` at /oauth/authorize
 * makes this server open a connection and store a client row, so an
 * unauthenticated visitor could otherwise make it fetch (and store) without
 * limit, or hold dozens of slow fetches open at once.
 *
 * - Per source address, in the database (so every node counts): a limited
 *   number of *new* fetches; a cached document costs nothing.
 * - Per process: a fixed number of fetches in flight. Beyond it a request
 *   waits briefly for a slot (a burst of real clients still gets through),
 *   then is refused with "try again" rather than queueing without end.
 */
import type { RateLimit } from "../storage/rate-limit.js";
import { OAuthError } from "./errors.js";

export interface FetchGateOptions {
  /** New fetches per source address (createServices: 20 a minute). */
  perAddress: RateLimit;
  /** Fetches in flight at once on this node. */
  maxConcurrent?: number;
  /** How long a fetch waits for a free slot before it is refused. */
  maxWaitMs?: number;
}

/** Too many new documents from one address, or the node is busy: a page saying "try again", never a redirect. */
export class ClientLookupThrottled extends OAuthError {
  constructor(
    readonly reason: "address" | "busy",
    retryAfterSeconds: number,
  ) {
    super(
      "temporarily_unavailable",
      reason === "address"
        ? "Too many new applications were looked up from your address. Try again in a minute."
        : "The server is busy looking up other applications. Try again in a moment.",
      { status: reason === "address" ? 429 : 503, headers: { "Retry-After": String(retryAfterSeconds) } },
    );
  }
}

export class FetchGate {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly maxConcurrent: number;
  private readonly maxWaitMs: number;

  constructor(private readonly options: FetchGateOptions) {
    this.maxConcurrent = options.maxConcurrent ?? 8;
    this.maxWaitMs = options.maxWaitMs ?? 2000;
  }

  /** Runs `fetch` for a request from `address`, or throws ClientLookupThrottled. */
  async run<T>(address: string, fetch: () => Promise<T>): Promise<T> {
    const retryAfter = await this.options.perAddress.consume(address);
    if (retryAfter !== null) throw new ClientLookupThrottled("address", retryAfter);
    await this.acquire();
    try {
      return await fetch();
    } finally {
      this.release();
    }
  }

  /** Fetches in flight now (for tests and diagnostics). */
  get inFlight(): number {
    return this.active;
  }

  private acquire(): Promise<void> {
    if (this.active < this.maxConcurrent) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      // A released slot passes straight to the first waiter (active stays the same), so no one overtakes the queue.
      const take = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.waiting.indexOf(take);
        if (index >= 0) this.waiting.splice(index, 1);
        reject(new ClientLookupThrottled("busy", 5));
      }, this.maxWaitMs);
      this.waiting.push(take);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }
}
