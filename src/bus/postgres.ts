/**
 * The bus on PostgreSQL: LISTEN on a dedicated connection, NOTIFY through the
 * pool. Every node, the sender included, hears each message once. A lost
 * LISTEN connection makes the bus unreliable (token caching stops) until it
 * reconnects, and then resets listeners, since messages may have been missed.
 */
import pg from "pg";
import { randomToken } from "../crypto.js";
import type { Logger } from "../logger.js";
import type { KvStore } from "../storage/kv/kv.js";
import { Listeners, type BusMessage, type EventBus } from "./bus.js";

const CHANNEL = "gatehouse_bus";
/** NOTIFY payloads are capped at 8000 bytes; bigger messages travel through the KV store. */
const MAX_INLINE_PAYLOAD = 7000;

export class PostgresBus implements EventBus {
  private readonly listeners = new Listeners<[BusMessage]>();
  private readonly resets = new Listeners<[]>();
  private client: pg.Client | null = null;
  private closed = false;
  private connected = false;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly pool: pg.Pool,
    private readonly kv: KvStore,
    private readonly logger: Logger,
  ) {}

  get reliable(): boolean {
    return this.connected;
  }

  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.connection, connectionTimeoutMillis: 5000 });
    client.on("notification", (n) => {
      if (n.channel === CHANNEL && n.payload) void this.deliver(n.payload);
    });
    client.on("error", () => this.lost(client));
    client.on("end", () => this.lost(client));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
    this.connected = true;
  }

  private lost(client: pg.Client): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    this.connected = false;
    this.resets.emit();
    this.logger.warn("event bus connection lost; retrying");
    this.scheduleReconnect(500);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.connect()
        .then(() => this.resets.emit())
        .catch(() => this.scheduleReconnect(Math.min(delayMs * 2, 10_000)));
    }, delayMs);
    this.retryTimer.unref();
  }

  private async deliver(payload: string): Promise<void> {
    try {
      let text = payload;
      if (payload.startsWith("ref:")) {
        const stored = await this.kv.get(`bus:payload:${payload.slice(4)}`);
        if (stored === null) return;
        text = stored;
      }
      this.listeners.emit(JSON.parse(text) as BusMessage);
    } catch (error) {
      this.logger.warn("event bus message dropped", { error });
    }
  }

  async publish(message: BusMessage): Promise<void> {
    let payload = JSON.stringify(message);
    if (Buffer.byteLength(payload) > MAX_INLINE_PAYLOAD) {
      const ref = randomToken(16);
      await this.kv.set(`bus:payload:${ref}`, payload, { ttlMs: 60_000 });
      payload = `ref:${ref}`;
    }
    await this.pool.query("SELECT pg_notify($1, $2)", [CHANNEL, payload]);
  }

  subscribe(listener: (message: BusMessage) => void) {
    return this.listeners.add(listener);
  }

  onReset(listener: () => void) {
    return this.resets.add(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const client = this.client;
    this.client = null;
    this.connected = false;
    await client?.end().catch(() => {});
  }
}
