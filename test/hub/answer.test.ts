import { describe, expect, it } from "vitest";
import { answerText } from "../../src/hub/answer.ts";

const chunk = (artifactId: string, parts: unknown[], append: boolean) => ({
  type: "artifact_update",
  agent_message_id: "m1",
  data: { artifacts: [{ artifactId, parts }], append, last_chunk: false },
});
const text = (value: string) => ({ kind: "text", text: value });

describe("the answer a turn's events carry", () => {
  it("is what the room holds: append adds parts, a fresh chunk replaces its artifact", () => {
    expect(
      answerText([
        { type: "task_submitted", agent_message_id: "m1", data: {} },
        chunk("a", [text("Hel")], false),
        chunk("a", [text("lo")], true),
        chunk("b", [text("draft")], false),
        chunk("b", [text(" world")], false),
        { type: "processing_status", agent_message_id: "m1", data: { status: "completed" } },
      ]),
    ).toBe("Hello\n world");
  });

  it("shows files by name and data as JSON, in the order of the parts", () => {
    expect(
      answerText([
        chunk(
          "a",
          [
            text("see "),
            { kind: "file", file: { name: "report.pdf", mimeType: "application/pdf", uri: "u" } },
            { kind: "data", data: { total: 3 } },
          ],
          false,
        ),
      ]),
    ).toBe('see [file: report.pdf, application/pdf]{"total":3}');
  });

  it("is the question of a turn waiting for input, else none", () => {
    expect(
      answerText([
        {
          type: "task_interactive",
          agent_message_id: "m1",
          data: {
            state: "input-required",
            context_id: "c",
            status: { state: "input-required", message: { parts: [text("Which city?")] } },
          },
        },
      ]),
    ).toBe("Which city?");
    expect(
      answerText([
        { type: "processing_status", agent_message_id: "m1", data: { status: "failed" } },
      ]),
    ).toBeNull();
    expect(answerText([null, 3, { type: "agent_response" }])).toBeNull();
  });
});
