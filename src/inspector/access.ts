// Who may use the inspector. It serves only on a loopback address; every request must name this
// machine's loopback in `Host` (a rebound DNS name pointing at 127.0.0.1 carries its own name:
// 403), come from no other web origin (`Origin`, when the browser sends one: 403), and carry the
// per-run token as the first segment of its path, `/t/<token>/…` (else 401). The token is in the
// path, not a cookie (cookies of 127.0.0.1 go to every port, another user's server too) and not
// a header (an EventSource cannot send one), and every page URL is relative so it carries it.
// Pure.
import { randomBytes, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

export const DEFAULT_INSPECT_ADDRESS = "127.0.0.1:4040";

export interface InspectAddress {
  host: string;
  port: number;
}

type ParsedAddress = { ok: true; address: InspectAddress } | { ok: false; error: string };

/** `PORT`, `HOST:PORT` or `[::1]:PORT`; HOST must be loopback (127.0.0.0/8, ::1, localhost). */
export function parseInspectAddress(text: string): ParsedAddress {
  const value = text.trim();
  let host = "127.0.0.1";
  let portText = value;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (bracketed) {
    host = bracketed[1] as string;
    portText = bracketed[2] as string;
  } else if (value.includes(":")) {
    const at = value.lastIndexOf(":");
    host = value.slice(0, at);
    portText = value.slice(at + 1);
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || !Number.isInteger(port) || port > 65_535) {
    return {
      ok: false,
      error: `${text}: expected a port or host:port, e.g. ${DEFAULT_INSPECT_ADDRESS}`,
    };
  }
  const lower = host.toLowerCase();
  if (lower === "localhost") host = "127.0.0.1";
  if (!isLoopback(host)) {
    return {
      ok: false,
      error: `${text}: the inspector serves on a loopback address only (127.0.0.1 or [::1]); it shows what your agents answer, so it is never offered to other machines`,
    };
  }
  return { ok: true, address: { host, port } };
}

export function isLoopback(host: string): boolean {
  const kind = isIP(host);
  if (kind === 4) return host.split(".")[0] === "127";
  if (kind === 6) return host === "::1" || host === "0:0:0:0:0:0:0:1";
  return false;
}

/** A fresh token for one run: 256 random bits, URL-safe. */
export function newInspectorToken(): string {
  return randomBytes(32).toString("base64url");
}

/** The page's URL for a listener on `host:port`. */
export function inspectorUrl(address: InspectAddress, token: string): string {
  return `${baseUrl(address)}/t/${token}/`;
}

function baseUrl(address: InspectAddress): string {
  const host = isIP(address.host) === 6 ? `[${address.host}]` : address.host;
  return `http://${host}:${address.port}`;
}

export interface AccessRules {
  /** `Host` values accepted (lower case, with port). */
  hosts: ReadonlySet<string>;
  /** `Origin` values accepted. */
  origins: ReadonlySet<string>;
  token: string;
}

/** The rules for a listener bound to `address` (its actual port). */
export function accessRules(address: InspectAddress, token: string): AccessRules {
  const names = new Set(["127.0.0.1", "localhost", "[::1]"]);
  names.add(isIP(address.host) === 6 ? `[${address.host}]` : address.host);
  const hosts = new Set<string>();
  for (const name of names) {
    hosts.add(`${name}:${address.port}`);
    if (address.port === 80) hosts.add(name);
  }
  return { hosts, origins: new Set([...hosts].map((host) => `http://${host}`)), token };
}

type Verdict =
  | { ok: true /** The path after the token, starting with `/`. */; path: string }
  | { ok: false; status: 401 | 403; reason: string }
  | { ok: "redirect"; location: string };

/** Checks one request's `Host`, `Origin` and token (in that order). */
export function checkRequest(
  request: { host: string | undefined; origin: string | undefined; url: string },
  rules: AccessRules,
): Verdict {
  const host = request.host?.toLowerCase();
  if (!host || !rules.hosts.has(host)) {
    return {
      ok: false,
      status: 403,
      reason: "the Host header does not name this machine's loopback",
    };
  }
  if (request.origin !== undefined && !rules.origins.has(request.origin.toLowerCase())) {
    return { ok: false, status: 403, reason: "requests from other web origins are refused" };
  }
  const path = request.url.split("?")[0] as string;
  const match = /^\/t\/([^/]+)(\/.*)?$/.exec(path);
  if (!match || !sameToken(match[1] as string, rules.token)) {
    return {
      ok: false,
      status: 401,
      reason:
        "open the inspector with the URL hybro-hub printed when it started (it carries a token)",
    };
  }
  if (match[2] === undefined) return { ok: "redirect", location: `${path}/` };
  return { ok: true, path: match[2] };
}

function sameToken(given: string, token: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

const KEPT_TURNS_ENV = "HYBRO_INSPECT_TURNS";
const MAX_KEPT_TURNS = 10_000;

/** How many turns the inspector keeps (`HYBRO_INSPECT_TURNS`, 1 to 10000); none: the default. */
export function keptTurnsFromEnv(env: Record<string, string | undefined>): {
  turns?: number;
  error?: string;
} {
  const raw = env[KEPT_TURNS_ENV]?.trim();
  if (!raw) return {};
  const turns = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(turns) || turns < 1 || turns > MAX_KEPT_TURNS) {
    return {
      error: `${KEPT_TURNS_ENV}=${JSON.stringify(raw)} is not a number of turns from 1 to ${MAX_KEPT_TURNS}; the inspector keeps the default 200`,
    };
  }
  return { turns };
}
