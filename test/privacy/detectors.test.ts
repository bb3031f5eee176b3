// Every built-in detector: what it must find, and the near misses it must leave alone.
import { describe, expect, it } from "vitest";
import { cardNumberValid, ibanValid, luhnValid, ssnValid } from "../../src/privacy/checksums.ts";
import { fakeKey, found } from "./support.ts";

describe("secrets with a known prefix", () => {
  it("finds hybro_, sk-, Stripe, GitHub, AWS, Slack, GitLab and Google keys", () => {
    const keys = {
      hybro_key: fakeKey("hybro_", 32),
      sk_key: fakeKey("sk-proj-", 40),
      stripe_key: fakeKey("sk_live_", 24),
      github_token: fakeKey("ghp_", 36),
      aws_access_key: "AKIA" + "IOSFODNN7EXAMPL1",
      slack_token: "xoxb-" + "123456789012-abcdefABCDEF",
      gitlab_token: fakeKey("glpat-", 20),
      google_api_key: fakeKey("AIza", 35),
    };
    for (const [rule, key] of Object.entries(keys)) {
      expect(found(`use ${key}, then`), rule).toEqual([`api_key:${rule}=${key}`]);
    }
    const pat = fakeKey("github_pat_", 82, "ABCdef123_");
    expect(found(`token: ${pat}`)).toEqual([`api_key:github_token=${pat}`]);
  });

  it("leaves alone prefixes inside words, short or letter-only bodies, and hashes", () => {
    expect(found("pip install scikit-learn; import sk-learn")).toEqual([]);
    expect(found("task-" + "abcdefghij1234567890abcd")).toEqual([]); // holds "sk-", glued
    expect(found("sk-this-is-a-very-long-hyphenated-phrase")).toEqual([]); // no digit
    expect(found("hybro_short1")).toEqual([]);
    expect(found("AKIA" + "IOSFODNN7EXAMPL")).toEqual([]); // 15, not 16
    expect(found("AKIA" + "IOSFODNN7EXAMPL1X")).toEqual([]); // 17
    expect(found("xAKIA" + "IOSFODNN7EXAMPL1")).toEqual([]);
    expect(found(fakeKey("ghp_", 20))).toEqual([]);
    // Commit ids, SHA-256 digests, UUIDs: high entropy, but no key shape.
    expect(
      found(
        "commit 3f786850e387550fdab836ed7e6dc881de23001b sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 id 550e8400-e29b-41d4-a716-446655440000",
      ),
    ).toEqual([]);
  });
});

describe("JWT", () => {
  const jwt = [
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
    "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ",
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
  ].join(".");

  it("finds a signed and an unsigned token", () => {
    expect(found(`Authorization: Bearer ${jwt}`)).toEqual([`jwt:jwt=${jwt}`]);
    const unsigned = `${jwt.split(".").slice(0, 2).join(".")}.`;
    expect(found(`token ${unsigned} end`)).toEqual([`jwt:jwt=${unsigned}`]);
  });

  it("leaves alone a lone header, a token glued to a word and base64 without the JSON start", () => {
    expect(found("header eyJhbGciOiJIUzI1NiJ9 only")).toEqual([]);
    expect(found(`x${jwt}`)).toEqual([]);
    expect(found("abc.defghijklmnop.qrstuvwxyz123")).toEqual([]);
  });
});

describe("PEM private keys", () => {
  it("finds RSA, OPENSSH and PGP blocks through their END line, or to the end without one", () => {
    const rsa = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY-----";
    expect(found(`key:\n${rsa}\nafter`)).toEqual([`private_key:pem_private_key=${rsa}`]);
    const ssh =
      "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r\n-----END OPENSSH PRIVATE KEY-----";
    expect(found(ssh)).toEqual([`private_key:pem_private_key=${ssh}`]);
    const pgp = "-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOY\n-----END PGP PRIVATE KEY BLOCK-----";
    expect(found(pgp)).toEqual([`private_key:pem_private_key=${pgp}`]);
    const cut = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE";
    expect(found(`x ${cut}`)).toEqual([`private_key:pem_private_key=${cut}`]);
  });

  it("leaves alone public keys and certificates", () => {
    expect(
      found(
        "-----BEGIN PUBLIC KEY-----\nMIIBIj\n-----END PUBLIC KEY-----\n-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----",
      ),
    ).toEqual([]);
  });
});

