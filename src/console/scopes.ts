/** Scopes in plain words: the consent page and /user say the same thing about a scope. */
import { html } from "hono/html";

const SCOPE_WORDS: Record<string, string> = {
  mcp: "Use this server's tools, resources and prompts that need no other permission, as you",
};

/** What each scope makes possible, by name (the MCP registry's catalog). */
export type ScopeCatalog = ReadonlyMap<string, { tools: readonly string[]; resources: readonly string[]; prompts: readonly string[] }>;

/** `mcp` → "Use this server's tools, … as you (mcp)"; a tool's own scope → "Use files:read". */
export function scopeInWords(scope: string) {
  const words = SCOPE_WORDS[scope];
  return words ? html`${words} (<code>${scope}</code>)` : html`Use <code>${scope}</code>`;
}

/** "Tools: a, b · Prompts: c" — exactly what a scope unlocks; nothing when it unlocks nothing here. */
export function scopeUses(scope: string, catalog: ScopeCatalog) {
  const uses = catalog.get(scope);
  if (!uses) return "";
  const parts = (
    [
      ["Tools", uses.tools],
      ["Resources", uses.resources],
      ["Prompts", uses.prompts],
    ] as const
  ).filter(([, names]) => names.length > 0);
  return html`<div class="muted scope-uses">${parts.map(([label, names], i) => html`${i ? " · " : ""}${label}: ${names.join(", ")}`)}</div>`;
}
