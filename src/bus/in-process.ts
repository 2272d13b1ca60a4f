/** The bus on PGlite: one process, so every node is this one. Same delivery shape as PostgreSQL's. */
import { Listeners, type BusMessage, type EventBus } from "./bus.js";

export class InProcessBus implements EventBus {
  private readonly listeners = new Listeners<[BusMessage]>();
  readonly reliable = true;
  async publish(message: BusMessage): Promise<void> {
    // Same shape as the PostgreSQL bus: delivered asynchronously, serialized.
    const copy = JSON.parse(JSON.stringify(message)) as BusMessage;
    queueMicrotask(() => this.listeners.emit(copy));
  }
  subscribe(listener: (message: BusMessage) => void) {
    return this.listeners.add(listener);
  }
  onReset() {
    return () => {};
  }
  async close(): Promise<void> {}
}
