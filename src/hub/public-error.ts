// What of a hub-made error may leave this machine. The hub's own failure texts name the agent's
// address ("could not reach the agent at http://10.0.0.7:8080/a2a"); that helps in the local
// log, but an agent_error goes to the relay and to whoever talks to the agent there, so the
// published text says "the agent" without where it lives (URLs, IP addresses, host names of
// failed lookups).
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'()<>]+/gi;
const BRACKETED_IPV6 = /\[[0-9a-f:.]+\](?::\d+)?/gi;
const IPV4 = /\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g;
const LOOKUP_FAILURE = /\b(ENOTFOUND|EAI_AGAIN|EAI_NONAME)\s+[^\s)]+/g;

/** `text` with every address in it replaced by a placeholder. */
export function withoutAddresses(text: string): string {
  return text
    .replace(URL_PATTERN, "[agent address]")
    .replace(BRACKETED_IPV6, "[agent address]")
    .replace(IPV4, "[agent address]")
    .replace(LOOKUP_FAILURE, "$1 [agent host]");
}
