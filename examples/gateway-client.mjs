#!/usr/bin/env node
// Calls an agent through the Hybro Gateway: discover → send → stream. Plain JavaScript, so it runs
// as it is from a checkout (after `npm run build`) and from the installed package.
//
//   HYBRO_API_KEY=hybro_… HYBRO_GATEWAY_URL=http://127.0.0.1:8787 \
//     node examples/gateway-client.mjs "echo" "Hello there"
//
// It imports the package by its name, as your own code will ("hybro-hub" resolves to this
// package from inside it, and from any project that installed it).
import { HybroGateway, RateLimitError, StreamedAnswer } from "hybro-hub";

const [query = "echo", text = "Hello from the Gateway SDK"] = process.argv.slice(2);
const gatewayUrl = process.env.HYBRO_GATEWAY_URL ?? "https://api.hybro.ai";

// The key comes from HYBRO_API_KEY; `await using` closes the client's connections at the end.
await using gateway = new HybroGateway({ baseUrl: `${gatewayUrl}/api/v1` });

try {
  const agents = await gateway.discover(query, { limit: 3 });
  const agent = agents[0];
  if (!agent) {
    console.error(`No agent matches "${query}"; is a hub with an agent connected?`);
    process.exit(1);
  }
  console.log(
    `agent: ${agent.agent_id} ${String(agent.agent_card.name)} (score ${agent.match_score})`,
  );

  // One message, one answer.
  const reply = await gateway.send(agent.agent_id, text);
  console.log(`send → [${reply.state}] ${reply.text}`);

  // The same conversation, streamed: events arrive as the agent produces them. StreamedAnswer
  // keeps the answer as the room does (an `append: false` chunk replaces what came before).
  process.stdout.write("stream → ");
  const answer = new StreamedAnswer();
  for await (const event of gateway.stream(agent.agent_id, "And once more, streamed", {
    contextId: reply.contextId,
  })) {
    const change = answer.apply(event);
    if (change && "append" in change) process.stdout.write(change.append);
    else if (change) process.stdout.write(`\n[replaced] ${change.restart}`);
    if (event.type === "agent_error") process.stdout.write(`[error: ${event.data.error}]`);
  }
  process.stdout.write("\n");
  console.log("rate limit:", gateway.rateLimit);
} catch (error) {
  if (error instanceof RateLimitError) {
    console.error(`Rate limited; retry in ${error.retryAfterS} s`);
  } else {
    throw error;
  }
}
