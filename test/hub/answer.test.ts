import { describe, expect, it } from "vitest";
import { answerText } from "../../src/hub/answer.ts";

const chunk = (artifactId: string, text: string, append: boolean) => ({
  type: "artifact_update",
  data: { text, append, raw: { artifact: { artifactId } } },
});

describe("the answer a turn's events carry", () => {
  it("is the streamed text: append adds, a fresh chunk replaces its artifact", () => {
    expect(
      answerText([
        { type: "task_submitted", data: {} },
        chunk("a", "Hel", false),
        chunk("a", "lo", true),
        chunk("b", "draft", false),
        chunk("b", " world", false),
        { type: "processing_status", data: { status: "completed" } },
      ]),
    ).toBe("Hello world");
  });

  it("is agent_response's content when there is one, else the question, else none", () => {
    expect(
      answerText([
        chunk("a", "part", false),
        { type: "agent_response", data: { content: "whole" } },
      ]),
    ).toBe("whole");
    expect(answerText([{ type: "task_interactive", data: { status_text: "Which city?" } }])).toBe(
      "Which city?",
    );
    expect(answerText([{ type: "processing_status", data: { status: "failed" } }])).toBeNull();
    expect(answerText([null, 3, { type: "agent_response" }])).toBeNull();
  });
});
