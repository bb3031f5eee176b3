// Public surface of the Gateway SDK.
export {
  AccessDeniedError,
  AgentCommunicationError,
  AgentNotFoundError,
  AuthError,
  DEFAULT_RETRY_AFTER_S,
  GatewayConnectionError,
  GatewayError,
  type GatewayErrorDetail,
  type GatewayErrorInit,
  type GatewayErrorKind,
  gatewayErrorFromResponse,
  parseRetryAfterS,
  RateLimitError,
} from "./errors.ts";
export {
  type CallOptions,
  DEFAULT_GATEWAY_BASE_URL,
  DEFAULT_GATEWAY_CONNECT_TIMEOUT_MS,
  DEFAULT_GATEWAY_TIMEOUT_MS,
  type DiscoverOptions,
  GATEWAY_API_KEY_ENV,
  HybroGateway,
  type HybroGatewayOptions,
  type SendOptions,
  type SendResult,
} from "./gateway.ts";
export {
  buildUserMessage,
  type GatewayMessage,
  type GatewayPart,
  type GatewayTask,
  type GatewayTextPart,
  type MessageContext,
  type MessageDraft,
  type MessageInput,
  partsText,
  taskText,
} from "./message.ts";
export { type RateLimitInfo, rateLimitFromHeaders } from "./rate-limit.ts";
export {
  DEFAULT_MAX_RETRIES,
  DEFAULT_MAX_RETRY_WAIT_MS,
  type RetrySettings,
} from "./retry-policy.ts";
export {
  type GatewayStreamEvent,
  isTerminalStreamEvent,
  parseStreamEvent,
  type UnrecognizedStreamEvent,
} from "./stream-event.ts";
export {
  type AnswerChange,
  renderArtifacts,
  renderParts,
  renderTask,
  StreamedAnswer,
  textChange,
} from "./streamed-answer.ts";
