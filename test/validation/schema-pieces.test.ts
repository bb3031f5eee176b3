// The shared valibot pieces: JSON objects only, a missing key worded as its field's problem,
// every unknown key named, whole numbers within the safe integers, URLs as `URL` reads them.
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import {
  anyObject,
  defaultMessage,
  issuePath,
  strictObject,
  unknownKeyObject,
  urlString,
  wholeNumber,
} from "../../src/validation/schema-pieces.ts";

const messages = (schema: v.GenericSchema, value: unknown) =>
  (v.safeParse(schema, value, { message: defaultMessage }).issues ?? []).map((issue) => [
    issuePath(issue).join("."),
    issue.message,
  ]);

describe("schema pieces", () => {
  const shape = strictObject({ name: v.string(), tags: v.optional(v.array(v.string())) });

  it("objects and records refuse lists", () => {
    expect(messages(shape, [])).toEqual([["", "Invalid input: expected object, received array"]]);
    expect(messages(anyObject(), ["a"])).toEqual([
      ["", "Invalid input: expected record, received array"],
    ]);
    expect(messages(shape, { name: "n", tags: [] })).toEqual([]);
  });

  it("a missing key is its field's problem with undefined", () => {
    expect(messages(shape, {})).toEqual([
      ["name", "Invalid input: expected string, received undefined"],
    ]);
    const worded = strictObject({ id: v.string("field 'id' is missing") });
    expect(messages(worded, {})).toEqual([["id", "field 'id' is missing"]]);
  });

  it("names every unknown key, at the object's path", () => {
    const result = v.safeParse(shape, { name: "n", zz: 1, yy: 2 }, { message: defaultMessage });
    expect(result.issues).toHaveLength(1);
    const [issue] = result.issues ?? [];
    if (!issue) throw new Error("expected an issue");
    expect(issue.message).toBe('Unrecognized keys: "zz", "yy"');
    expect(issuePath(issue)).toEqual([]);
    expect(unknownKeyObject(issue)).toEqual({ name: "n", zz: 1, yy: 2 });
  });

  it("whole numbers: fractions and unsafe integers are refused", () => {
    expect(messages(wholeNumber, 3)).toEqual([]);
    expect(messages(wholeNumber, 1.5)).toEqual([
      ["", "Invalid input: expected int, received number"],
    ]);
    expect(messages(wholeNumber, 2 ** 53)).toEqual([
      ["", "Too big: expected int to be <=9007199254740991"],
    ]);
  });

  it("URLs: trimmed, tabs and line breaks dropped; http(s) ones need the slashes", () => {
    expect(v.parse(urlString("bad"), " http://x.example/a\tb ")).toBe("http://x.example/ab");
    expect(messages(urlString("bad"), "not a url")).toEqual([["", "bad"]]);
    expect(messages(urlString("bad", true), "http:x.example")).toEqual([["", "bad"]]);
    expect(messages(urlString("bad", true), "ftp://x.example")).toEqual([["", "bad"]]);
    expect(v.parse(urlString("bad", true), "HTTPS://X.example")).toBe("HTTPS://X.example");
  });

  it("words lengths, ranges and options as before", () => {
    expect(messages(v.pipe(v.string(), v.maxLength(2)), "abc")).toEqual([
      ["", "Too big: expected string to have <=2 characters"],
    ]);
    expect(messages(v.pipe(v.array(v.string()), v.minLength(1)), [])).toEqual([
      ["", "Too small: expected array to have >=1 items"],
    ]);
    expect(messages(v.picklist(["a", "b"]), "c")).toEqual([
      ["", 'Invalid option: expected one of "a"|"b"'],
    ]);
  });
});
