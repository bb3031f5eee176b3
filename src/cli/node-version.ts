// The Node.js this package needs, checked by the bin before it imports anything else (node:sqlite
// and friends fail on older Nodes with a stack trace instead of a sentence). No imports here: this
// module must load on any Node that can parse an ES module.

/** The oldest supported Node.js (also package.json's `engines`). */
export const MIN_NODE = { major: 22, minor: 22 } as const;

/** null when `version` ("22.22.0", "v20.20.2") is new enough, else the one-line reason. */
export function nodeVersionProblem(version: string, execPath: string): string | null {
  const [major = 0, minor = 0] = version.replace(/^v/, "").split(".").map(Number);
  if (major > MIN_NODE.major || (major === MIN_NODE.major && minor >= MIN_NODE.minor)) return null;
  return `hybro-hub needs Node.js ≥ ${MIN_NODE.major}.${MIN_NODE.minor}; you have ${version.replace(/^v?/, "v")} (${execPath}). Install Node.js 24 LTS (or ≥ ${MIN_NODE.major}.${MIN_NODE.minor}) and run it again.`;
}
