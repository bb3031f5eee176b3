// What a test needs from a gateway `message/send` answer: status, task state and its text.

export interface GatewayReplySummary {
  status: number;
  state: string | undefined;
  text: string;
}

export async function readGatewayReply(response: {
  status: number;
  json(): Promise<unknown>;
}): Promise<GatewayReplySummary> {
  const body = (await response.json()) as {
    result?: { status: { state: string; message?: { parts?: Array<{ text?: string }> } } };
  };
  const parts = body.result?.status.message?.parts ?? [];
  return {
    status: response.status,
    state: body.result?.status.state,
    text: parts.map((p) => p.text ?? "").join(""),
  };
}
