// Policies: their checks (each error names the entry), how hub default and agent policy combine,
// custom rules, the allow-list, the hub's own key, and user patterns that cannot hang the hub.
import { describe, expect, it } from "vitest";
import { hubPrivacyOf } from "../../src/privacy/hub-privacy.ts";
import { DEFAULT_ACTIONS } from "../../src/privacy/kinds.ts";
import { leadingLiteral, PatternSet, patternProblem } from "../../src/privacy/patterns.ts";
import { compilePolicy, describePolicy } from "../../src/privacy/policy.ts";
import { checkPolicySpec } from "../../src/privacy/policy-spec.ts";
import { findAll } from "../../src/privacy/scan.ts";
import { fakeKey, found, policyOf } from "./support.ts";

const problems = (raw: unknown) => {
  const checked = checkPolicySpec(raw);
  if (checked.ok) throw new Error("expected problems");
  return checked.problems.map((p) => `${p.path.join(".")}: ${p.message}`);
};

describe("checking a policy", () => {
  it("accepts groups, kinds, custom rules and allow-lists", () => {
    const spec = {
      secrets: "block",
      personal: "redact",
      phone: "off",
      custom: [
        { name: "codename", keywords: ["titan"], patterns: ["PROJ-\\d{4}"], action: "block" },
      ],
      allow: ["noreply@example.com"],
      allowPatterns: [".*@example\\.com"],
    };
    expect(checkPolicySpec(spec)).toEqual({ ok: true, spec });
  });

  it("names the entry of an unknown key, kind or action, with a suggestion", () => {
    expect(problems({ emial: "log" })).toEqual(
      ['has an unknown key "emial" (did you mean "email"?)'].map((m) => `: ${m}`),
    );
    expect(problems({ email: "mask" })).toEqual([
      'email: must be one of "off", "log", "redact", "block" (got "mask")',
    ]);
    expect(problems({ custom: [{ name: "x", keywords: ["a"], acton: "log" }] })).toEqual([
      'custom.0: has an unknown key "acton" (did you mean "action"?)',
    ]);
    expect(problems({ custom: [{ name: "x", keywords: ["a"], action: "drop" }] })[0]).toContain(
      "custom.0.action: must be one of",
    );
    expect(problems({ allow: "a@b.c" })).toEqual(['allow: must be a list (got "a@b.c")']);
    expect(problems({ custom: [{ name: "x", keywords: [""] }] })).toEqual([
      "custom.0.keywords.0: must not be empty",
    ]);
  });

  it("refuses bad custom rules: no name, a kind's name, repeats, nothing to match", () => {
    expect(
      problems({
        custom: [
          { name: "a b", keywords: ["x"] },
          { name: "email", keywords: ["x"] },
          { name: "dup", keywords: ["x"] },
          { name: "dup", patterns: ["y"] },
          { name: "empty" },
        ],
      }),
    ).toEqual([
      "custom.0.name: must be 1–40 letters, digits, '_' or '-' (it names the rule in placeholders and the audit)",
      'custom.1.name: "email" is a built-in kind; give the rule its own name',
      'custom.3.name: repeats the name "dup" of custom[2]; names must be unique',
      'custom.4: needs "keywords" or "patterns" (or both)',
    ]);
  });

  it("refuses invalid patterns, lookaround, backreferences and patterns matching nothing", () => {
    expect(problems({ custom: [{ name: "p", patterns: ["ok", "[a-"] }] })).toEqual([
      'custom.0.patterns.1: "[a-" is not a valid pattern: missing closing ]: `[a-`',
    ]);
    expect(problems({ allowPatterns: ["(?<=x)y"] })[0]).toMatch(/^allowPatterns\.0: .* lookaround/);
    expect(problems({ allowPatterns: ["(a)\\1"] })[0]).toContain("backreference");
    expect(problems({ allowPatterns: ["a*"] })[0]).toContain("matches the empty text");
  });
});

describe("a catastrophic pattern cannot hang the hub", () => {
  it("runs (a+)+$ on a long run of a in linear time", () => {
    // A backtracking engine takes longer than the age of the universe on this input (the test's
    // time limit fails it); RE2 answers in one pass.
    expect(patternProblem("(a+)+$")).toBeNull();
    const set = new PatternSet(["(a+)+$", "(x+x+)+y"]);
    const matches: number[] = [];
    set.forEachMatch(`${"a".repeat(50_000)}!${"x".repeat(50_000)}`, (index) => matches.push(index));
    expect(matches).toEqual([]);
    const policy = policyOf({ custom: [{ name: "evil", patterns: ["(a+)+$"], action: "block" }] });
    expect(findAll(policy, `${"a".repeat(100_000)}!`)).toEqual([]);
    expect(found("aaa", policy)).toEqual(["custom:evil=aaa"]);
  });
});

describe("the shortcut before running patterns", () => {
  it("takes only the text every match must start with", () => {
    expect(leadingLiteral("PROJ-\\d{4}")).toBe("proj-");
    expect(leadingLiteral("cust-[0-9a-f]{8}")).toBe("cust-");
    expect(leadingLiteral("foo\\.bar")).toBe("foo.bar");
    expect(leadingLiteral("abc*")).toBe("ab");
    expect(leadingLiteral("a b")).toBe("a b");
    for (const none of [
      "ab?c",
      "a|bc",
      "x(a|b)|y",
      "(foo)",
      "^abc",
      "[ab]cd",
      "\\bword",
      "ab{0,1}",
    ]) {
      expect(leadingLiteral(none), none).toBeNull();
    }
    expect(leadingLiteral("x[a|b]")).toBeNull(); // "x" alone is too short
    expect(leadingLiteral("ab[|]c")).toBe("ab"); // a | inside a class is no alternative
  });

  it("never skips a text the pattern matches, in any case, also with ſ (long s)", () => {
    const policy = policyOf({ custom: [{ name: "k", patterns: ["sk-\\d+", "Secret-\\w+"] }] });
    expect(found("SK-12 secret-ABC", policy)).toEqual(["custom:k=SK-12", "custom:k=secret-ABC"]);
    expect(found("\u017Fk-12", policy)).toEqual(["custom:k=\u017Fk-12"]);
  });
});