describe("password assignments", () => {
  it("finds the value of .env, YAML, JSON, code and URL assignments (not the name)", () => {
    expect(found("DB_PASSWORD=s3cr3t!x")).toEqual(["password:assignment=s3cr3t!x"]);
    expect(found("password: Summer2024!")).toEqual(["password:assignment=Summer2024!"]);
    expect(found('{"password": "correct horse"}')).toEqual(["password:assignment=correct horse"]);
    expect(found("login(user, password='hunter2')")).toEqual(["password:assignment=hunter2"]);
    expect(found("https://x.test/?user=a&api_key=k3y9abc&z=1")).toEqual([
      "password:assignment=k3y9abc",
    ]);
    expect(found("client_secret := 'abc123def'")).toEqual(["password:assignment=abc123def"]);
    expect(found("Server=db;Password=P4ssw0rd;")).toEqual(["password:assignment=P4ssw0rd"]);
  });

  it("leaves alone types, calls, references, placeholders, prose and names of files", () => {
    for (const text of [
      "password: str",
      "password: string",
      'password: "string"',
      "password = getpass()",
      "password=args.password",
      "password: process.env.DB_PASSWORD",
      "password=password",
      "Reset your password: click the link below",
      "password: ********",
      "password=<your password>",
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell variable reference
      "password=${DB_PASSWORD}",
      'password = ""',
      "password_file=/run/secrets/db",
      "PASSWORD_RESET_URL=https://x.test/reset",
      "secret: true",
    ]) {
      expect(found(text), text).toEqual([]);
    }
  });
});

describe("e-mail addresses", () => {
  it("finds addresses, also inside a URL's path", () => {
    expect(found("write to Bob.Smith+news@mail.example.co.uk.")).toEqual([
      "email:email=Bob.Smith+news@mail.example.co.uk",
    ]);
    expect(found("https://x.test/users/ann@example.org")).toEqual(["email:email=ann@example.org"]);
  });

  it("leaves alone URL users, @handles in paths, package versions and image densities", () => {
    expect(found("https://user:pw@example.com/x and ftp://anon@ftp.example.org/")).toEqual([]);
    expect(found("https://medium.com/@alice/post")).toEqual([]);
    expect(found("https://unpkg.com/react@18.2.0/umd/react.js")).toEqual([]);
    expect(found("icon@2x.png logo@3x.webp")).toEqual([]);
    expect(found("@mention and a@b")).toEqual([]);
  });
});

describe("phone numbers", () => {
  it("finds international and US forms", () => {
    for (const phone of [
      "+44 20 7946 0958",
      "+1 (555) 234-5678",
      "+49-30-1234567",
      "+33 1 23 45 67 89",
      "+14155552671",
      "555-123-4567",
      "(555) 234-5678",
      "555.234.5678",
      "1-800-555-0199",
    ]) {
      expect(found(`call ${phone} now`), phone).toHaveLength(1);
      expect(found(`call ${phone} now`)[0]).toMatch(/^phone:phone_\w+=/);
    }
  });

  it("leaves alone versions, dates, times, IP addresses, ids, timestamps and sums", () => {
    for (const text of [
      "version 1.2.3.4",
      "v10.123.456.7890",
      "released 2024-10-12 at 10:30",
      "on 12.10.2024",
      "host 192.168.100.200",
      "order 1234567890",
      "ts 1731234567890",
      "555-1234",
      "123-456-7890", // area codes never start with 1
      "3+4 5 6",
      "+12 points",
      "uuid 550e8400-e29b-41d4-a716-446655440000",
    ]) {
      expect(found(text), text).toEqual([]);
    }
  });
});

