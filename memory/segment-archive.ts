/**
 * An archive for records that are written once, looked up rarely and walked once at the end — a
 * `RecordSpace` opened with `spill: 'appends'` (the scorer's fold): each `putMany` (one sweep of
 * one kind) appends one segment to a temporary file, so archiving a record costs its encoding and a
 * share of one write, not a database row each (a fold archives several records per order).
 *
 * Finding a key: the kind's Bloom filter says whether it was ever archived; each segment has a
 * small filter of its own, checked newest first, and the few segments read lately stay parsed. A
 * record taken back (`take`) is marked stale in its segment, so a walk or a later lookup skips that
 * copy. The file is deleted on close and at process exit.
 */
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { filterBits, GrowingKeyFilter, hashesOf, KeyFilter } from './key-filter.js';
import { archiveClosed, archiveDirectory, type RecordArchive } from './record-archive.js';

interface Segment {
  /** Its place in the kind's list (stale marks name it). */
  index: number;
  offset: number;
  bytes: number;
  filter: KeyFilter;
}

interface SegmentKind {
  /** Keys ever archived in this kind. */
  filter: GrowingKeyFilter;
  segments: Segment[];
  /** `${segment index}:${key}` of copies taken back. */
  stale: Set<string>;
  live: number;
}

/** Parsed segments kept for lookups (revivals cluster in time, a buyer's orders share a sweep). */
const PARSED_SEGMENTS = 8;


export class SegmentArchive implements RecordArchive {
  /** Where its file is (deleted on close). */
  readonly directory: string;
  private readonly fd: number;
  private end = 0;
  private readonly kinds = new Map<string, SegmentKind>();
  /** Parsed segments, least recently used first. */
  private readonly parsed = new Map<Segment, Map<string, string>>();
  private closed = false;

  constructor() {
    this.directory = archiveDirectory(this, 'ordeal-fold-');
    this.fd = openSync(join(this.directory, 'segments'), 'w+');
  }

  get isClosed(): boolean {
    return this.closed;
  }

  putMany(kind: string, entries: ReadonlyArray<readonly [string, string]>): void {
    if (entries.length === 0 || this.closed) return;
    const state = this.kind(kind);
    const filter = new KeyFilter(filterBits(entries.length), 6);
    const parts: string[] = [];
    for (const [key, value] of entries) {
      const hashed = hashesOf(key);
      // An earlier copy of the key (archived, taken back, archived again) is stale once this one is written.
      if (state.filter.mightHave(hashed)) this.markStale(state, key, hashed);
      state.filter.add(hashed);
      filter.add(hashed);
      parts.push(`${key.length}:${key}${value.length}:${value}`);
    }
    const buffer = Buffer.from(parts.join(''), 'utf8');
    writeSync(this.fd, buffer, 0, buffer.length, this.end);
    state.segments.push({ index: state.segments.length, offset: this.end, bytes: buffer.length, filter });
    this.end += buffer.length;
    state.live += entries.length;
  }

  get(kind: string, key: string): string | undefined {
    return this.find(kind, key)?.value;
  }

  has(kind: string, key: string): boolean {
    return this.find(kind, key) !== undefined;
  }

  take(kind: string, key: string): string | undefined {
    const found = this.find(kind, key);
    if (found === undefined) return undefined;
    const state = this.kind(kind);
    state.stale.add(`${found.segment.index}:${key}`);
    state.live--;
    return found.value;
  }

  count(kind: string): number {
    return this.closed ? 0 : this.kind(kind).live;
  }

  *walk(kind: string): Generator<readonly [string, string]> {
    const state = this.kind(kind);
    for (const segment of state.segments) {
      if (this.closed) return;
      // Read apart from the lookup cache: a walk would only evict what lookups need.
      const records = this.parsed.get(segment) ?? this.read(segment);
      for (const [key, value] of records) if (!state.stale.has(`${segment.index}:${key}`)) yield [key, value];
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    archiveClosed(this);
    this.kinds.clear();
    this.parsed.clear();
    closeSync(this.fd);
    rmSync(this.directory, { recursive: true, force: true });
  }

  private kind(kind: string): SegmentKind {
    let state = this.kinds.get(kind);
    if (!state) {
      state = { filter: new GrowingKeyFilter(), segments: [], stale: new Set(), live: 0 };
      this.kinds.set(kind, state);
    }
    return state;
  }

  /** The live copy of a key: in the newest segment holding it that was not taken back. */
  private find(kind: string, key: string): { segment: Segment; value: string } | undefined {
    if (this.closed) return undefined;
    const state = this.kinds.get(kind);
    const hashed = hashesOf(key);
    if (!state || !state.filter.mightHave(hashed)) return undefined;
    // Segments already parsed first: a walk over buyers finds their orders there. Any copy not
    // taken back is the live one (archiving a key again marks its older copy stale).
    for (const [segment, records] of this.parsed) {
      if (state.segments[segment.index] !== segment) continue;
      const value = records.get(key);
      if (value !== undefined && !state.stale.has(`${segment.index}:${key}`)) return { segment, value };
    }
    for (let index = state.segments.length - 1; index >= 0; index--) {
      const segment = state.segments[index]!;
      if (this.parsed.has(segment) || !segment.filter.mightHave(hashed)) continue;
      const value = this.records(segment).get(key);
      if (value === undefined) continue;
      // A stale copy means the record left this segment; an older copy is staler still.
      return state.stale.has(`${segment.index}:${key}`) ? undefined : { segment, value };
    }
    return undefined;
  }

  private markStale(state: SegmentKind, key: string, hashed: readonly [number, number]): void {
    for (let index = state.segments.length - 1; index >= 0; index--) {
      const segment = state.segments[index]!;
      if (!segment.filter.mightHave(hashed) || !this.records(segment).has(key)) continue;
      const mark = `${segment.index}:${key}`;
      if (!state.stale.has(mark)) {
        state.stale.add(mark);
        state.live--;
      }
      return;
    }
  }

  /** A segment's records, parsed once and kept among the latest few. */
  private records(segment: Segment): Map<string, string> {
    const known = this.parsed.get(segment);
    if (known) {
      this.parsed.delete(segment);
      this.parsed.set(segment, known);
      return known;
    }
    const records = this.read(segment);
    this.parsed.set(segment, records);
    if (this.parsed.size > PARSED_SEGMENTS) this.parsed.delete(this.parsed.keys().next().value as Segment);
    return records;
  }

  private read(segment: Segment): Map<string, string> {
    const buffer = Buffer.allocUnsafe(segment.bytes);
    let done = 0;
    while (done < segment.bytes) done += readSync(this.fd, buffer, done, segment.bytes - done, segment.offset + done);
    const text = buffer.toString('utf8');
    const records = new Map<string, string>();
    let at = 0;
    while (at < text.length) {
      const keyColon = text.indexOf(':', at);
      const keyEnd = keyColon + 1 + Number(text.slice(at, keyColon));
      const key = text.slice(keyColon + 1, keyEnd);
      const valueColon = text.indexOf(':', keyEnd);
      const valueEnd = valueColon + 1 + Number(text.slice(keyEnd, valueColon));
      records.set(key, text.slice(valueColon + 1, valueEnd));
      at = valueEnd;
    }
    return records;
  }
}
