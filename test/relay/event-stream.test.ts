import type { ServerResponse } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { RelayClient } from "../../src/relay/client.ts";
import type { RelayAuthError, RelayError } from "../../src/relay/errors.ts";
import { CommandStream, type CommandStreamOptions } from "../../src/relay/event-stream.ts";
import { type RelayLinkSettings, relayLinkSettings } from "../../src/relay/settings.ts";
import type { RelayCommand } from "../../src/wire/relay.ts";
import {
  capturingLogger,
  errorBody,
  json,
  type RecordedRequest,
  type ScriptedServer,
  sse,
  startScriptedServer,
  waitUntil,
} from "./scripted-server.ts";

const KEY = "hybro_stream_test_key_0123456789abcdef";
const HUB = "abcdefabcdefabcdefabcdefabcdefab";

interface Harness {
  stream: CommandStream;
  commands: Array<{ command: RelayCommand; id: string | null }>;
  closes: Array<RelayError | null>;
  authErrors: RelayAuthError[];
  reregisters: number;
  done: Promise<void>;
  controller: AbortController;
  logs: ReturnType<typeof capturingLogger>;
}

let server: ScriptedServer | null = null;
let client: RelayClient | null = null;
let harness: Harness | null = null;

afterEach(async () => {
  harness?.controller.abort();
  await harness?.done;
  await client?.close();
  await server?.close();
  harness = null;
  client = null;
  server = null;
});

function run(
  url: string,
  settings: Partial<RelayLinkSettings> = {},
  extra: Partial<CommandStreamOptions> = {},
): Harness {
  const resolved = relayLinkSettings({
    reconnectBaseDelayMs: 20,
    reconnectMaxDelayMs: 40,
    streamReadTimeoutMs: 5_000,
    requestTimeoutMs: 5_000,
    ...settings,
  });
  client = new RelayClient({
    gatewayUrl: url,
    apiKey: () => KEY,
    keySource: "HYBRO_API_KEY",
    env: {},
    settings: resolved,
  });
  const controller = new AbortController();
  const logs = capturingLogger();
  const h: Harness = {
    commands: [],
    closes: [],
    authErrors: [],
    reregisters: 0,
    controller,
    logs,
    stream: undefined as unknown as CommandStream,
    done: Promise.resolve(),
  };
  h.stream = new CommandStream({
    client,
    hubId: HUB,
    settings: resolved,
    logger: logs.logger,
    onCommand: (command, id) => h.commands.push({ command, id }),
    onNotRegistered: async () => {
      h.reregisters += 1;
    },
    onAuthError: (error) => h.authErrors.push(error),
    onClose: (error) => h.closes.push(error),
    random: () => 0.5,
    ...extra,
  });
  h.done = h.stream.run(controller.signal);
  harness = h;
  return h;
}

const eventRequests = (requests: RecordedRequest[]) =>
  requests.filter((r) => r.path.endsWith("/events"));

