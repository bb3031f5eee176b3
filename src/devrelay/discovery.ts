// Deterministic relevance of an agent to a free-text query, shared by the Discovery API and
// the gateway's `discover`. Pure.
//
// Formula. The query and each field are lower-cased and split into words (letters/digits).
// For each distinct query word w, its weight is the best of:
//   1.0  w is a word of the agent's name
//   0.8  w is a word of one of its skill tags (card `skills[].tags`, plus the sync
//        capabilities other than "streaming"/"push_notifications")
//   0.5  w is a word of its description
// and half that weight when w (3+ characters) is only a prefix of such a word ("summ" →
// "summarise"). match_score = (sum of weights) / (number of distinct query words), rounded
// to 4 decimals, so it lies in [0, 1]. Agents scoring 0 are left out; an empty query lists
// every agent with score 0. Order: score desc, then name, then agent_id.

const NAME_WEIGHT = 1.0;
const TAG_WEIGHT = 0.8;
const DESCRIPTION_WEIGHT = 0.5;
const PREFIX_FACTOR = 0.5;
const MIN_PREFIX_LENGTH = 3;
const NON_TAG_CAPABILITIES = new Set(["streaming", "push_notifications"]);

interface DiscoverableAgent {
  agentId: string;
  name: string;
  description: string;
  capabilities: readonly string[];
  agentCard: Record<string, unknown>;
}

interface RankedAgent<T extends DiscoverableAgent> {
  agent: T;
  score: number;
}

function words(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0);
}

function skillTags(agent: DiscoverableAgent): string[] {
  const tags: string[] = [];
  const skills = agent.agentCard.skills;
  if (Array.isArray(skills)) {
    for (const skill of skills) {
      const skillTagList = (skill as { tags?: unknown } | null)?.tags;
      if (Array.isArray(skillTagList)) {
        for (const tag of skillTagList) if (typeof tag === "string") tags.push(tag);
      }
    }
  }
  for (const capability of agent.capabilities) {
    if (!NON_TAG_CAPABILITIES.has(capability)) tags.push(capability);
  }
  return tags;
}

function fieldWeight(word: string, fieldWords: ReadonlySet<string>, weight: number): number {
  if (fieldWords.has(word)) return weight;
  if (word.length >= MIN_PREFIX_LENGTH) {
    for (const candidate of fieldWords) {
      if (candidate.startsWith(word)) return weight * PREFIX_FACTOR;
    }
  }
  return 0;
}

export function matchScore(query: string, agent: DiscoverableAgent): number {
  const queryWords = [...new Set(words(query))];
  if (queryWords.length === 0) return 0;
  const name = new Set(words(agent.name));
  const tags = new Set(skillTags(agent).flatMap(words));
  const description = new Set(words(agent.description));
  let total = 0;
  for (const word of queryWords) {
    total += Math.max(
      fieldWeight(word, name, NAME_WEIGHT),
      fieldWeight(word, tags, TAG_WEIGHT),
      fieldWeight(word, description, DESCRIPTION_WEIGHT),
    );
  }
  return Math.round((total / queryWords.length) * 10_000) / 10_000;
}

export function rankAgents<T extends DiscoverableAgent>(
  query: string,
  agents: readonly T[],
  limit: number,
): RankedAgent<T>[] {
  const emptyQuery = words(query).length === 0;
  const ranked: RankedAgent<T>[] = [];
  for (const agent of agents) {
    const score = matchScore(query, agent);
    if (score > 0 || emptyQuery) ranked.push({ agent, score });
  }
  ranked.sort(
    (a, b) =>
      b.score - a.score ||
      a.agent.name.localeCompare(b.agent.name) ||
      (a.agent.agentId < b.agent.agentId ? -1 : a.agent.agentId > b.agent.agentId ? 1 : 0),
  );
  return ranked.slice(0, limit);
}
