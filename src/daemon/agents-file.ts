// agents.json as the hub reads it, for the commands that check it without running a hub
// (`doctor`, `privacy test`): the CLI reaches the agents' configuration through this layer.
export { loadAgentsFile } from "../agents/config.ts";
