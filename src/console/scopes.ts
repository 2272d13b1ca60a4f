/** Scopes in plain words: the consent page and /user say the same thing about a scope. */
import { html } from "hono/html";

const SCOPE_WORDS: Record<string, string> = {
  mcp: "Use the tools, resources and prompts this server offers, as you",
};

/** `mcp` → "Use the tools, … as you (mcp)"; a tool's own scope → "Use files:read". */
export function scopeInWords(scope: string) {
  const words = SCOPE_WORDS[scope];
  return words ? html`${words} (<code>${scope}</code>)` : html`Use <code>${scope}</code>`;
}