describe("payment cards", () => {
  it("finds Luhn-valid numbers of known networks, plain or grouped", () => {
    for (const card of [
      "4111111111111111",
      "4111 1111 1111 1111",
      "5555-5555-5555-4444",
      "3782 822463 10005",
      "6011111111111117",
      "2223003122003222",
    ]) {
      expect(found(`card ${card}.`), card).toEqual([`card:card_number=${card}`]);
    }
  });

  it("leaves alone Luhn failures, unknown networks, odd grouping and longer numbers", () => {
    for (const text of [
      "4111 1111 1111 1112", // Luhn fails
      "1234567812345670", // Luhn-valid, but no network starts with 1
      "41 11 11 11 11 11 11 11", // pairs: a list of numbers
      "4111 1111-1111 1111", // mixed separators
      "41111111111111110000", // 20 digits
      "3.14159265358979323",
      "amount 4111111111111111.50",
    ]) {
      expect(found(text), text).toEqual([]);
    }
  });

  it("checks Luhn and issued lengths", () => {
    expect(luhnValid("79927398713")).toBe(true);
    expect(luhnValid("79927398710")).toBe(false);
    expect(cardNumberValid("4111111111111")).toBe(false); // Visa 13, Luhn fails
    expect(cardNumberValid("378282246310005")).toBe(true);
    expect(cardNumberValid("37828224631000")).toBe(false);
  });
});

describe("IBAN", () => {
  it("finds valid IBANs, grouped or compact, and stops at the country's length", () => {
    expect(found("IBAN DE89 3704 0044 0532 0130 00 EUR")).toEqual([
      "iban:iban=DE89 3704 0044 0532 0130 00",
    ]);
    expect(found("GB82WEST12345698765432")).toEqual(["iban:iban=GB82WEST12345698765432"]);
    expect(found("NL91ABNA0417164300, FR1420041010050500013M02606")).toEqual([
      "iban:iban=NL91ABNA0417164300",
      "iban:iban=FR1420041010050500013M02606",
    ]);
  });

  it("leaves alone a bad checksum, a wrong length, unknown countries and lower case", () => {
    expect(found("DE89 3704 0044 0532 0130 01")).toEqual([]);
    expect(found("DE89370400440532013000X")).toEqual([]);
    expect(found("ZZ89370400440532013000")).toEqual([]);
    expect(found("de89370400440532013000")).toEqual([]);
    expect(ibanValid("DE89370400440532013000")).toBe(true);
    expect(ibanValid("DE8937040044053201300")).toBe(false);
  });
});

describe("US social security numbers", () => {
  it("finds issued-looking numbers and leaves alone the never-issued ranges", () => {
    expect(found("SSN 123-45-6789")).toEqual(["ssn:us_ssn=123-45-6789"]);
    for (const text of [
      "000-12-3456",
      "666-12-3456",
      "900-12-3456",
      "123-00-4567",
      "123-45-0000",
    ]) {
      expect(found(text), text).toEqual([]);
    }
    expect(found("123-45-67890 and 1-123-45-6789")).toEqual([]);
    expect(ssnValid("078", "05", "1120")).toBe(true);
  });
});

describe("every detector is linear", () => {
  it("finishes on long runs of each detector's own characters", () => {
    // On a backtracking pattern these inputs would take minutes; the test's time limit fails it.
    const runs = [
      "sk-".repeat(50_000),
      "eyJ".repeat(50_000),
      "a".repeat(150_000) + "@",
      "@a".repeat(50_000),
      "1 ".repeat(50_000),
      "+1 ".repeat(50_000),
      "-----BEGIN ".repeat(10_000),
      "password=".repeat(20_000),
      "DE89 ".repeat(30_000),
    ];
    for (const run of runs) expect(Array.isArray(found(run))).toBe(true);
  });
});
