// Pure rules of the inspector: loopback-only addresses, the request checks, the link history,
// the replayed message.
import { describe, expect, it } from "vitest";
import {
  accessRules,
  checkRequest,
  inspectorUrl,
  keptTurnsFromEnv,
  parseInspectAddress,
} from "../../src/inspector/access.ts";
import { LinkHistory } from "../../src/inspector/link-history.ts";
import { capturePayload } from "../../src/inspector/payload.ts";
import { replayMessage } from "../../src/inspector/replay-message.ts";
import { fakeClock, userMessage } from "./support.ts";

describe("how many turns the inspector keeps", () => {
  it("reads HYBRO_INSPECT_TURNS, and says what is wrong with a bad one", () => {
    expect(keptTurnsFromEnv({})).toEqual({});
    expect(keptTurnsFromEnv({ HYBRO_INSPECT_TURNS: " 500 " })).toEqual({ turns: 500 });
    for (const bad of ["0", "-3", "12.5", "lots", "10001"]) {
      expect(keptTurnsFromEnv({ HYBRO_INSPECT_TURNS: bad }).error).toMatch(
        /^HYBRO_INSPECT_TURNS=".*" is not a number of turns from 1 to 10000; the inspector keeps the default 200$/,
      );
    }
  });
});

describe("the inspector's address", () => {
  it("takes loopback only", () => {
    expect(parseInspectAddress("127.0.0.1:4040")).toEqual({
      ok: true,
      address: { host: "127.0.0.1", port: 4040 },
    });
    expect(parseInspectAddress("4041")).toEqual({
      ok: true,
      address: { host: "127.0.0.1", port: 4041 },
    });
    expect(parseInspectAddress("localhost:0")).toEqual({
      ok: true,
      address: { host: "127.0.0.1", port: 0 },
    });
    expect(parseInspectAddress("[::1]:4040")).toEqual({
      ok: true,
      address: { host: "::1", port: 4040 },
    });
    expect(parseInspectAddress("127.8.9.10:80")).toMatchObject({ ok: true });
    for (const refused of ["0.0.0.0:4040", "[::]:4040", "192.168.1.5:4040", "example.com:4040"]) {
      const parsed = parseInspectAddress(refused);
      expect(parsed.ok, refused).toBe(false);
      if (!parsed.ok) expect(parsed.error).toMatch(/loopback address only/);
    }
    for (const bad of ["", "host:", "127.0.0.1:99999", "127.0.0.1:http"]) {
      expect(parseInspectAddress(bad)).toMatchObject({
        ok: false,
        error: expect.stringMatching(/expected a port/),
      });
    }
  });
});

describe("a request to the inspector", () => {
  const token = "T0ken-abc_123";
  const rules = accessRules({ host: "127.0.0.1", port: 4040 }, token);
  /** `host` null: no Host header. */
  const check = (url: string, host: string | null = "127.0.0.1:4040", origin?: string) =>
    checkRequest({ url, host: host ?? undefined, origin }, rules);

  it("needs the token as the first path segment", () => {
    expect(check(`/t/${token}/api/turns`)).toEqual({ ok: true, path: "/api/turns" });
    expect(check(`/t/${token}/`)).toEqual({ ok: true, path: "/" });
    expect(check(`/t/${token}`)).toEqual({ ok: "redirect", location: `/t/${token}/` });
    for (const url of [
      "/",
      "/api/turns",
      `/t/${token}x/`,
      `/t/${token.slice(1)}/`,
      "/t//",
      `/?token=${token}`,
    ]) {
      expect(check(url), url).toMatchObject({ ok: false, status: 401 });
    }
  });

  it("refuses a Host that does not name this machine's loopback (DNS rebinding)", () => {
    for (const host of [
      "evil.example:4040",
      "127.0.0.1:4041",
      "127.0.0.1",
      null,
      "localhost.:4040",
    ]) {
      expect(check(`/t/${token}/`, host), String(host)).toMatchObject({ ok: false, status: 403 });
    }
    for (const host of ["127.0.0.1:4040", "localhost:4040", "LOCALHOST:4040", "[::1]:4040"]) {
      expect(check(`/t/${token}/`, host), host).toMatchObject({ ok: true });
    }
  });

  it("refuses other web origins, before it looks at the token", () => {
    expect(check(`/t/${token}/`, null)).toMatchObject({ status: 403 });
    expect(check(`/t/${token}/api/turns`, "127.0.0.1:4040", "http://127.0.0.1:4040")).toMatchObject(
      { ok: true },
    );
    for (const origin of [
      "http://evil.example",
      "null",
      "http://127.0.0.1:4041",
      "https://127.0.0.1:4040",
    ]) {
      expect(check(`/t/${token}/`, "127.0.0.1:4040", origin), origin).toMatchObject({
        ok: false,
        status: 403,
      });
      expect(check("/no-token", "127.0.0.1:4040", origin), origin).toMatchObject({ status: 403 });
    }
  });

  it("has a URL that carries the token", () => {
    expect(inspectorUrl({ host: "::1", port: 4040 }, token)).toBe(`http://[::1]:4040/t/${token}/`);
  });
});