describe("CommandStream", () => {
  it("parses SSE framing: multi-line data, comments, ids, missing type, bad data", async () => {
    server = await startScriptedServer((request, res) => {
      expect(request.headers.accept).toBe("text/event-stream");
      expect(request.headers["x-api-key"]).toBe(KEY);
      const write = sse(res);
      write(": a comment line\n\n");
      write('data: {"type":"connection_ready"}\n\n');
      // A JSON object split over two data lines (joined with a newline, still valid JSON).
      write(
        'id: 7\nevent: ignored-name\ndata: {"type":"user_message","room_id":"r1",\ndata: "local_agent_id":"a1","agent_message_id":"m1","message":{"role":"user"}}\n\n',
      );
      write("data: not json at all\n\n");
      write("data: [1,2,3]\n\n");
      write('data: {"type":"mystery"}\n\n');
      // Missing type means user_message; a chunk boundary inside the line must not matter.
      write('id: 8\ndata: {"room_id":"r2","local_agent_id":"a1",');
      setTimeout(() => write('"agent_message_id":"m2","message":{}}\n\n'), 10);
      setTimeout(
        () => write('data: {"type":"cancel_task","local_agent_id":"a1","task_id":"t1"}\n\n'),
        20,
      );
    });
    const h = run(server.url);
    await waitUntil(() => h.commands.length >= 4, 5000, "four commands");
    expect(h.commands.map((c) => c.command.type)).toEqual([
      "connection_ready",
      "user_message",
      "user_message",
      "cancel_task",
    ]);
    expect(h.commands[1]).toMatchObject({
      id: "7",
      command: { room_id: "r1", agent_message_id: "m1" },
    });
    expect(h.commands[2]).toMatchObject({
      id: "8",
      command: { room_id: "r2", agent_message_id: "m2" },
    });
    expect(h.stream.state()).toMatchObject({ connection: "open", lastEventId: "8" });
    const warnings = h.logs.lines().filter((line) => line.level === 40);
    expect(warnings.map((line) => line.msg)).toEqual([
      "relay sent a command that is not JSON; skipped",
      "relay sent a command that is not a JSON object; skipped",
    ]);
    expect(warnings[0]?.data).toBe("not json at all");
    expect(h.logs.text()).toContain("unknown command type");
  });

  it("a throwing command handler does not end the stream", async () => {
    server = await startScriptedServer((_request, res) => {
      const write = sse(res);
      write('data: {"type":"heartbeat"}\n\ndata: {"type":"connection_ready"}\n\n');
    });
    let calls = 0;
    const h = run(
      server.url,
      {},
      {
        onCommand: () => {
          calls += 1;
          if (calls === 1) throw new Error("boom");
        },
      },
    );
    await waitUntil(() => calls === 2, 5000, "second command");
    expect(h.stream.state().connection).toBe("open");
  });

  it("an event larger than streamMaxEventChars ends the connection (the commands before it arrive), then reconnects", async () => {
    server = await startScriptedServer((_request, res) => {
      const write = sse(res);
      write('id: k1\ndata: {"type":"connection_ready"}\n\n');
      write(`id: k2\ndata: {"type":"heartbeat","pad":"${"x".repeat(2_000)}"}\n\n`);
    });
    const h = run(server.url, { streamMaxEventChars: 1_000 });
    await waitUntil(() => eventRequests(server!.requests).length >= 2, 5000, "a reconnect");
    expect(h.closes[0]?.code).toBe("EventTooLarge");
    expect(h.closes[0]?.message).toContain("larger than 1000 characters");
    expect(h.commands.map((c) => c.command.type)).not.toContain("heartbeat");
    expect(h.commands[0]).toMatchObject({ id: "k1", command: { type: "connection_ready" } });
  });

  // Issue 15, finding 5: commands were read as fast as the relay sent them, however many of
  // their answers the relay had yet to take.
  it("reads no further while the hub holds its intake (no read timeout meanwhile), and goes on once it lets go", async () => {
    let heartbeats = 0;
    let res!: ServerResponse;
    server = await startScriptedServer((_request, response) => {
      res = response;
      const write = sse(response);
      write('data: {"type":"connection_ready"}\n\n');
      const timer = setInterval(() => {
        heartbeats += 1;
        write('data: {"type":"heartbeat"}\n\n');
      }, 20);
      response.on("close", () => clearInterval(timer));
    });
    let held: Promise<void> | null = null;
    let release!: () => void;
    const h = run(server.url, { streamReadTimeoutMs: 200 }, { intake: () => held });
    await waitUntil(() => h.commands.length >= 2, 5_000, "the stream to flow");
    held = new Promise((resolve) => {
      release = resolve;
    });
    const turn = { type: "user_message", room_id: "r", local_agent_id: "a", agent_message_id: "m" };
    res.write(`data: ${JSON.stringify(turn)}\n\n`);
    await waitUntil(
      () => h.commands.some((c) => c.command.type === "user_message"),
      5_000,
      "the turn",
    );
    const readBefore = h.commands.length;
    // 30 heartbeats (≥ 600 ms, three read timeouts) written while the intake is held.
    const from = heartbeats;
    await waitUntil(() => heartbeats >= from + 30, 5_000, "the relay's heartbeats");
    expect(h.commands.length).toBeLessThanOrEqual(readBefore + 1); // the one being read at most
    expect(h.closes).toEqual([]);
    expect(eventRequests(server.requests)).toHaveLength(1);
    held = null;
    release();
    await waitUntil(() => h.commands.length >= readBefore + 30, 5_000, "the held heartbeats");
    expect(h.closes).toEqual([]);
  });

  it("silence beyond the read timeout ends the connection and reconnects", async () => {
    server = await startScriptedServer((_request, res) => {
      sse(res)('data: {"type":"connection_ready"}\n\n'); // then nothing, ever
    });
    const h = run(server.url, { streamReadTimeoutMs: 150 });
    await waitUntil(() => eventRequests(server!.requests).length >= 2, 5000, "a reconnect");
    expect(h.closes[0]?.code).toBe("ReadTimeout");
    expect(h.closes[0]?.message).toContain("no data on the event stream for 150 ms");
  });

  it("heartbeats keep the read timeout from firing", async () => {
    let timer: NodeJS.Timeout | null = null;
    server = await startScriptedServer((_request, res) => {
      const write = sse(res);
      write('data: {"type":"connection_ready"}\n\n');
      timer = setInterval(() => write('data: {"type":"heartbeat"}\n\n'), 20);
      res.on("close", () => clearInterval(timer!));
    });
    // The stream outlives the read timeout (50 × 20 ms > 500 ms) only if every byte resets it.
    const h = run(server.url, { streamReadTimeoutMs: 500 });
    await waitUntil(
      () => h.commands.filter((c) => c.command.type === "heartbeat").length >= 50,
      5000,
      "heartbeats",
    );
    expect(eventRequests(server.requests)).toHaveLength(1);
    expect(h.closes).toEqual([]);
  });

  it("a clean close waits (backoff) before reconnecting", async () => {
    server = await startScriptedServer((_request, res) => {
      sse(res)('data: {"type":"connection_ready"}\n\n');
      res.end();
    });
    const h = run(
      server.url,
      { reconnectBaseDelayMs: 60_000, reconnectMaxDelayMs: 60_000 },
      { random: () => 0.5 },
    );
    await waitUntil(() => h.stream.state().connection === "backoff", 5000, "backoff");
    expect(h.closes).toEqual([null]);
    expect(h.stream.state().backoffMs).toBe(30_000);
    expect(eventRequests(server.requests)).toHaveLength(1);
    expect(h.logs.text()).toContain("relay closed the event stream; reconnecting in 30000 ms");
    // Abort ends the wait promptly.
    h.controller.abort();
    await h.done;
    expect(h.stream.state().connection).toBe("stopped");
  });

  it("a stream that ends at once, again and again: growing delays (never a hot loop), logged once", async () => {
    server = await startScriptedServer((_request, res) => {
      sse(res)(": hello\n\n");
      res.end();
    });
    const waits: number[] = [];
    const h = run(
      server.url,
      { reconnectBaseDelayMs: 4, reconnectMaxDelayMs: 64 },
      {
        random: () => 0.999,
        onClose: () => {
          // state().backoffMs is set right after onClose; read it on the next close instead.
          waits.push(h.stream.state().backoffMs ?? -1);
        },
      },
    );
    await waitUntil(() => waits.length >= 7, 5000, "seven closes");
    // waits[i] is the delay chosen after close i-1.
    expect(waits.slice(1, 7)).toEqual([3, 7, 15, 31, 63, 63]);
    const lines = h.logs
      .lines()
      .filter((line) => String(line.msg).includes("ended the event stream at once"));
    expect(lines.map((line) => line.level)).toEqual([40, ...lines.slice(1).map(() => 20)]);
    expect(h.stream.state().problem).toBeNull();
  });

  it("sends Last-Event-ID on reconnect when the relay gave ids", async () => {
    let n = 0;
    server = await startScriptedServer((_request, res) => {
      n += 1;
      const write = sse(res);
      if (n === 1) {
        write('data: {"type":"connection_ready"}\n\n');
        write('id: run1-41\ndata: {"type":"cancel_task","local_agent_id":"a","task_id":"t"}\n\n');
        res.end();
      } else {
        write('data: {"type":"connection_ready"}\n\n');
      }
    });
    run(server.url);
    await waitUntil(() => eventRequests(server!.requests).length >= 2, 5000, "reconnect");
    const [first, second] = eventRequests(server.requests);
    expect(first?.headers["last-event-id"]).toBeUndefined();
    expect(second?.headers["last-event-id"]).toBe("run1-41");
  });

  it("401 stops the stream with an auth error naming the key source, never the key", async () => {
    server = await startScriptedServer((_request, res) =>
      json(res, 401, errorBody("revoked_api_key", "API key was revoked")),
    );
    const h = run(server.url);
    await h.done;
    expect(h.authErrors).toHaveLength(1);
    expect(h.authErrors[0]?.message).toContain("HYBRO_API_KEY");
    expect(h.authErrors[0]?.message).toContain("was revoked");
    expect(h.authErrors[0]?.message).not.toContain(KEY);
    expect(h.logs.text()).not.toContain(KEY);
    expect(eventRequests(server.requests)).toHaveLength(1);
    expect(h.stream.state().connection).toBe("stopped");
  });

  it("403 is fatal too, with the scope", async () => {
    server = await startScriptedServer((_request, res) =>
      json(res, 403, errorBody("insufficient_scope", "nope", { required_scope: "hub:*" })),
    );
    const h = run(server.url);
    await h.done;
    expect(h.authErrors[0]?.requiredScope).toBe("hub:*");
  });

  it("404 asks for re-registration, then reconnects", async () => {
    let n = 0;
    server = await startScriptedServer((_request, res) => {
      n += 1;
      if (n === 1) return json(res, 404, errorBody("not_found", "unknown hub"));
      sse(res)('data: {"type":"connection_ready"}\n\n');
    });
    const h = run(server.url);
    await waitUntil(() => h.commands.length === 1, 5000, "connection_ready");
    expect(h.reregisters).toBe(1);
    expect(h.closes[0]?.kind).toBe("not_registered");
  });

  it("429 waits at least Retry-After", async () => {
    let n = 0;
    server = await startScriptedServer((_request, res) => {
      n += 1;
      if (n === 1)
        return json(res, 429, errorBody("rate_limit_exceeded", "slow"), { "retry-after": "1" });
      sse(res)('data: {"type":"connection_ready"}\n\n');
    });
    const h = run(server.url, {}, { random: () => 0 });
    await waitUntil(() => h.stream.state().connection === "backoff", 5000, "backoff");
    expect(h.stream.state().backoffMs).toBe(1000);
    await waitUntil(() => h.commands.length === 1, 5000, "connected after the wait");
    expect(h.stream.state().reconnects).toBe(1);
  });

  it("5xx and a wrong content type are retried with backoff", async () => {
    const script: Array<(res: ServerResponse) => void> = [
      (res) => json(res, 503, errorBody("internal_error", "down")),
      (res) => json(res, 200, { not: "sse" }),
      (res) => res.destroy(), // a reset connection, before any answer: the relay was not reached
      (res) => sse(res)('data: {"type":"connection_ready"}\n\n'),
    ];
    let n = 0;
    server = await startScriptedServer((_request, res) =>
      script[Math.min(n++, script.length - 1)]!(res),
    );
    const h = run(server.url);
    await waitUntil(() => h.commands.length === 1, 5000, "connected");
    expect(h.closes.map((c) => c?.code)).toEqual([
      "internal_error",
      "WrongContentType",
      "ConnectError",
    ]);
    expect(h.stream.state()).toMatchObject({ connection: "open", reconnects: 3 });
    expect(h.stream.state().lastError).toContain("ConnectError");
  });

  it("resets the backoff after a healthy session", async () => {
    let n = 0;
    server = await startScriptedServer((_request, res) => {
      n += 1;
      const write = sse(res);
      write('data: {"type":"connection_ready"}\n\n');
      // Sessions 1-3 end at once; session 4 carries a turn command first (healthy), then ends.
      if (n === 4) write('data: {"type":"cancel_task","local_agent_id":"a","task_id":"t"}\n\n');
      if (n <= 4) res.end();
    });
    const waits: number[] = [];
    const h = run(
      server.url,
      {
        reconnectBaseDelayMs: 8,
        reconnectMaxDelayMs: 1000,
        streamHealthyAfterMs: 60_000,
        duplicateHubCloses: 100, // three quick clean ends would read as another hub with this id
      },
      {
        random: () => 0.999,
        onClose: () => waits.push(h.stream.state().backoffMs ?? -1),
      },
    );
    await waitUntil(() => eventRequests(server!.requests).length >= 5, 5000, "five sessions");
    await waitUntil(() => h.stream.state().connection === "open", 5000, "open");
    // Delays chosen after sessions 1..4: 7, 15, 31, then back to 7 after the healthy session.
    expect([...waits.slice(1), h.stream.state().backoffMs]).toEqual([7, 15, 31, 7]);
  });

  it("the relay's error event: one clear line, shown in state, registers again, then retries slowly", async () => {
    server = await startScriptedServer((_request, res) => {
      // As hybro.ai does for a hub id of another account; this server never ends the answer,
      // so the hub must end the refused stream itself (the read timeout is far away): a second
      // request proves it did.
      sse(res)('data: {"type":"error","error":"Hub not owned by this API key"}\n\n');
    });
    const h = run(server.url, {
      streamReadTimeoutMs: 600_000,
      slowReconnectBaseMs: 60_000,
      slowReconnectMaxMs: 600_000,
    });
    await waitUntil(() => h.closes.length >= 2, 5000, "two refused sessions");
    await waitUntil(() => h.stream.state().connection === "backoff", 5000, "backoff");
    expect(eventRequests(server.requests)).toHaveLength(2);
    expect(h.commands).toEqual([]); // the error event is no command
    expect(h.authErrors).toEqual([]); // not a key problem: the stream goes on
    expect(h.closes.map((c) => [c?.kind, c?.code])).toEqual([
      ["hub_refused", "StreamRefused"],
      ["hub_refused", "StreamRefused"],
    ]);
    // Registered again before each retry; the first retry at the normal pace (a relay that
    // forgot the hub takes it back), the next one slow: equal jitter below 60 s.
    expect(h.reregisters).toBe(1);
    expect(h.stream.state().backoffMs).toBeGreaterThanOrEqual(30_000);
    const problem = h.stream.state().problem;
    expect(problem).toMatchObject({
      kind: "refused",
      reason: "Hub not owned by this API key",
      sessions: 2,
    });
    const errors = h.logs.lines().filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.msg).toContain('"Hub not owned by this API key"');
    expect(errors[0]?.msg).toContain("give each machine its own hub id");
  });

  it("a refusal that a new registration cures: accepted again, the problem is gone", async () => {
    let n = 0;
    server = await startScriptedServer((_request, res) => {
      n += 1;
      const write = sse(res);
      if (n === 1) {
        write('data: {"type":"error","error":"Unknown hub"}\n\n');
        res.end();
      } else {
        write('data: {"type":"connection_ready"}\n\n');
      }
    });
    const h = run(server.url);
    await waitUntil(() => h.commands.length === 1, 5000, "connection_ready");
    expect(h.reregisters).toBe(1);
    expect(h.stream.state().problem).toBeNull();
    expect(h.logs.text()).toContain("the relay accepts this hub's command stream again");
  });

  it("a 403 about the hub on the stream is the same refusal, not a refused key", async () => {
    server = await startScriptedServer((_request, res) =>
      json(res, 403, { detail: "Hub not owned by this API key" }),
    );
    const h = run(server.url, { slowReconnectBaseMs: 60_000 });
    await waitUntil(() => h.closes.length >= 2, 5000, "two refusals");
    expect(h.authErrors).toEqual([]);
    expect(h.stream.state().problem).toMatchObject({
      kind: "refused",
      reason: "Hub not owned by this API key",
    });
  });

  it("keeps only ids it can send back: a non-ASCII and a 100 KB id are ignored (said once), commands still arrive", async () => {
    const huge = "x".repeat(100_000);
    let n = 0;
    server = await startScriptedServer((request, res) => {
      n += 1;
      const write = sse(res);
      if (n === 1) {
        write('data: {"type":"connection_ready"}\n\n');
        write('id: run1-5\ndata: {"type":"cancel_task","local_agent_id":"a","task_id":"t1"}\n\n');
        write(
          'id: run1-6-日本\ndata: {"type":"cancel_task","local_agent_id":"a","task_id":"t2"}\n\n',
        );
        write(`id: ${huge}\ndata: {"type":"cancel_task","local_agent_id":"a","task_id":"t3"}\n\n`);
        res.end();
      } else {
        write(
          `data: ${JSON.stringify({ type: "connection_ready", resumed: request.headers["last-event-id"] ?? null })}\n\n`,
        );
      }
    });
    const h = run(server.url);
    await waitUntil(() => h.commands.length === 5, 5000, "five commands");
    expect(
      h.commands.slice(1, 4).map((c) => [c.id, (c.command as { task_id?: string }).task_id]),
    ).toEqual([
      ["run1-5", "t1"],
      [null, "t2"],
      [null, "t3"],
    ]);
    // The reconnect resumed after the last id it could send.
    expect(eventRequests(server.requests)[1]?.headers["last-event-id"]).toBe("run1-5");
    expect(h.commands[4]?.command).toMatchObject({ resumed: "run1-5" });
    const warnings = h.logs.lines().filter((line) => String(line.msg).includes("cannot send back"));
    expect(warnings.map((line) => line.level)).toEqual([40, 20]);
    expect(warnings[0]?.msg).toContain("visible ASCII");
    expect(JSON.stringify(warnings)).not.toContain(huge.slice(0, 1000));
  });

  it("a reconnect the relay refuses because of its Last-Event-ID drops the id and goes on without it", async () => {
    server = await startScriptedServer((request, res) => {
      if (request.headers["last-event-id"]) {
        res.writeHead(431, { "content-type": "text/plain" });
        res.end("Request Header Fields Too Large");
        return;
      }
      sse(res)('data: {"type":"connection_ready"}\n\n');
    });
    let dropped = 0;
    const h = run(
      server.url,
      {},
      { lastEventId: "a".repeat(200), onEventIdDropped: () => (dropped += 1) },
    );
    await waitUntil(() => h.commands.length === 1, 5000, "connection_ready");
    const requests = eventRequests(server.requests);
    expect(requests.map((r) => r.headers["last-event-id"] ?? null)).toEqual([
      "a".repeat(200),
      null,
    ]);
    expect(dropped).toBe(1);
    expect(h.stream.state().lastEventId).toBeNull();
    expect(h.logs.text()).toContain("the id is dropped");
  });

  it("abort stops promptly and leaves no timers or sockets", async () => {
    server = await startScriptedServer((_request, res) => {
      sse(res)('data: {"type":"connection_ready"}\n\n');
    });
    const before = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    const h = run(server.url);
    await waitUntil(() => h.commands.length === 1, 5000, "connected");
    h.controller.abort();
    await h.done;
    await client!.close();
    expect(h.stream.state().connection).toBe("stopped");
    const after = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    expect(after).toBeLessThanOrEqual(before);
  });
});
