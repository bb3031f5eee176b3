// Which `agents/sync` entries the relay keeps (relay-wire.md section 6). hybro.ai validates each
// entry's `agent_card` as an A2A v0.3 AgentCard (its a2a-sdk model: name, description, url and
// version strings; a capabilities object; input/output mode lists; skills with id, name,
// description and tags) and then skips entries without a non-empty url or name; the rest are
// left out of the answer without an error. Pure; shared by the development relay (to decide) and
// the hub (to say why an agent was not kept).
import type { SyncAgent } from "./relay.ts";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);
const isStringList = (value: unknown): boolean =>
  Array.isArray(value) && value.every((item) => typeof item === "string");

/** The field under its camelCase name or its snake_case one (the SDK model accepts both). */
function field(card: Json, camel: string): unknown {
  if (camel in card) return card[camel];
  return card[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
}

/** Why the relay would leave this entry out of its sync answer, or null when it keeps it. */
export function syncEntryProblem(agent: SyncAgent): string | null {
  const card = agent.agent_card;
  if (!isObject(card)) return "its agent_card is not an object";
  for (const key of ["name", "description", "url", "version"]) {
    if (typeof card[key] !== "string") return `its card has no "${key}" string`;
  }
  const capabilities = card.capabilities;
  if (!isObject(capabilities)) return `its card has no "capabilities" object`;
  for (const key of ["streaming", "pushNotifications", "stateTransitionHistory"]) {
    const value = field(capabilities, key);
    if (value !== undefined && value !== null && typeof value !== "boolean") {
      return `its card's capabilities.${key} is not true/false`;
    }
  }
  for (const key of ["defaultInputModes", "defaultOutputModes"]) {
    if (!isStringList(field(card, key))) return `its card has no "${key}" list of strings`;
  }
  const skills = card.skills;
  if (!Array.isArray(skills)) return `its card has no "skills" list`;
  for (const [index, skill] of skills.entries()) {
    if (
      !isObject(skill) ||
      typeof skill.id !== "string" ||
      typeof skill.name !== "string" ||
      typeof skill.description !== "string" ||
      !isStringList(skill.tags)
    ) {
      return `its card's skill ${index} lacks an id, name, description or tags`;
    }
  }
  if (agent.local_agent_id === "") return "it has an empty local_agent_id";
  if (card.url === "") return "its card's url is empty";
  if (agent.name === "" && card.name === "") return "it has no name";
  return null;
}