describe("combining the hub default and an agent's policy", () => {
  it("uses the built-in defaults: secrets redact, personal data and custom rules log", () => {
    const policy = compilePolicy([]);
    expect(policy.actions).toEqual(DEFAULT_ACTIONS);
    expect(compilePolicy([{ custom: [{ name: "c", keywords: ["k"] }] }]).custom[0]?.action).toBe(
      "log",
    );
  });

  it("takes the most specific setting: agent kind, agent group, hub kind, hub group", () => {
    const hub = { secrets: "block" as const, email: "redact" as const, personal: "off" as const };
    const agent = { personal: "log" as const, jwt: "log" as const };
    const policy = compilePolicy([hub, agent]);
    expect(policy.actions.api_key).toBe("block"); // hub group
    expect(policy.actions.jwt).toBe("log"); // agent kind
    expect(policy.actions.email).toBe("log"); // the agent's group wins over the hub's kind
    expect(policy.actions.phone).toBe("log");
    expect(compilePolicy([hub]).actions.email).toBe("redact");
    expect(compilePolicy([hub]).actions.phone).toBe("off");
  });

  it("adds the custom rules and allow-lists of both", () => {
    const policy = compilePolicy([
      { custom: [{ name: "a", keywords: ["alpha"] }], allow: ["x@example.com"] },
      { custom: [{ name: "b", keywords: ["beta"], action: "redact" }], allowPatterns: ["y@.*"] },
    ]);
    expect(policy.custom.map((r) => `${r.name} ${r.action}`)).toEqual(["a log", "b redact"]);
    expect([...policy.allow]).toEqual(["x@example.com"]);
    expect(policy.allowPatterns).toEqual(["y@.*"]);
    expect(describePolicy(policy)).toContain("custom b redact");
  });
});

describe("custom rules", () => {
  it("match keywords case-insensitively (also in other scripts) and patterns", () => {
    const policy = policyOf({
      custom: [
        { name: "codename", keywords: ["Project Titan", "ÜBER"] },
        { name: "ticket", patterns: ["PROJ-\\d{4}"], action: "redact" },
      ],
    });
    expect(found("the project titan plan, über alles; see proj-1234", policy)).toEqual([
      "custom:codename=project titan",
      "custom:codename=über",
      "custom:ticket=proj-1234",
    ]);
    expect(findAll(policy, "proj-1234")[0]?.action).toBe("redact");
  });

  it("prefers the longer keyword and can be switched off", () => {
    const policy = policyOf({ custom: [{ name: "k", keywords: ["titan", "titanium"] }] });
    expect(found("titanium", policy)).toEqual(["custom:k=titanium"]);
    const off = policyOf({ custom: [{ name: "k", keywords: ["titan"], action: "off" }] });
    expect(found("titan", off)).toEqual([]);
  });
});

describe("the allow-list", () => {
  it("lets exact values and values a pattern matches whole through, nothing else", () => {
    const policy = policyOf({
      allow: ["noreply@example.com"],
      allowPatterns: [".*@test\\.example"],
    });
    expect(found("noreply@example.com bob@example.com a@test.example", policy)).toEqual([
      "email:email=bob@example.com",
    ]);
    // The pattern must match the whole value, not a part of it.
    expect(found("a@test.example.org", policy)).toEqual(["email:email=a@test.example.org"]);
  });

  it("never lets the hub's own key through", () => {
    const key = fakeKey("hybro_", 32);
    const policy = policyOf({ allow: [key], api_key: "off" }, key);
    expect(findAll(policy, `key ${key}`).map((f) => `${f.rule} ${f.action}`)).toEqual([
      "hub_api_key redact",
    ]);
    const blocking = policyOf({ api_key: "block" }, key);
    expect(findAll(blocking, key).map((f) => `${f.rule} ${f.action}`)).toEqual([
      "hub_api_key block",
    ]);
  });
});

describe("config.json's privacy section", () => {
  it("reads the default policy, the audit switch and the Python hub's keys", () => {
    const read = hubPrivacyOf(
      {
        privacy: {
          personal: "redact",
          audit: false,
          sensitive_keywords: ["medical"],
          sensitive_patterns: ["PROJ-\\d{4}"],
        },
      },
      "config.json",
    );
    expect(read).toEqual({
      ok: true,
      privacy: {
        defaultSpec: { personal: "redact" },
        audit: false,
        incoming: { keywords: ["medical"], patterns: ["PROJ-\\d{4}"] },
      },
    });
  });

  it("names the entry of each problem", () => {
    const read = hubPrivacyOf(
      { privacy: { phone: "hide", sensitive_patterns: ["(unclosed"], custom: [{ name: "x" }] } },
      "/home/me/.config/hybro-hub/config.json",
    );
    expect(read).toEqual({
      ok: false,
      error:
        '/home/me/.config/hybro-hub/config.json: privacy.phone must be one of "off", "log", "redact", "block" (got "hide")',
    });
    const patterns = hubPrivacyOf(
      { privacy: { sensitive_patterns: ["ok", "(unclosed"] } },
      "c.json",
    );
    expect(patterns).toEqual({
      ok: false,
      error:
        'c.json: privacy.sensitive_patterns[1] "(unclosed" is not a valid pattern: missing closing ): `(unclosed`',
    });
  });
});
