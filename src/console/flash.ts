/**
 * One-time messages for the page a form redirects to (Post/Redirect/Get):
 * a new personal API key to show once, or "Disconnected …" / "Deleted key …"
 * after a delete. Nothing travels in the URL, so there is nothing to forge or
 * reflect: each entry lives in the KV store under the console session
 * (`console:flash:<session id hash>:<ordered id>`, 60 s), sealed under a
 * secret derived from the session cookie — which the server never stores, so
 * the database never holds a usable API key, not even for those 60 s — and is
 * taken with an atomic `getDel`, so two reloads cannot both show it.
 */
import { z } from "zod";
import type { Clock } from "../clock.js";
import { open, randomToken, seal } from "../crypto.js";
import type { KvStore } from "../storage/kv/kv.js";
import type { ConsoleSession } from "../identity/sessions.js";

export const FLASH_TTL_MS = 60_000;
const SEAL_CONTEXT = "gatehouse console flash v1";

const flashSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("key-created"), name: z.string(), token: z.string() }),
  z.object({ kind: z.literal("key-deleted"), name: z.string() }),
  z.object({ kind: z.literal("disconnected"), name: z.string() }),
]);

export type Flash = z.infer<typeof flashSchema>;

export class FlashStore {
  constructor(
    private readonly kv: KvStore,
    private readonly clock: Clock,
  ) {}

  async put(session: ConsoleSession, flash: Flash): Promise<void> {
    // Ordered by time, so several (two tabs, a lost redirect) are shown in the order they happened.
    const id = `${String(this.clock.now()).padStart(13, "0")}${randomToken(9)}`;
    await this.kv.set(`${prefix(session)}${id}`, seal(session.browserSecret, SEAL_CONTEXT, JSON.stringify(flash)), { ttlMs: FLASH_TTL_MS });
  }

  /** Every message waiting for this session, each removed as it is read. */
  async take(session: ConsoleSession): Promise<Flash[]> {
    const { entries } = await this.kv.scanByPrefix(prefix(session), { limit: 20 });
    const taken: Flash[] = [];
    for (const { key } of entries) {
      const sealed = await this.kv.getDel(key);
      if (sealed === null) continue; // a concurrent request of the same session took it
      const opened = open(session.browserSecret, SEAL_CONTEXT, sealed);
      const parsed = opened === null ? null : flashSchema.safeParse(JSON.parse(opened));
      if (parsed?.success) taken.push(parsed.data);
    }
    return taken;
  }
}

function prefix(session: ConsoleSession): string {
  return `console:flash:${session.idHash}:`;
}
