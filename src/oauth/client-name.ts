/**
 * CIMD §6.4: the consent page warns when a metadata document's
 * self-declared name does not match its host. The host's registrable label
 * (`notion` in www.notion.so, `mcp-tools` in mcp-tools.co.uk) must equal a
 * word, or consecutive words, of the name. Loose on purpose: it catches
 * "Claude" served from evil.example, not every lookalike.
 */
const GENERIC_SECOND_LEVEL = new Set(["co", "com", "net", "org", "gov", "edu", "ac", "or", "ne", "go", "gv", "ltd", "plc", "nic"]);

export function nameMatchesHost(name: string, host: string): boolean {
  const labels = host.replace(/:\d+$/, "").toLowerCase().split(".");
  // Country second-level suffixes (co.uk, com.au): the registrable label is one further left.
  const countrySecondLevel = labels.length > 2 && labels.at(-1)!.length === 2 && GENERIC_SECOND_LEVEL.has(labels.at(-2)!);
  const label = (labels.at(countrySecondLevel ? -3 : -2) ?? labels[0] ?? "").replace(/[^a-z0-9]/g, "");
  if (!label) return false;
  const words = name.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let joined = "";
    for (let j = i; j < words.length; j++) {
      joined += words[j];
      if (joined === label) return true;
    }
  }
  return false;
}

