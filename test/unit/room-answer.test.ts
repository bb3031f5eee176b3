// How hybro.ai builds a room's answer from published events (wire/room-answer.ts), checked
// against the rules of its code (hub_publish.py, response_handler.py, message_store.py).
import { describe, expect, it } from "vitest";
import type { PublishedEvent } from "../../src/wire/relay.ts";
import { RoomAnswer, UNSUPPORTED_INTERACTION } from "../../src/wire/room-answer.ts";

const AMID = "amsg_room";
const ev = (type: PublishedEvent["type"], data: Record<string, unknown>): PublishedEvent =>
  ({ type, agent_message_id: AMID, data: { task_id: "t", ...data } }) as PublishedEvent;
const text = (t: string) => ({ kind: "text", text: t });
const update = (artifactId: string, parts: unknown[], append = false, name?: string) =>
  ev("artifact_update", {
    artifacts: [{ artifactId, ...(name ? { name } : {}), parts }],
    append,
    last_chunk: false,
  });
const completed = ev("processing_status", { status: "completed", user_message_id: null });

function room(...events: PublishedEvent[]): RoomAnswer {
  const answer = new RoomAnswer(AMID);
  for (const event of events) answer.apply(event);
  return answer;
}

describe("RoomAnswer", () => {
  it("joins by artifact id: append adds parts, a fresh update replaces, a name stays", () => {
    const answer = room(
      update("a", [text("one ")], false, "a.txt"),
      update("a", [text("two")], true, "ignored-on-append"),
      update("b", [text("old")], false),
      update("b", [text("new")], false, "b.txt"),
      completed,
    );
    expect(answer.artifacts).toEqual([
      { artifactId: "a", name: "a.txt", parts: [text("one "), text("two")] },
      { artifactId: "b", name: "b.txt", parts: [text("new")] },
    ]);
    expect(answer.text).toBe("one twonew");
    expect(answer.state).toBe("completed");
  });

  it("the hub's end (artifacts named, no parts, append) projects what was stored and adds nothing", () => {
    const answer = room(
      update("a", [text("body\n")]),
      ev("agent_response", {
        content: "",
        agent_id: "x",
        artifacts: [{ artifactId: "a", parts: [] }],
        append: true,
      }),
      completed,
    );
    expect(answer.artifacts).toEqual([{ artifactId: "a", parts: [text("body\n")] }]);
    expect(answer.text).toBe("body\n");
  });

  it("an older hub's `content` after streamed chunks becomes a second copy (why the hub sends none)", () => {
    const answer = room(
      update("a", [text("hello")]),
      ev("agent_response", { content: "hello", agent_id: "x" }),
      completed,
    );
    expect(answer.text).toBe("hellohello");
    expect(answer.artifacts.map((a) => a.artifactId)).toEqual(["a", `${AMID}-response`]);
  });

  it("a response's parts become the artifact <id>-response, without its `content`", () => {
    const answer = room(
      ev("agent_response", {
        content: "lost",
        agent_id: "x",
        parts: [{ kind: "data", data: { a: 1 } }, { text: "kept" }],
      }),
    );
    expect(answer.artifacts).toEqual([
      {
        artifactId: `${AMID}-response`,
        name: "response",
        parts: [{ kind: "data", data: { a: 1 } }, text("kept")],
      },
    ]);
    expect(answer.text).toBe("kept");
  });

  it("appending the same parts again at the end of a response adds nothing (tail check)", () => {
    const answer = room(
      update("a", [text("x"), text("y")]),
      ev("agent_response", {
        content: "",
        agent_id: "x",
        artifacts: [{ artifactId: "a", parts: [text("y")] }],
        append: true,
      }),
    );
    expect(answer.text).toBe("xy");
  });

  it("the first end wins; later events change nothing", () => {
    const answer = room(
      update("a", [text("answer")]),
      completed,
      update("a", [text("late")], true),
      ev("agent_error", { error: "x", error_type: "X", state: "failed" }),
    );
    expect(answer).toMatchObject({ state: "completed", text: "answer" });
  });

  it.each([
    ["failed", "Task failed"],
    ["canceled", "Task was canceled"],
    ["rejected", "Task was rejected by the agent"],
  ])("agent_error state %s is its own state, with the room's words", (state, words) => {
    const answer = room(ev("agent_error", { error: "the hub's reason", error_type: "E", state }));
    expect([answer.state, answer.text, answer.publicError, answer.error]).toEqual([
      state,
      words,
      words,
      "the hub's reason",
    ]);
  });

  it("agent_error without a state is a failure (the relay's default)", () => {
    expect(room(ev("agent_error", { error: "e", error_type: "E" })).state).toBe("failed");
  });

  it("a question keeps all its parts; without a context id it is an unsupported interaction", () => {
    const status = {
      state: "input-required",
      message: {
        kind: "message",
        role: "agent",
        messageId: "q",
        parts: [text("Run it?"), { kind: "data", data: { tool: "rm" } }],
      },
    };
    const asked = room(
      ev("task_interactive", { state: "input-required", context_id: "c", status }),
    );
    expect(asked.state).toBe("input-required");
    expect(asked.question).toEqual(status.message.parts);
    const lost = room(ev("task_interactive", { state: "input-required", status }));
    expect([lost.state, lost.text]).toEqual(["failed", UNSUPPORTED_INTERACTION]);
  });
});
