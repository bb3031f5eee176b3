import { describe, expect, it } from "vitest";
import {
  eventIdScope,
  isResumableEventId,
  MAX_EVENT_ID_CHARS,
  previewEventId,
  whyNotResumable,
} from "../../src/relay/event-id.ts";

describe("SSE ids the hub sends back", () => {
  it("keeps 1–256 visible ASCII characters, nothing else", () => {
    for (const id of [
      "1700000000000-0",
      "run1-42",
      "a",
      "~!#$%&'()*+,-./:;<=>?@[]^_`{|}",
      "x".repeat(256),
    ]) {
      expect(isResumableEventId(id), id).toBe(true);
    }
    for (const id of [
      "",
      "x".repeat(257),
      "日本",
      "café",
      "a b",
      "a\tb",
      "a\u0000",
      "a\r\nX-Evil: 1",
      "\u007f",
    ]) {
      expect(isResumableEventId(id), JSON.stringify(id)).toBe(false);
    }
    expect(MAX_EVENT_ID_CHARS).toBe(256);
  });

  it("says why, and previews without the whole id", () => {
    expect(whyNotResumable("x".repeat(100_000))).toContain("100000 characters");
    expect(whyNotResumable("日本")).toContain("visible ASCII");
    expect(previewEventId("x".repeat(100_000)).length).toBeLessThanOrEqual(41);
    expect(previewEventId("a\r\nb")).toBe("a??b");
  });

  it("scopes a stored id to one relay and one hub", () => {
    expect(eventIdScope("https://api.hybro.ai", "ab")).not.toBe(
      eventIdScope("http://127.0.0.1:8787", "ab"),
    );
    expect(eventIdScope("https://api.hybro.ai", "ab")).not.toBe(
      eventIdScope("https://api.hybro.ai", "cd"),
    );
  });
});
