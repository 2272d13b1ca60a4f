/**
 * Where the console lives: `config.consolePath` ("" or a path such as
 * `/gatehouse`), set on every request by the app (app/app.ts) so that pages,
 * forms and redirects — the consent page's sign-out included, rendered under
 * /oauth/authorize — all point under it.
 */
import type { Context } from "hono";

export type ConsolePathVariables = { consolePath: string };

/** A console path under the configured prefix: `consoleHref(c, "/user")` → `/gatehouse/user`. */
export function consoleHref(c: Context, path: string): string {
  return `${(c.var as Partial<ConsolePathVariables>).consolePath ?? ""}${path}`;
}

/** The base of every console URL: the public URL and the console path (`https://example.com/gatehouse`). */
export function consoleBaseUrl(config: { publicUrl: string; consolePath: string }): string {
  return `${config.publicUrl}${config.consolePath}`;
}
