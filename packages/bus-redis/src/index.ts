// The public API of @guildhall/bus-redis.
export { RedisBus } from "./redis-bus.js";
export type { RedisBusOptions } from "./options.js";
export type {
  MalformedEntryWarning,
  ReaderFailedWarning,
  ReaderRecoveredWarning,
  RedisBusWarning,
  StreamResetWarning,
  TrimmedUnreadWarning,
} from "./warnings.js";
