/**
 * "No route here": the mark the Node adapter (node-handler.ts) reads to hand
 * a request on to the host app (Express `next()`) instead of answering 404.
 * Only an env that asks for it (carries the key) is marked, so a standalone
 * server's 404s, and their log lines, stay as they are.
 */
const UNROUTED = Symbol("gatehouse.unrouted");

type Markable = { [UNROUTED]?: boolean };

/** The env to pass to `app.fetch` when a 404 should fall through: `wasUnrouted(env)` tells afterwards. */
export function askUnrouted<T extends object>(env: T): T {
  (env as Markable)[UNROUTED] = false;
  return env;
}

/** Called by the app's not-found handler. */
export function markUnrouted(env: unknown): void {
  if (typeof env === "object" && env !== null && UNROUTED in env) (env as Markable)[UNROUTED] = true;
}

export function wasUnrouted(env: unknown): boolean {
  return typeof env === "object" && env !== null && (env as Markable)[UNROUTED] === true;
}
