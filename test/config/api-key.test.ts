import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { resolveApiKey } from "../../src/config/api-key.ts";
import { readConfigFile, saveApiKey } from "../../src/config/config-file.ts";

const KEY = "hybro_AbCdEfGhIjKlMnOpQrStUvWxYz012345";
const OTHER = "hybro_ZyXwVuTsRqPoNmLkJiHgFeDcBa987654";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "hybro-key-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("resolveApiKey", () => {
  it("takes the environment, then a key file, then systemd credentials, then the config", () => {
    const configFile = join(dir, "config.json");
    saveApiKey(configFile, OTHER);
    const keyFile = join(dir, "key");
    writeFileSync(keyFile, `${KEY}\n`);
    const creds = join(dir, "creds");
    rmSync(creds, { force: true });
    expect(resolveApiKey({ configFile, env: { HYBRO_API_KEY: KEY } })).toMatchObject({
      key: KEY,
      source: "HYBRO_API_KEY",
    });
    expect(resolveApiKey({ flagFile: keyFile, configFile, env: {} })).toMatchObject({ key: KEY });
    expect(resolveApiKey({ configFile, env: {} })).toMatchObject({ key: OTHER });
  });

  it("explains a malformed key without echoing it", () => {
    const result = resolveApiKey({
      configFile: join(dir, "none.json"),
      env: { HYBRO_API_KEY: "sk-live-secretsecretsecret" },
    });
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error).toContain('must start with "hybro_"');
      expect(result.error).not.toContain("secretsecret");
    }
  });

  it("says what to do when there is no key at all", () => {
    const result = resolveApiKey({ configFile: join(dir, "none.json"), env: {} });
    expect(result).toMatchObject({ ok: false });
    if (!result.ok) expect(result.error).toMatch(/config set-key.*HYBRO_API_KEY.*--api-key-file/);
  });
});

describe("config file", () => {
  it("is written with mode 0600 and warns when others can read it", () => {
    const file = join(dir, "sub", "config.json");
    saveApiKey(file, KEY);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readConfigFile(file)).toMatchObject({ ok: true, warnings: [] });
    chmodSync(file, 0o644);
    const read = readConfigFile(file);
    expect(read.ok && read.warnings[0]).toContain("chmod 600");
  });

  it("reports an unknown field clearly", () => {
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ apikey: KEY }));
    const read = readConfigFile(file);
    expect(read.ok).toBe(false);
  });
});
