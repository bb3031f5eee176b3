// The `hybro-hub chat` loop: each input line is one turn, streamed back as it arrives, all in
// one conversation (context id). Works on a terminal and with piped stdin.
import { randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import {
  AgentNotFoundError,
  AuthError,
  type HybroGateway,
  renderParts,
  StreamedAnswer,
} from "../sdk/index.ts";

interface ChatIo {
  input: NodeJS.ReadableStream;
  /** Agent replies. */
  output: NodeJS.WritableStream;
  /** Errors and notes, so `output` holds only what the agent said. */
  errorOutput: NodeJS.WritableStream;
  /** A person at a terminal: show a prompt and the agent's name; Ctrl-C stops a reply. */
  interactive: boolean;
  /** Continue this conversation; a new one starts when absent. */
  contextId?: string | undefined;
  describeFailure: (error: unknown) => { message: string; exitCode: number };
}

const QUIT_COMMANDS = new Set(["/quit", "/exit", "/q"]);
/** Failures that no later line can fix: the chat ends with their exit code. */
const FATAL_EXIT_CODES = new Set([3, 4]);

/** Runs the loop until `/quit` or end of input; resolves with the exit code. */
export async function runChat(gateway: HybroGateway, agentId: string, io: ChatIo): Promise<number> {
  const { output, errorOutput, interactive } = io;
  const contextId = io.contextId ?? randomUUID();
  let waitingTaskId: string | undefined;
  let exitCode = 0;
  let name = "agent";

  // Fail fast on a wrong id or key; a key without `gateway:read` may still chat, so other errors pass.
  try {
    const card = await gateway.getCard(agentId);
    if (typeof card.agent_card["name"] === "string") name = card.agent_card["name"];
  } catch (error) {
    if (error instanceof AgentNotFoundError || error instanceof AuthError) {
      const failure = io.describeFailure(error);
      errorOutput.write(`error: ${failure.message}\n`);
      return failure.exitCode;
    }
  }

  const rl = createInterface({
    input: io.input,
    output: interactive ? output : undefined,
    terminal: interactive,
  });
  let turn: AbortController | undefined;
  rl.on("SIGINT", () => {
    // Ctrl-C stops the reply in progress (the relay cancels the turn); at the prompt it quits.
    if (turn) turn.abort();
    else rl.close();
  });
  const prompt = () => {
    if (interactive) rl.prompt();
  };
  if (interactive) {
    errorOutput.write(`Chatting with ${name} (${agentId}); /quit or Ctrl-D to leave.\n`);
    rl.setPrompt("you> ");
  }
  prompt();

  try {
    for await (const line of rl) {
      const text = line.trim();
      if (QUIT_COMMANDS.has(text)) break;
      if (text === "") {
        prompt();
        continue;
      }
      turn = new AbortController();
      let said = "";
      let atLineStart = true;
      const say = (chunk: string) => {
        if (chunk === "") return;
        if (interactive && said === "") output.write(`${name}> `);
        output.write(chunk);
        said += chunk;
        atLineStart = chunk.endsWith("\n");
      };
      // The answer as the room holds it: `append: false` replaces what was shown.
      const answer = new StreamedAnswer();
      try {
        const events = gateway.stream(agentId, text, {
          contextId,
          taskId: waitingTaskId,
          signal: turn.signal,
        });
        waitingTaskId = undefined;
        for await (const event of events) {
          const change = answer.apply(event);
          if (change && "append" in change) say(change.append);
          else if (change) {
            if (!atLineStart) output.write("\n");
            atLineStart = true;
            errorOutput.write("(the agent replaced its answer:)\n");
            said = "";
            say(change.restart);
          }
          switch (event.type) {
            case "task_interactive":
              if (!atLineStart) output.write("\n");
              atLineStart = true;
              say(renderParts(answer.question));
              waitingTaskId = event.data.task_id ?? undefined;
              break;
            case "agent_error":
              if (!atLineStart) output.write("\n");
              atLineStart = true;
              errorOutput.write(
                `error: the agent failed: ${event.data.error} (${event.data.error_type})\n`,
              );
              exitCode = 1;
              break;
            default:
              break;
          }
        }
      } catch (error) {
        if (!atLineStart) output.write("\n");
        atLineStart = true;
        if (turn.signal.aborted) {
          errorOutput.write("(reply stopped)\n");
        } else {
          const failure = io.describeFailure(error);
          errorOutput.write(`error: ${failure.message}\n`);
          exitCode = failure.exitCode;
          if (FATAL_EXIT_CODES.has(failure.exitCode)) return exitCode;
        }
      } finally {
        turn = undefined;
      }
      if (!atLineStart) output.write("\n");
      if (waitingTaskId && interactive)
        errorOutput.write("(the agent is waiting for your answer)\n");
      prompt();
    }
  } finally {
    rl.close();
  }
  // So the conversation can be picked up again with `--context`.
  if (interactive) errorOutput.write(`(context ${contextId})\n`);
  return exitCode;
}
