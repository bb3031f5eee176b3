// Listening beyond loopback is allowed, but never silent: the development relay and the metrics
// endpoint say so in a warning, and the relay prints a URL other machines can use.
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { networkInterfaces, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevRelay, startDevRelay } from "../../src/devrelay/index.ts";
import { cliEnv, runCli, runCliUntil } from "./cli-runner.ts";

/** This machine's addresses other machines may reach (IPv4, not loopback). */
const outsideAddresses = Object.values(networkInterfaces())
  .flat()
  .filter((a) => a && a.family === "IPv4" && !a.internal)
  .map((a) => a?.address as string);

describe("listening on every interface", () => {
  let home: string;
  let relay: DevRelay;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-listen-"));
    relay = await startDevRelay({ port: 0, memory: true });
  });
  afterAll(async () => {
    await relay.close();
    rmSync(home, { recursive: true, force: true });
  });

  it("relay --host 0.0.0.0 warns and prints a URL that works from this machine and others", async () => {
    const run = await runCliUntil(
      ["relay", "--memory", "--host", "0.0.0.0", "--port", "0", "--log-level", "silent"],
      cliEnv(home),
      /relay listening on \S+/,
    );
    try {
      expect(run.output.stderr).toMatch(
        /^warning: the relay listens on every interface \(0\.0\.0\.0\)/m,
      );
      const url = new URL(/relay listening on (\S+)/.exec(run.output.stdout)?.[1] as string);
      if (outsideAddresses.length > 0) expect(outsideAddresses).toContain(url.hostname);
      else expect(url.hostname).toBe("127.0.0.1");
      const answer = await fetch(new URL("/api/v1/auth/verify", url));
      expect(answer.status).toBe(401); // a relay answered, asking for a key
    } finally {
      run.child.kill("SIGTERM");
      await once(run.child, "exit");
    }
  });

  it("the relay on loopback says nothing more", async () => {
    const run = await runCliUntil(
      ["relay", "--memory", "--port", "0", "--log-level", "silent"],
      cliEnv(home),
      /relay listening on \S+/,
    );
    run.child.kill("SIGTERM");
    await once(run.child, "exit");
    expect(run.output.stdout).toMatch(/^relay listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    expect(run.output.stderr).toBe("");
  });

  it("start --metrics 0.0.0.0:… warns that the metrics are reachable from other machines", async () => {
    const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
    const env = cliEnv(home, { HYBRO_GATEWAY_URL: relay.url, HYBRO_API_KEY: key });
    const run = await runCliUntil(
      ["start", "--foreground", "--metrics", "0.0.0.0:0"],
      env,
      /hub ready/,
    );
    run.child.kill("SIGTERM");
    await once(run.child, "exit");
    expect(run.output.stderr).toMatch(
      /--metrics 0\.0\.0\.0:0 listens on every interface: other machines can read/,
    );
  });
});

// Issue 15, finding 14: `http://` to a relay on another machine was used silently, sending the
// API key in clear. It now needs --allow-plain-http, and still warns then.
describe("a plain-http relay beyond loopback", () => {
  const outside = outsideAddresses[0];
  let home: string;
  let relay: DevRelay;
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), "hybro-plain-http-"));
    relay = await startDevRelay({ port: 0, memory: true, host: "0.0.0.0" });
  });
  afterAll(async () => {
    await relay.close();
    rmSync(home, { recursive: true, force: true });
  });

  it.skipIf(outside === undefined)(
    "start refuses it (exit 2, one line) unless --allow-plain-http, which still warns",
    async () => {
      const { key } = relay.createKey({ name: "hub", scopes: ["*"] });
      const url = `http://${outside}:${relay.port}`;
      const env = cliEnv(home, { HYBRO_GATEWAY_URL: url, HYBRO_API_KEY: key });
      for (const args of [["start", "--foreground"], ["start"]]) {
        const refused = await runCli(args, { env });
        expect(refused.code, args.join(" ")).toBe(2);
        expect(refused.stderr).toBe(
          `error: the relay URL ${url} is plain http to another machine: the API key and every message would cross the network unencrypted; use https://, or pass --allow-plain-http if this network is yours and you mean it\n`,
        );
      }
      expect(relay.hubs()).toEqual([]);

      const run = await runCliUntil(
        ["start", "--foreground", "--allow-plain-http"],
        env,
        /hub ready/,
      );
      run.child.kill("SIGTERM");
      await once(run.child, "exit");
      expect(run.output.stderr).toContain("hub ready");
      expect(run.output.stderr).toMatch(/plain http to another machine.*--allow-plain-http/);
    },
  );
});
