// The pipeline's agents: a splitter fans words out to workers, a gatherer collects their results.
export { Splitter } from "./splitter.js";
export type { SplitterProperties } from "./splitter.js";
export { Worker } from "./worker.js";
export { Gatherer } from "./gatherer.js";
export type { Job, Piece, PieceResult } from "./payloads.js";
