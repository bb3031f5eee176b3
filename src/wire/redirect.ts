// How an HTTP redirect is reported wherever one is met (relay, gateway, agents): no client here
// follows redirects (a redirect could carry the key or a turn to another host), so the message
// says where it pointed, so the user can fix the URL.

const MAX_LOCATION_CHARS = 200;

/** `HTTP 307 redirect to <Location> (not followed)`; a missing Location is said too. */
export function redirectText(status: number, location: string | null | undefined): string {
  const target = (location ?? "").replace(/\p{Cc}/gu, "").trim();
  if (target === "") return `HTTP ${status} redirect without a Location (not followed)`;
  const shown =
    target.length > MAX_LOCATION_CHARS ? `${target.slice(0, MAX_LOCATION_CHARS)}…` : target;
  return `HTTP ${status} redirect to ${shown} (not followed)`;
}

/** True for the statuses that redirect (and carry a Location). */
export function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}
