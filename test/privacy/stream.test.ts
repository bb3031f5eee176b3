// A streamed text through a policy: a match split over chunks is found whole at every split
// point, only the short tail that could begin a match waits, and a block stops the stream.
import { describe, expect, it } from "vitest";
import { Placeholders } from "../../src/privacy/placeholders.ts";
import { compilePolicy, type Policy } from "../../src/privacy/policy.ts";
import { StreamText } from "../../src/privacy/stream-text.ts";
import { fakeKey } from "./support.ts";

const HUB_KEY = fakeKey("hybro_", 40);
const redactAll = compilePolicy(
  [
    {
      secrets: "redact",
      personal: "redact",
      custom: [
        {
          name: "codename",
          keywords: ["Project Titan"],
          patterns: ["PROJ-\\d{4}"],
          action: "redact",
        },
      ],
    },
  ],
  { hubApiKey: HUB_KEY },
);

/** Streams `chunks`, returns the text sent and the findings counted. */
function stream(chunks: string[], policy: Policy = redactAll) {
  const s = new StreamText(policy, new Placeholders());
  let text = "";
  const rules: string[] = [];
  for (const step of [...chunks.map((c) => s.push(c)), s.end()]) {
    text += step.text;
    rules.push(...step.findings.map((f) => f.rule));
  }
  return { text, rules: rules.sort() };
}

const SECRETS: Record<string, string> = {
  hub_api_key: HUB_KEY,
  github_token: fakeKey("ghp_", 36),
  aws_access_key: "AKIA" + "IOSFODNN7EXAMPL1",
  jwt: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
  pem_private_key:
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nq1w2e3r4t5y6\n-----END RSA PRIVATE KEY-----",
  assignment: 'password = "correct horse 9"',
  email: "bob.smith@example.com",
  phone_international: "+44 20 7946 0958",
  card_number: "4111 1111 1111 1111",
  iban: "DE89 3704 0044 0532 0130 00",
  us_ssn: "123-45-6789",
  codename: "project titan",
};

describe("a match split over chunks", () => {
  for (const [rule, secret] of Object.entries(SECRETS)) {
    it(`${rule}: found whole at every split point, nothing of it sent`, () => {
      const text = `Before it: ${secret} and after.`;
      const whole = stream([text]);
      expect(whole.rules).toEqual([rule]);
      const value = rule === "assignment" ? "correct horse 9" : secret;
      expect(whole.text).not.toContain(value);
      for (let at = 1; at < text.length; at++) {
        const split = stream([text.slice(0, at), text.slice(at)]);
        expect(split, `split at ${at}`).toEqual(whole);
      }
    });
  }

  it("is found the same whatever the chunking (random chunks, one character at a time)", () => {
    const text = Object.values(SECRETS).join(" then ") + " the end";
    const whole = stream([text]);
    expect(whole.rules).toHaveLength(Object.keys(SECRETS).length);
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 50; round++) {
      const chunks: string[] = [];
      for (let at = 0; at < text.length; ) {
        const size = 1 + Math.floor(random() * 12);
        chunks.push(text.slice(at, at + size));
        at += size;
      }
      expect(stream(chunks), `round ${round}`).toEqual(whole);
    }
    expect(stream([...text])).toEqual(whole);
  });

  it("keeps the placeholders of a value consistent: same value same placeholder, another the next", () => {
    const a = "ann@example.com";
    const b = "bob@example.com";
    const { text } = stream([`to ${a.slice(0, 5)}`, `${a.slice(5)} and ${b}, again ${a}`]);
    expect(text).toBe("to [redacted:email] and [redacted:email#2], again [redacted:email]");
  });
});

describe("what waits for the next chunk", () => {
  it("only the last unfinished word, and nothing after a space", () => {
    const s = new StreamText(redactAll, new Placeholders());
    expect(s.push("Hello wor").text).toBe("Hello ");
    expect(s.held).toBe(3);
    expect(s.push("ld, how are you? ").text).toBe("world, how are you? ");
    expect(s.held).toBe(0);
  });

  it("grouped numbers while the number may go on, an open quoted password, a BEGIN line", () => {
    const s = new StreamText(redactAll, new Placeholders());
    expect(s.push("card 4111 1111 ").text).toBe("card ");
    expect(s.push("1111 1111 ok ").text).toBe("[redacted:card] ok ");
    // "token" alone is no secret's name; "secret" is: its open value waits for the quote.
    expect(s.push('token: "abc" secret = "abc def').text).toBe('token: "abc" secret = "');
    expect(s.push(' ghi" ').text).toBe('[redacted:password]" ');
    expect(s.push("-----BEGIN RSA PRI").text).toBe("");
    expect(s.held).toBe("-----BEGIN RSA PRI".length);
  });

  it("with a log-only policy, only a tail that could begin the hub's key", () => {
    const logOnly = compilePolicy([{ secrets: "log", personal: "log" }], { hubApiKey: HUB_KEY });
    const s = new StreamText(logOnly, new Placeholders());
    expect(s.push("Hello wor").text).toBe("Hello wor");
    expect(s.push("ld, key hybro_").text).toBe("ld, key ");
    expect(s.push(`${HUB_KEY.slice(6)} ok`).text).toBe("[redacted:api_key] ok");
    const text = `the key ${HUB_KEY} again ${HUB_KEY}.`;
    const whole = stream([text], logOnly);
    expect(whole.text).toBe("the key [redacted:api_key] again [redacted:api_key].");
    for (let at = 1; at < text.length; at++) {
      expect(stream([text.slice(0, at), text.slice(at)], logOnly), `split at ${at}`).toEqual(whole);
    }
  });

  it("nothing when the policy only logs, yet a split match is still counted once", () => {
    const logOnly = compilePolicy([{ secrets: "log", personal: "log" }]);
    const s = new StreamText(logOnly, new Placeholders());
    const first = s.push("mail bob@exam");
    expect(first.text).toBe("mail bob@exam");
    expect(s.held).toBe(0);
    const second = s.push("ple.com today");
    expect(second.text).toBe("ple.com today");
    expect([...first.findings, ...second.findings].map((f) => f.rule)).toEqual(["email"]);
  });
});

describe("a private key streamed in many chunks", () => {
  it("hides the block from its BEGIN line to its END line, then streams normally", () => {
    const s = new StreamText(redactAll, new Placeholders());
    const sent: string[] = [];
    const chunks = [
      "here: -----BEGIN OPENSSH PRIVATE KEY-----\n",
      "b3BlbnNzaC1rZXktdjEAAAAA\n",
      ...Array.from({ length: 40 }, (_, i) => `QUFBQUFBQUFB${i}QUFBQUFB\n`),
      "-----END OPENSSH PRIV",
      "ATE KEY-----\nand then more text ",
    ];
    for (const chunk of chunks) sent.push(s.push(chunk).text);
    sent.push(s.end().text);
    const out = sent.join("");
    expect(out).toBe("here: [redacted:private_key]\nand then more text ");
    expect(out).not.toMatch(/QUFB|b3Bl|OPENSSH/);
  });
});

describe("block mid-stream", () => {
  it("reports the block at the chunk that completes the match; its start was never sent", () => {
    const blocking = compilePolicy([{ secrets: "block" }]);
    const s = new StreamText(blocking, new Placeholders());
    const key = fakeKey("ghp_", 36);
    const first = s.push(`The token is ${key.slice(0, 10)}`);
    expect(first.block).toBeNull();
    expect(first.text).toBe("The token is ");
    const second = s.push(`${key.slice(10)} and more`);
    expect(second.block?.rule).toBe("github_token");
    expect(second.block?.kind).toBe("api_key");
  });
});
