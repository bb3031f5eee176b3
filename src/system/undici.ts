// undici, loaded by the pieces the hub uses. Its index loads all of undici (fetch, WebSocket, the
// caches, the mocks, EventSource: 110 modules); the Agent, the proxy agent and `request` need 36
// of them, and the rest cost a running hub about 13 MB of resident memory (bench/footprint.ts;
// issue 12). These are undici's own classes, from the same files its index loads, so they mix
// with an `import { Agent } from "undici"` elsewhere in the process.
import { createRequire } from "node:module";
import type * as Undici from "undici";

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, "origin" | "path" | "method"> & {
  method?: Undici.Dispatcher.HttpMethod;
  dispatcher: Undici.Dispatcher;
};

const requireCjs = createRequire(import.meta.url);

function loadPieces(): {
  Agent: typeof Undici.Agent;
  EnvHttpProxyAgent: typeof Undici.EnvHttpProxyAgent;
} {
  try {
    const Dispatcher = requireCjs(
      "undici/lib/dispatcher/dispatcher.js",
    ) as typeof Undici.Dispatcher;
    // What undici's index does too: `dispatcher.request()`, `.stream()`, … on every dispatcher.
    Object.assign(Dispatcher.prototype, requireCjs("undici/lib/api/index.js"));
    return {
      Agent: requireCjs("undici/lib/dispatcher/agent.js"),
      EnvHttpProxyAgent: requireCjs("undici/lib/dispatcher/env-http-proxy-agent.js"),
    };
  } catch (error) {
    // A later undici moved its files: the whole package then, as before (more memory, same code).
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    return requireCjs("undici") as typeof Undici;
  }
}

export const { Agent, EnvHttpProxyAgent } = loadPieces();
export type Agent = Undici.Agent;
export type EnvHttpProxyAgent = Undici.EnvHttpProxyAgent;

/** undici's `request(url, options)`, always on the given dispatcher (never the global one). */
export function request(
  url: string | URL,
  { dispatcher, method = "GET", ...options }: RequestOptions,
): Promise<Undici.Dispatcher.ResponseData> {
  const target = new URL(url);
  return dispatcher.request({
    ...options,
    method,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
  });
}
