// Screenshots of the inspector for the README (docs/): a few real turns through the development
// relay to agents built on @a2a-js/sdk, shown in Debian's Chromium. Run by hand:
//   node test/inspector/screenshots.ts
import { join } from "node:path";
import { createInspector } from "../../src/inspector/index.ts";
import { silentLogger } from "../../src/log/logger.ts";
import { startTestAgent } from "../support/a2a-agents.ts";
import { launchBrowser } from "../support/browser.ts";
import { startStack } from "../support/stack.ts";

const docs = join(import.meta.dirname, "../../docs");
const agents = {
  echo: await startTestAgent({ dialect: "1.0", streaming: true, behaviour: "echo", name: "Echo" }),
  writer: await startTestAgent({
    dialect: "0.3",
    streaming: true,
    behaviour: "chunks",
    name: "Writer",
    chunkCount: 12,
    delayMs: 15,
  }),
  failing: await startTestAgent({
    dialect: "1.0",
    streaming: false,
    behaviour: "fail",
    name: "Checker",
  }),
  asker: await startTestAgent({
    dialect: "1.0",
    streaming: false,
    behaviour: "input-required",
    name: "Planner",
  }),
};
const inspector = createInspector({
  address: { host: "127.0.0.1", port: 0 },
  logger: silentLogger(),
});
const stack = await startStack({
  agents: Object.values(agents).map((agent, i) => ({
    name: ["Echo", "Writer", "Checker", "Planner"][i],
    url: agent.url,
  })),
  observer: inspector.recorder,
});
const url = await inspector.attach(stack.daemon);
const ids = {
  echo: await stack.agentId("Echo"),
  writer: await stack.agentId("Writer"),
  checker: await stack.agentId("Checker"),
  planner: await stack.agentId("Planner"),
};
await stack.send(ids.echo, "What is on my calendar today?");
await stack.send(ids.writer, "Draft a short status update for the team");
await stack.send(ids.checker, "Check the invoice totals for March");
await stack.send(ids.planner, "Plan a trip");
await stack.send(ids.echo, "Summarise the last meeting notes");
const streamed = await stack.send(ids.writer, "Write release notes for 0.2");
const streamedId = String(streamed.body.result?.metadata?.agent_message_id);

const browser = await launchBrowser({ width: 1440, height: 900 });
const page = await browser.context.newPage();
await page.goto(url);
await page.waitForSelector(`#turns tbody tr[data-turn-id="${streamedId}"][data-state=completed]`);
await page.screenshot({ path: join(docs, "inspector-turns.png") });
await page.click(`#turns tbody tr[data-turn-id="${streamedId}"]`);
await page.waitForSelector("#timeline li");
await page.click("#replay");
await page.waitForSelector("#replay-answer pre");
await page
  .locator("#timeline li[data-entry-type=published] details")
  .last()
  .evaluate((details) => {
    (details as unknown as { open: boolean }).open = true;
  });
await page.locator("#timeline li").nth(2).scrollIntoViewIfNeeded();
await page.screenshot({ path: join(docs, "inspector-timeline.png") });
await page.click("nav button[data-view=agents]");
await page.screenshot({ path: join(docs, "inspector-agents.png") });
await browser.close();
await inspector.close();
await stack.close();
await Promise.all(Object.values(agents).map((agent) => agent.close()));
console.log(`screenshots in ${docs}`);
