// The inspector in a real headless browser (Debian's Chromium through playwright-core): a turn
// sent through the development relay appears live, opens into its timeline in order, and its
// replay shows the answer; an agent's answer is shown as text, never run as HTML; what the
// privacy guard redacts is nowhere in the page or its traffic.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Inspector } from "../../src/inspector/index.ts";
import { Recorder } from "../../src/inspector/recorder.ts";
import { policyRedactor } from "../../src/inspector/redactor.ts";
import { InspectorServer } from "../../src/inspector/server.ts";
import { sourcesOf } from "../../src/inspector/views.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { compilePolicy } from "../../src/privacy/policy.ts";
import { fakeKey } from "../privacy/support.ts";
import type { TestAgent } from "../support/a2a-agents.ts";
import { browserUnavailable, launchBrowser, type TestBrowser } from "../support/browser.ts";
import { type Stack, textOf } from "../support/stack.ts";
import {
  agentMessage,
  inspectedEcho,
  recordGuardedTurn,
  scriptedClient,
  userMessage,
} from "./support.ts";

const title = browserUnavailable
  ? `the inspector in a browser (skipped: ${browserUnavailable})`
  : "the inspector in a browser";

describe.skipIf(browserUnavailable !== null)(title, () => {
  let agent: TestAgent;
  let stack: Stack;
  let inspector: Inspector;
  let url: string;
  let browser: TestBrowser;

  beforeAll(async () => {
    ({ agent, inspector, stack, url } = await inspectedEcho({
      turnsPushMs: 50,
      statePushMs: 200,
    }));
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await inspector?.close();
    await stack?.close();
    await agent?.close();
  });

  it("shows a relayed turn live, opens its timeline in order, and replays it", async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await page.goto(url);
    await page.waitForSelector("#live[data-state=live]");
    expect(await page.locator("#turns tbody tr").count()).toBe(0);

    // Sent after the page is open: it must arrive over the live stream, without a reload.
    const text = `hi <img src=x onerror="window.__xss=1"> ${Date.now()}`;
    const agentId = await stack.agentId("Echo");
    const reply = await stack.send(agentId, text);
    expect(textOf(reply)).toContain(text);
    const id = String(reply.body.result?.metadata?.agent_message_id);
    const row = page.locator(`#turns tbody tr[data-turn-id="${id}"][data-state=completed]`);
    await row.waitFor();
    await expect.poll(() => row.locator("td").nth(2).textContent()).toBe("Echo");

    await row.click();
    await page.waitForSelector("#timeline li");
    // Wait for the terminal group's acknowledgement to be shown, then read the timeline.
    await page.waitForSelector(
      '#timeline li[data-entry-type=published]:last-child :text("acknowledged")',
    );
    const entries = await page.locator("#timeline li").evaluateAll((items) =>
      items.map((item) => ({
        type: (item as unknown as { dataset: Record<string, string> }).dataset.entryType,
        what: item.querySelector(".what b")?.textContent ?? "",
        seq: item.querySelector(".what .seq")?.textContent?.trim() ?? "",
        parts: item.querySelector(".what ul.parts")?.textContent ?? "",
      })),
    );
    expect(entries[0]).toMatchObject({ type: "command", what: "relay command user_message" });
    expect(entries[1]?.type).toBe("started");
    const published = entries.filter((e) => e.type === "published").map((e) => e.what);
    // What the page lists as published is what the relay got, in the same order.
    expect(published).toEqual(stack.relay.eventsFor(id).map((event) => event.type));
    expect(published.at(-1)).toBe("processing_status");
    // Each with the response_seq the relay got it with; the answer's parts shown where they went.
    expect(entries.filter((e) => e.type === "published").map((e) => e.seq)).toEqual(
      stack.relay.eventsFor(id).map((event) => `response_seq ${event.data.response_seq}`),
    );
    const content = entries.filter((e) => e.what === "artifact_update").map((e) => e.parts);
    expect(content.join("")).toContain(text);
    const firstAgentEvent = entries.findIndex((e) => e.type === "a2a");
    expect(firstAgentEvent).toBeGreaterThan(1);
    expect(entries.findIndex((e) => e.what === "artifact_update")).toBeGreaterThan(firstAgentEvent);

    // The agent's answer is text: the <img> in it is shown, never made an element.
    await expect
      .poll(() => page.locator("#original-answer pre").textContent())
      .toBe(`echo: ${text}`);
    expect(await page.evaluate(() => (globalThis as { __xss?: number }).__xss)).toBeUndefined();
    expect(await page.locator('img[src="x"]').count()).toBe(0);

    // Replay: the same agent answers again, locally, beside the original.
    const postsBefore = stack.relay.publishStats().posts;
    await page.click("#replay");
    await expect
      .poll(() => page.locator("#replay-answer pre").textContent(), { timeout: 20_000 })
      .toBe(`echo: ${text}`);
    expect(await page.locator("#replay-answer h4").textContent()).toMatch(/completed/);
    expect(stack.relay.publishStats().posts).toBe(postsBefore);

    // Filters: by state and by agent.
    await page.selectOption("#filter-state", "failed");
    await expect.poll(() => page.locator("#turns tbody tr").count()).toBe(0);
    await page.selectOption("#filter-state", "completed");
    await page.selectOption("#filter-agent", "Echo");
    await expect.poll(() => page.locator("#turns tbody tr").count()).toBe(1);

    // Agents and relay views.
    await page.click("nav button[data-view=agents]");
    await expect
      .poll(() => page.locator("#agents tbody tr[data-agent-id] td").nth(1).textContent())
      .toMatch(/healthy/);
    await page.click("nav button[data-view=relay]");
    await expect.poll(() => page.locator("#relay").textContent()).toMatch(/command streamopen/);
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it("shows what the privacy guard redacted as [redacted:…], with the value nowhere in the page or its traffic", async () => {
    // PENDING IN THE HUB: the guard is not yet wired into the publish path, so this turn is fed
    // to a recorder as the hub will feed it (the real guard's output and report; the agent's
    // events through the same policy's redactor), and the page is served by the real server.
    const secret = fakeKey("ghp_", 36);
    const policy = compilePolicy([{ secrets: "redact", personal: "log" }]);
    const recorder = new Recorder({ redactorFor: () => policyRedactor(policy) });
    const server = new InspectorServer({
      address: { host: "127.0.0.1", port: 0 },
      token: "privacy-test-token-0123456789abcdef",
      recorder,
      sources: sourcesOf(stack.daemon),
      replay: null,
      logger: silentLogger(),
    });
    const pageUrl = await server.listen();
    const command = userMessage("privacy-1", `my token is ${secret}, please check it`);
    await recordGuardedTurn(
      recorder,
      command,
      scriptedClient({ answer: agentMessage(`your token ${secret} works`) }),
      policy,
    );

    const page = await browser.context.newPage();
    const bodies: string[] = [];
    const frames: string[] = [];
    page.on("response", async (response) => {
      if (response.headers()["content-type"]?.startsWith("text/event-stream")) return;
      bodies.push((await response.body().catch(() => Buffer.from(""))).toString("utf8"));
    });
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send("Network.enable");
    cdp.on("Network.eventSourceMessageReceived", (message) => frames.push(message.data));
    await page.goto(pageUrl);
    await page.click('#turns tbody tr[data-turn-id="privacy-1"]');
    await page.waitForSelector("#timeline li");
    await page.locator("#timeline details").evaluateAll((all) => {
      for (const details of all) (details as unknown as { open: boolean }).open = true;
    });
    await expect
      .poll(() => page.locator("#original-answer pre").textContent())
      .toBe("your token [redacted:api_key] works");
    expect(await page.locator(".privacy-summary").textContent()).toContain("api_key · redact ×1");
    const html = await page.content();
    expect(html).toContain("[redacted:api_key]");
    expect(html).not.toContain(secret);
    await expect.poll(() => frames.length).toBeGreaterThan(0);
    expect(bodies.length).toBeGreaterThanOrEqual(5); // page, scripts, style, the turn
    for (const text of [...bodies, ...frames]) expect(text).not.toContain(secret);
    // A part of the key alone is not left either.
    expect(html).not.toContain(secret.slice(4, 20));
    await page.close();
    await server.close();
  }, 60_000);
});
