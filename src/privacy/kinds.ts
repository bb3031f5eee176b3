// What the privacy guard can find and what it may do about it. A kind names a family of
// detectors; a policy gives each kind one action. Custom rules (keywords and patterns the user
// writes) are their own kind, each rule with its own action.

/** What happens to a match: nothing, a record, a placeholder instead of it, or the turn ends. */
export const ACTIONS = ["off", "log", "redact", "block"] as const;
export type Action = (typeof ACTIONS)[number];

/** Secrets: credentials that must not leave (default `redact`). */
const SECRET_KINDS = ["api_key", "jwt", "private_key", "password"] as const;
/** Personal data about people (default `log`). */
export const PERSONAL_KINDS = ["email", "phone", "card", "iban", "ssn"] as const;

type SecretKind = (typeof SECRET_KINDS)[number];
type PersonalKind = (typeof PERSONAL_KINDS)[number];
export type BuiltinKind = SecretKind | PersonalKind;
export type Kind = BuiltinKind | "custom";

export const BUILTIN_KINDS: readonly BuiltinKind[] = [...SECRET_KINDS, ...PERSONAL_KINDS];

/** A policy may set a whole group at once; a kind named on its own wins over its group. */
export const GROUPS = { secrets: SECRET_KINDS, personal: PERSONAL_KINDS } as const;
export type Group = keyof typeof GROUPS;

export const DEFAULT_ACTIONS: Readonly<Record<BuiltinKind, Action>> = {
  api_key: "redact",
  jwt: "redact",
  private_key: "redact",
  password: "redact",
  email: "log",
  phone: "log",
  card: "log",
  iban: "log",
  ssn: "log",
};
/** Custom rules log unless they say otherwise. */
export const DEFAULT_CUSTOM_ACTION: Action = "log";

const RANK: Readonly<Record<Action, number>> = { off: 0, log: 1, redact: 2, block: 3 };

/** How strongly an action changes what leaves: off < log < redact < block. */
export function actionRank(action: Action): number {
  return RANK[action];
}

/** The stronger of two actions. */
export function strongerAction(a: Action, b: Action): Action {
  return RANK[a] >= RANK[b] ? a : b;
}

/** True for actions that change the published text (so a stream must hold back partial matches). */
export function changesText(action: Action): boolean {
  return action === "redact" || action === "block";
}
