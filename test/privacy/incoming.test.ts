// Incoming user text, classified like the Python hub (its own test cases, then ours): keywords,
// then patterns, then the built-in detectors; logged, never blocked, never the matched text.
import { describe, expect, it } from "vitest";
import { IncomingClassifier, incomingLogLine } from "../../src/privacy/incoming.ts";

const none = new IncomingClassifier({ keywords: [], patterns: [] });

describe("the Python hub's cases", () => {
  it("LOW by default, HIGH for keywords (any case), addresses, phones, SSNs, cards, keys, patterns", () => {
    expect(none.classify("What is the weather today?").level).toBe("LOW");
    const keywords = new IncomingClassifier({ keywords: ["medical", "financial"], patterns: [] });
    expect(keywords.classify("Show me my medical records")).toEqual({
      level: "HIGH",
      match: { source: "keyword", keyword: "medical" },
    });
    const password = new IncomingClassifier({ keywords: ["password"], patterns: [] });
    expect(password.classify("My PASSWORD is secret").level).toBe("HIGH");
    expect(none.classify("Send to john@example.com").match).toEqual({
      source: "detector",
      kind: "email",
    });
    expect(none.classify("Call me at 555-123-4567").match).toEqual({
      source: "detector",
      kind: "phone",
    });
    expect(none.classify("SSN is 123-45-6789").match).toEqual({ source: "detector", kind: "ssn" });
    expect(none.classify("Card: 4111111111111111").match).toEqual({
      source: "detector",
      kind: "card",
    });
    expect(none.classify("Use sk_live_abc1234567890123456789").match).toEqual({
      source: "detector",
      kind: "api_key",
    });
    const patterns = new IncomingClassifier({ keywords: [], patterns: ["PROJ-\\d{4}"] });
    expect(patterns.classify("Reference proj-4521 for details").match).toEqual({
      source: "pattern",
      index: 0,
    });
    expect(patterns.classify("No project reference here").level).toBe("LOW");
    const secret = new IncomingClassifier({ keywords: ["secret"], patterns: [] });
    expect(secret.classify("The recipe is simple").level).toBe("LOW");
  });

  it("keywords come first, then patterns, then detectors", () => {
    const both = new IncomingClassifier({ keywords: ["invoice"], patterns: ["inv-\\d+"] });
    expect(both.classify("invoice INV-12 to ann@example.com").match?.source).toBe("keyword");
    expect(both.classify("INV-12 to ann@example.com").match?.source).toBe("pattern");
  });

  it("is less noisy than the Python hub: a bare ten-digit number is no phone", () => {
    expect(none.classify("order 5551234567 shipped").level).toBe("LOW");
  });
});

describe("the log line", () => {
  it("names the keyword, the pattern's place or the kind, never the text", () => {
    const classifier = new IncomingClassifier({ keywords: ["medical"], patterns: ["x\\d+"] });
    expect(incomingLogLine(classifier.classify("my Medical file"), "Doc")).toBe(
      'message to "Doc" classified as HIGH sensitivity (sensitive keyword "medical"); logged only, it is still sent to the agent',
    );
    expect(incomingLogLine(classifier.classify("ref X42"), "Doc")).toContain(
      "(sensitive_patterns[0])",
    );
    const line = incomingLogLine(none.classify("card 4111111111111111"), "Doc");
    expect(line).toContain("(card detected)");
    expect(line).not.toContain("4111");
    expect(incomingLogLine(none.classify("hello"), "Doc")).toBeNull();
  });
});
