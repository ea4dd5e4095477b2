export { GatewayClient } from "./client.js";
export type {
  GatewayClientOptions,
  GatewayClientEvents,
  ConnectionState,
  ConnectionInfo,
  PublishOptions,
  PublishResult,
  SubscribeOptions,
  Payload,
  TokenRequest,
} from "./client.js";
export { Subscription } from "./subscription.js";
export type {
  RecoveryStatus,
  StreamPosition,
  RecoveryFailedEvent,
  RecoveryIncompleteEvent,
  GapEvent,
  EpochChangedEvent,
  DiscontinuityEvent,
  DiscontinuityKind,
  SubscriptionEvents,
} from "./subscription.js";
export { GatewayMessage } from "./message.js";
export { GatewayError, type ClientErrorName } from "./errors.js";
export { TypedEmitter, type Listener } from "./emitter.js";
export { backoffDelay, firstReconnectDelay, goAwayDelay, resolveReconnect, type ReconnectOptions, type ResolvedReconnect } from "./backoff.js";
export type { WebSocketConstructor, WebSocketLike } from "./websocket.js";
export { ErrorCode, ERROR_CATALOG, errorInfo, type ErrorInfo, ProtocolError } from "./protocol/errors.js";
export { Priority, type PriorityName, SUBPROTOCOL, PROTOCOL_VERSION } from "./protocol/constants.js";
export * as protocol from "./protocol/index.js";
