export * from "./constants.js";
export * from "./errors.js";
export type * from "./frames.js";
export * from "./reader.js";
export * from "./writer.js";
export * from "./topics.js";
export { encodeUtf8, decodeUtf8, isValidUtf8 } from "./utf8.js";