describe("the relay link history", () => {
  it("knows since when the stream is open, why it closed, and keeps a bounded list", () => {
    const clock = fakeClock();
    const history = new LinkHistory(clock.now, { maxDisconnects: 3 });
    history.connected();
    expect(history.view(0).connectedSince).toBe(clock.now());
    for (let i = 0; i < 5; i++) {
      clock.advance(1_000);
      history.disconnected(i === 4 ? null : `reset ${i}`);
      history.connected();
    }
    const view = history.view(0);
    expect(view.reconnects).toBe(5);
    expect(view.connectedSince).toBe(clock.now());
    expect(view.disconnects.map((d) => d.reason)).toEqual([null, "reset 3", "reset 2"]);
  });

  it("gives POSTs per second over whole seconds of its window", () => {
    const clock = fakeClock(1_700_000_000_000);
    const history = new LinkHistory(clock.now, { rateWindowS: 10 });
    for (let second = 0; second < 20; second++) {
      for (let i = 0; i < 3; i++) history.posted([], true);
      clock.advance(1_000);
    }
    expect(history.view(0).postsPerS).toBe(3);
    clock.advance(30_000);
    expect(history.view(0).postsPerS).toBe(0);
  });

  it("knows how long the oldest unacknowledged event has waited", () => {
    const clock = fakeClock();
    const history = new LinkHistory(clock.now);
    const start = clock.now();
    for (let seq = 1; seq <= 4; seq++) {
      history.queued(seq);
      clock.advance(10);
    }
    expect(history.view(4).oldestQueuedAt).toBe(start);
    history.posted([1, 2], true);
    expect(history.view(2).oldestQueuedAt).toBe(start + 20);
    history.posted([3], false); // failed, will be retried: still waiting
    expect(history.view(2).oldestQueuedAt).toBe(start + 20);
    // The queue dropped one on its own (its bounds): the oldest is forgotten to match.
    expect(history.view(1).oldestQueuedAt).toBe(start + 30);
    expect(history.view(0).oldestQueuedAt).toBeNull();
  });
});

describe("a replay's message", () => {
  it("is the user message again, with its own id and no task or context", () => {
    const command = userMessage("r1", "what time is it?");
    command.message = {
      ...command.message,
      taskId: "t-old",
      contextId: "c-old",
      metadata: { a: 1 },
    };
    const message = replayMessage(command, () => "new-id");
    expect(message).toEqual({
      kind: "message",
      role: "user",
      messageId: "new-id",
      parts: [{ kind: "text", text: "what time is it?" }],
      metadata: { a: 1 },
    });
    expect(
      replayMessage(
        {
          type: "user_reply",
          room_id: "r",
          local_agent_id: "a",
          agent_message_id: "m",
          reply_text: "yes",
        },
        () => "id2",
      ),
    ).toEqual({
      kind: "message",
      role: "user",
      messageId: "id2",
      parts: [{ kind: "text", text: "yes" }],
    });
    expect(replayMessage({ type: "heartbeat" })).toBeNull();
  });
});

describe("a kept payload", () => {
  it("is cut at the cap on a character boundary, and says how large it was", () => {
    const text = "é".repeat(100);
    const payload = capturePayload({ text }, 51);
    expect(payload.bytes).toBe(Buffer.byteLength(JSON.stringify({ text })));
    expect(payload.cutFromBytes).toBe(payload.bytes);
    expect(payload.keptBytes).toBeLessThanOrEqual(51);
    expect(payload.json).not.toContain("\uFFFD");
    expect(capturePayload({ a: "secret-ish" }, 100, (s) => s.replace("secret", "[x]")).json).toBe(
      '{"a":"[x]-ish"}',
    );
  });
});
