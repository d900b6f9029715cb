/**
 * What the rest of Ordeal uses of memory/ (see memory/README.md; docs/ARCHITECTURE.md for where it
 * sits): records that may leave the heap (`RecordStore`, from a `RecordSpace`), a fold of a long
 * journal in flat memory (`foldWithinBounds`), and V8's heap kept near the live set while a load
 * runs (`boundedLoad`).
 */
export type { RecordCodec, RecordStore } from './record-store.js';
export { openRecordSpace, type RecordSpace, type RecordSpaceOptions } from './record-space.js';
export { foldWithinBounds, type BoundedFold, type BoundedFoldOptions, type FoldPass } from './bounded-fold.js';
export type { IdSet } from './key-filter.js';
export { boundedLoad } from './heap.js';
