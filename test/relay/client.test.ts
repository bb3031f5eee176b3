import { createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { RelayClient } from "../../src/relay/client.ts";
import { RelayAuthError, RelayError } from "../../src/relay/errors.ts";
import {
  errorBody,
  json,
  type ScriptedServer,
  startScriptedServer,
  waitUntil,
} from "./scripted-server.ts";

const KEY = "hybro_client_test_key_0123456789abcdef";
const HUB = "0123456789abcdef0123456789abcdef";

let server: ScriptedServer | null = null;
let client: RelayClient | null = null;
const extra: Array<() => Promise<void>> = [];

afterEach(async () => {
  await client?.close();
  await server?.close();
  for (const close of extra.splice(0)) await close();
  client = null;
  server = null;
});

function makeClient(
  url: string,
  overrides: Partial<ConstructorParameters<typeof RelayClient>[0]> = {},
) {
  client = new RelayClient({
    gatewayUrl: `${url}/`,
    apiKey: () => KEY,
    keySource: "HYBRO_API_KEY",
    env: {},
    settings: { requestTimeoutMs: 2000, connectTimeoutMs: 1000 },
    ...overrides,
  });
  return client;
}

describe("RelayClient", () => {
  it("sends the key, a User-Agent and JSON to the wire paths", async () => {
    server = await startScriptedServer((request, res) => {
      if (request.path.endsWith("/register"))
        return json(res, 200, { hub_id: HUB, user_id: "usr_1" });
      if (request.path.endsWith("/agents/sync")) {
        return json(res, 200, { synced: [{ agent_id: "agt_1", local_agent_id: "aaaaaaaaaaaa" }] });
      }
      if (request.path.endsWith("/status"))
        return json(res, 200, { hubs: [{ hub_id: HUB, is_online: true }] });
      res.writeHead(204).end();
    });
    const relay = makeClient(server.url);
    expect(relay.gatewayUrl).toBe(server.url);
    expect(await relay.register(HUB)).toEqual({ hub_id: HUB, user_id: "usr_1" });
    const agent = {
      local_agent_id: "aaaaaaaaaaaa",
      name: "Echo",
      description: "echo",
      capabilities: ["streaming"],
      agent_card: { name: "Echo" },
    };
    expect((await relay.syncAgents(HUB, [agent])).synced).toHaveLength(1);
    await relay.heartbeat(HUB);
    await relay.publish(HUB, "room_1", [
      {
        type: "processing_status",
        agent_message_id: "am_1",
        data: { status: "completed", user_message_id: null, task_id: "t_1" },
      },
    ]);
    const status = await relay.status();
    expect(status.hubs[0]).toEqual({
      hub_id: HUB,
      is_online: true,
      agent_count: 0,
      active_agent_count: 0,
      inactive_agent_count: 0,
    });

    const [register, sync, heartbeat, publish, statusCall] = server.requests;
    expect(register).toMatchObject({
      method: "POST",
      path: "/api/v1/relay/hub/register",
      body: { hub_id: HUB },
    });
    expect(sync).toMatchObject({
      path: `/api/v1/relay/hub/${HUB}/agents/sync`,
      body: { agents: [agent], prune_missing: true },
    });
    expect(heartbeat).toMatchObject({
      method: "POST",
      path: `/api/v1/relay/hub/${HUB}/heartbeat`,
      body: null,
    });
    expect(publish).toMatchObject({
      path: `/api/v1/relay/hub/${HUB}/publish`,
      body: { room_id: "room_1" },
    });
    expect(statusCall).toMatchObject({ method: "GET", path: "/api/v1/relay/hub/status" });
    for (const request of server.requests) {
      expect(request.headers["x-api-key"]).toBe(KEY);
      expect(request.headers["user-agent"]).toMatch(/^hybro-hub\/\d+\.\d+\.\d+/);
    }
    expect(register?.headers["content-type"]).toBe("application/json");
  });

  it("reads the key on every call (a rotated key needs no restart)", async () => {
    server = await startScriptedServer((_request, res) => {
      res.writeHead(204).end();
    });
    let key = "hybro_first_key_00000000000000000000";
    makeClient(server.url, { apiKey: () => key });
    await client!.heartbeat(HUB);
    key = "hybro_second_key_0000000000000000000";
    await client!.heartbeat(HUB);
    expect(server.requests.map((r) => r.headers["x-api-key"])).toEqual([
      "hybro_first_key_00000000000000000000",
      "hybro_second_key_0000000000000000000",
    ]);
  });

  it("a 401 for a key replaced while the call was in flight is retried, not fatal", async () => {
    let key = "hybro_first_key_00000000000000000000";
    server = await startScriptedServer((request, res) => {
      // The rotation happens while the relay is answering: it refuses the old key.
      key = "hybro_second_key_0000000000000000000";
      if (request.headers["x-api-key"] === "hybro_first_key_00000000000000000000") {
        return json(res, 401, errorBody("revoked_api_key", "API key revoked"));
      }
      res.writeHead(204).end();
    });
    makeClient(server.url, { apiKey: () => key });
    const error = await client!.heartbeat(HUB).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayError);
    expect(error).not.toBeInstanceOf(RelayAuthError);
    expect((error as RelayError).retryable).toBe(true);
    // The retry carries the new key and goes through (the unchanged-key 401 stays fatal: below).
    await client!.heartbeat(HUB);
    expect(server.requests.at(-1)?.headers["x-api-key"]).toBe(key);
  });

  it("tolerates a register answer without user_id", async () => {
    server = await startScriptedServer((_request, res) => json(res, 200, { hub_id: HUB }));
    expect(await makeClient(server.url).register(HUB)).toEqual({ hub_id: HUB, user_id: null });
  });

  it("a 401 names the key source and never the key, even when the relay echoes it", async () => {
    server = await startScriptedServer((_request, res) =>
      json(res, 401, errorBody("invalid_api_key", `Invalid API key ${KEY}`)),
    );
    const error = await makeClient(server.url, { keySource: "--api-key" })
      .register(HUB)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RelayAuthError);
    const auth = error as RelayAuthError;
    expect(auth.message).toContain("--api-key");
    expect(auth.message).not.toContain(KEY);
    expect(JSON.stringify(auth.detail)).not.toContain(KEY);
  });

  it("classifies 404, 429 with Retry-After and 5xx", async () => {
    const answers = [
      () => ({ status: 404, body: errorBody("not_found", "hub not found"), headers: {} }),
      () => ({
        status: 429,
        body: errorBody("rate_limit_exceeded", "slow down"),
        headers: { "retry-after": "3" },
      }),
      () => ({ status: 502, body: { detail: "bad gateway" }, headers: {} }),
    ];
    let n = 0;
    server = await startScriptedServer((_request, res) => {
      const answer = answers[n++]!();
      json(res, answer.status, answer.body, answer.headers);
    });
    const relay = makeClient(server.url);
    const kinds: Array<[string, number | null]> = [];
    for (let i = 0; i < 3; i += 1) {
      const error = (await relay.heartbeat(HUB).catch((e: unknown) => e)) as RelayError;
      expect(error).toBeInstanceOf(RelayError);
      kinds.push([error.kind, error.retryAfterMs]);
    }
    expect(kinds).toEqual([
      ["not_registered", null],
      ["retry_after", 3000],
      ["transient", null],
    ]);
  });

  it("a refused connection is a transient ConnectError", async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const error = (await makeClient(`http://127.0.0.1:${port}`)
      .register(HUB)
      .catch((e: unknown) => e)) as RelayError;
    expect(error).toBeInstanceOf(RelayError);
    expect(error.kind).toBe("transient");
    expect(error.code).toBe("ConnectError");
  });

  it("a relay that never answers hits the request timeout, not undici's 300 s default", async () => {
    server = await startScriptedServer(() => {
      /* stall: never answer */
    });
    const error = (await makeClient(server.url, { settings: { requestTimeoutMs: 150 } })
      .heartbeat(HUB)
      .catch((e: unknown) => e)) as RelayError;
    expect(error).toBeInstanceOf(RelayError);
    expect(error.kind).toBe("transient");
    expect(error.code).toBe("ReadTimeout");
  });

  it("an aborted call rejects with the abort, not a relay error", async () => {
    server = await startScriptedServer(() => {
      /* stall */
    });
    const controller = new AbortController();
    const call = makeClient(server.url).heartbeat(HUB, controller.signal);
    setTimeout(() => controller.abort(), 20);
    const error = await call.catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(RelayError);
  });

  it("the event stream must be text/event-stream", async () => {
    server = await startScriptedServer((_request, res) => json(res, 200, { hello: "proxy page" }));
    const error = (await makeClient(server.url)
      .openEvents(HUB, { signal: new AbortController().signal })
      .catch((e: unknown) => e)) as RelayError;
    expect(error.kind).toBe("transient");
    expect(error.code).toBe("WrongContentType");
  });

  it("goes through HTTP_PROXY when it is set", async () => {
    server = await startScriptedServer((_request, res) => {
      res.writeHead(204).end();
    });
    const target = new URL(server.url);
    const seen: string[] = [];
    const proxy: Server = createServer((req, res) => {
      // Plain forwarding (absolute-form request line).
      seen.push(`${req.method} ${req.url}`);
      const upstream = httpRequest(
        req.url!,
        { method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    proxy.on("connect", (req, socket, head) => {
      seen.push(`CONNECT ${req.url}`);
      const upstream = connect(Number(target.port), target.hostname, () => {
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    extra.push(
      () =>
        new Promise<void>((resolve) => {
          proxy.close(() => resolve());
          proxy.closeAllConnections();
        }),
    );
    const { port } = proxy.address() as AddressInfo;
    const relay = makeClient(server.url, { env: { HTTP_PROXY: `http://127.0.0.1:${port}` } });
    expect(relay.proxied).toBe(true);
    await relay.heartbeat(HUB);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toContain(`127.0.0.1:${target.port}`);
    expect(server.requests).toHaveLength(1);
  });

  it("NO_PROXY exempts the relay host", async () => {
    server = await startScriptedServer((_request, res) => {
      res.writeHead(204).end();
    });
    const relay = makeClient(server.url, {
      env: { HTTP_PROXY: "http://127.0.0.1:9", NO_PROXY: "127.0.0.1" },
    });
    await relay.heartbeat(HUB);
    expect(server.requests).toHaveLength(1);
  });
});

// Issue 15, findings 8, 9 and 11 and the redirect of 14: a hostile or broken relay, or something
// between it and the hub, must neither hold a call for minutes, nor fill the hub's memory, nor
// pass for a refused key.
describe("RelayClient against a hostile relay or a proxy in between", () => {
  const failure = async (promise: Promise<unknown>) =>
    (await promise.then(
      () => null,
      (error: unknown) => error,
    )) as RelayError | null;

  /** A 200 whose body never ends: chunks until the client hangs up (or `totalBytes`). */
  function runawayAnswer(totalBytes: number, headers: Record<string, string> = {}) {
    const sent = { bytes: 0, closed: false };
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    const handler = (_request: unknown, res: import("node:http").ServerResponse) => {
      res.writeHead(200, { "content-type": "application/json", ...headers });
      res.on("close", () => {
        sent.closed = true;
      });
      const pump = () => {
        while (!res.destroyed && sent.bytes < totalBytes) {
          sent.bytes += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", pump);
        }
        if (!res.destroyed) res.end();
      };
      res.write('{"hub_id":"');
      pump();
    };
    return { sent, handler };
  }

  it("a register answer beyond the size cap is not read: the call fails there and the relay is hung up on", async () => {
    const runaway = runawayAnswer(64 * 1024 * 1024);
    server = await startScriptedServer(runaway.handler);
    const relay = makeClient(server.url, { settings: { maxAnswerBytes: 1024 * 1024 } });
    const error = await failure(relay.register(HUB));
    expect(error).toBeInstanceOf(RelayError);
    expect([error?.kind, error?.code]).toEqual(["transient", "AnswerTooLarge"]);
    expect(error?.message).toContain("more than 1 MiB");
    await waitUntil(() => runaway.sent.closed, 10_000, "the hub to hang up");
    // Socket buffers hold a few MiB at most: far from the 64 MiB the relay meant to send.
    expect(runaway.sent.bytes).toBeLessThan(16 * 1024 * 1024);
  });

  it("an answer that declares a length beyond the cap is refused before reading it", async () => {
    const runaway = runawayAnswer(4 * 1024 * 1024, { "content-length": String(400 * 1024 * 1024) });
    server = await startScriptedServer(runaway.handler);
    const error = await failure(
      makeClient(server.url, { settings: { maxAnswerBytes: 1024 * 1024 } }).status(),
    );
    expect(error?.code).toBe("AnswerTooLarge");
  });

  it("a relay dribbling one byte at a time cannot hold a call past its whole-call deadline", async () => {
    // Body: headers at once, then one byte every 20 ms (never silent long enough for the
    // idle timeout, which is set far beyond the test's own timeout).
    server = await startScriptedServer((_request, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(" ")), 20);
      res.on("close", () => clearInterval(timer));
    });
    const slow = { requestTimeoutMs: 120_000, requestDeadlineMs: 300 };
    for (const call of [
      (c: RelayClient) => c.register(HUB),
      (c: RelayClient) => c.heartbeat(HUB),
      (c: RelayClient) => c.syncAgents(HUB, []),
    ]) {
      const error = await failure(call(makeClient(server.url, { settings: slow })));
      expect(error).toBeInstanceOf(RelayError);
      expect([error?.kind, error?.code]).toEqual(["transient", "DeadlineExceeded"]);
      expect(error?.message).toContain("did not finish within 300 ms");
      await client?.close();
    }
    // Headers: the status line and header bytes themselves trickle in.
    const raw = createServer();
    raw.on("connection", (socket) => {
      const bytes = Buffer.from("HTTP/1.1 200 OK\r\nX-Slow: " + "z".repeat(100_000));
      let at = 0;
      const timer = setInterval(() => {
        if (socket.destroyed || at >= bytes.length) return clearInterval(timer);
        socket.write(bytes.subarray(at, at + 1));
        at += 1;
      }, 20);
      socket.on("close", () => clearInterval(timer));
      socket.on("error", () => clearInterval(timer));
    });
    await new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve));
    extra.push(
      () =>
        new Promise<void>((resolve) => {
          raw.close(() => resolve());
          raw.closeAllConnections();
        }),
    );
    const { port } = raw.address() as AddressInfo;
    const error = await failure(
      makeClient(`http://127.0.0.1:${port}`, { settings: slow }).register(HUB),
    );
    expect(error?.code).toBe("DeadlineExceeded");
  });

  it("a 401/403 page from a proxy or firewall is retried as such, never taken for a refused key", async () => {
    const pages = [
      {
        status: 403,
        type: "text/html; charset=utf-8",
        body: "<html><head><title>Access Denied by Corporate Firewall</title></head><body>…</body></html>",
      },
      { status: 401, type: "text/plain", body: "Unauthorized" },
      { status: 403, type: "text/html", body: "" },
      { status: 407, type: "text/html", body: "<title>Proxy Authentication Required</title>" },
    ];
    let n = 0;
    server = await startScriptedServer((_request, res) => {
      const page = pages[n++ % pages.length]!;
      res.writeHead(page.status, { "content-type": page.type });
      res.end(page.body);
    });
    const relay = makeClient(server.url);
    for (const page of pages) {
      const error = await failure(relay.register(HUB));
      expect(error, page.body).toBeInstanceOf(RelayError);
      expect(error, page.body).not.toBeInstanceOf(RelayAuthError);
      expect([error?.kind, error?.code, error?.status]).toEqual([
        "transient",
        "NotRelayAnswer",
        page.status,
      ]);
      expect(error?.message).toContain("retrying with backoff");
      expect(error?.message).toContain(page.type.split(";")[0]);
    }
    n = 0;
    expect((await failure(relay.heartbeat(HUB)))?.message).toContain(
      '"Access Denied by Corporate Firewall"',
    );
  });

  it("the relay's own JSON refusal is still the key's", async () => {
    server = await startScriptedServer((_request, res) =>
      json(res, 401, { detail: "Invalid API key" }),
    );
    expect(await failure(makeClient(server.url).register(HUB))).toBeInstanceOf(RelayAuthError);
  });

  it("a redirect says where it pointed, and is not followed", async () => {
    const elsewhere = await startScriptedServer((_request, res) => {
      res.writeHead(204).end();
    });
    extra.push(() => elsewhere.close());
    server = await startScriptedServer((_request, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/api/v1/relay/hub/register` }).end();
    });
    const error = await failure(makeClient(server.url).register(HUB));
    expect(error?.kind).toBe("transient");
    expect(error?.message).toContain(
      `HTTP 307 redirect to ${elsewhere.url}/api/v1/relay/hub/register (not followed)`,
    );
    expect(elsewhere.requests).toHaveLength(0);
  });
});
