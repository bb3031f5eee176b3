// Pieces every valibot schema of the project shares, so that each parser checks JSON the way it
// always has: objects and records refuse arrays (valibot's take any non-null object), a missing
// key reads as its field given `undefined`, and a problem the schema words no message for gets
// the wording config.json errors and the development relay's 422s have always had. Building the
// schemas does no work beyond creating them.
import * as v from "valibot";

const isJsonObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

type Issue = v.BaseIssue<unknown>;

/** What a value is, in the words of the default messages. */
function receivedName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number" && Number.isNaN(value)) return "NaN";
  return typeof value;
}

const typeMessage = (expected: string, value: unknown) =>
  `Invalid input: expected ${expected}, received ${receivedName(value)}`;

const OBJECT_TYPES = { object: "object", loose_object: "object", strict_object: "object" };
const EXPECTED: Record<string, string> = { ...OBJECT_TYPES, record: "record" };

/** The default wording of an issue the schema gives no message of its own. */
export function defaultMessage(issue: Issue): string {
  const what = typeof issue.input === "string" ? "string" : "array";
  const unit = what === "string" ? "characters" : "items";
  switch (issue.type) {
    case "integer":
      return typeMessage("int", issue.input);
    case "min_length":
      return `Too small: expected ${what} to have >=${String(issue.requirement)} ${unit}`;
    case "max_length":
      return `Too big: expected ${what} to have <=${String(issue.requirement)} ${unit}`;
    case "min_value":
      return `Too small: expected number to be >=${String(issue.requirement)}`;
    case "max_value":
      return `Too big: expected number to be <=${String(issue.requirement)}`;
    case "regex":
      return `Invalid string: must match pattern ${String(issue.requirement)}`;
    case "picklist": // valibot's `("a" | "b")` as `"a"|"b"`
      return `Invalid option: expected one of ${(issue.expected ?? "").replace(/^\((.*)\)$/, "$1").replaceAll(" | ", "|")}`;
    case "union":
    case "check":
      return "Invalid input";
    default:
      return issue.kind === "schema"
        ? typeMessage(EXPECTED[issue.type] ?? issue.type, issue.input)
        : issue.message;
  }
}

/** The key path of an issue (`["agents", 0, "name"]`); an unknown key's path is its object's. */
export function issuePath(issue: Issue): Array<string | number> {
  const items = issue.path ?? [];
  const keys = (unknownKeyObject(issue) ? items.slice(0, -1) : items).map((item) => item.key);
  return keys.filter((k): k is string | number => typeof k === "string" || typeof k === "number");
}

/** The object of an unknown-key issue (a strict object names only its first unknown key). */
export function unknownKeyObject(issue: Issue): Record<string, unknown> | null {
  const last = issue.path?.at(-1);
  return issue.type === "strict_object" && issue.expected === "never" && last?.origin === "key"
    ? (last.input as Record<string, unknown>)
    : null;
}

/** Whether the issue is about a record key (a key the key schema refused). */
export function isKeyIssue(issue: Issue): boolean {
  // An object's key issues (unknown or missing keys) are the object's own.
  return issue.path?.at(-1)?.origin === "key" && !Object.hasOwn(OBJECT_TYPES, issue.type);
}

/** An object's own issues: a missing key is its field's problem with `undefined`. */
export function objectMessage(entries: v.ObjectEntries) {
  return (issue: Issue): string => {
    const item = issue.path?.at(-1);
    const object = unknownKeyObject(issue);
    if (object) {
      const keys = Object.keys(object)
        .filter((key) => !Object.hasOwn(entries, key))
        .map((key) => JSON.stringify(key));
      return `Unrecognized key${keys.length > 1 ? "s" : ""}: ${keys.join(", ")}`;
    }
    const field = typeof item?.key === "string" ? entries[item.key] : undefined;
    if (field === undefined) return defaultMessage(issue);
    return v.safeParse(field, undefined, { message: defaultMessage }).issues?.[0].message ?? "";
  };
}

/** Refuses anything but a JSON object (arrays included) before `schema` runs. */
export const onlyObject = <T>(expected: "object" | "record") =>
  v.custom<T>(isJsonObject, (issue) => typeMessage(expected, issue.input));

/** An object with exactly these keys. */
export const strictObject = <const E extends v.ObjectEntries>(entries: E) =>
  v.pipe(
    onlyObject<v.InferInput<v.StrictObjectSchema<E, undefined>>>("object"),
    v.strictObject(entries, objectMessage(entries)),
  );

/** An object with these keys, other keys kept. */
export const looseObject = <const E extends v.ObjectEntries>(entries: E) =>
  v.pipe(
    onlyObject<v.InferInput<v.LooseObjectSchema<E, undefined>>>("object"),
    v.looseObject(entries, objectMessage(entries)),
  );

/** An object with these keys, other keys dropped. */
export const object = <const E extends v.ObjectEntries>(entries: E) =>
  v.pipe(
    onlyObject<v.InferInput<v.ObjectSchema<E, undefined>>>("object"),
    v.object(entries, objectMessage(entries)),
  );

/** A JSON object of string keys to values of one schema. */
export const record = <K extends v.GenericSchema<string, string>, T extends v.GenericSchema>(
  key: K,
  value: T,
) =>
  v.pipe(onlyObject<v.InferInput<v.RecordSchema<K, T, undefined>>>("record"), v.record(key, value));

/** Any JSON object. */
export const anyObject = () => record(v.string(), v.unknown());

/**
 * A URL string (parsed as `URL` does, after trimming); `httpOnly`: only `http://` and `https://`
 * ones. The value becomes the trimmed text without tabs and line breaks (what `URL` reads).
 */
export const urlString = (message: string, httpOnly = false) =>
  v.pipe(
    v.string(),
    v.check((text) => {
      const trimmed = text.trim();
      if (!httpOnly) return URL.canParse(trimmed);
      // "http:example.com" parses, but is not what anyone means.
      return /^https?:\/\//i.test(trimmed) && URL.canParse(trimmed);
    }, message),
    v.transform((text) => text.trim().replace(/[\t\n\r]/g, "")),
  );

/** Whole numbers stay within JavaScript's safe integers (beyond them, arithmetic loses units). */
export const notAboveSafeInteger = v.check<number, string>(
  (n) => n <= Number.MAX_SAFE_INTEGER,
  "Too big: expected int to be <=9007199254740991",
);
export const notBelowSafeInteger = v.check<number, string>(
  (n) => n >= Number.MIN_SAFE_INTEGER,
  "Too small: expected int to be >=-9007199254740991",
);
export const wholeNumber = v.pipe(
  v.number(),
  v.integer(),
  notAboveSafeInteger,
  notBelowSafeInteger,
);
