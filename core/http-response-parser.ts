/**
 * A strict HTTP/1.1 response parser for the harness's own connections (`core/http-connection.ts`).
 *
 * Written here rather than taken from http-parser-js (the pure-JS parser autocannon uses): that one
 * accepts `content-length: 0x5` or `2.5`, and a chunk size of `-5` sends it round a loop that never
 * ends. A shop's answer is a stranger's bytes (DESIGN.md: hostile input is normal input), so what
 * is not plainly HTTP/1.x is refused here: one framing per answer (RFC 9112 §6), sizes in digits, a
 * bounded head, no folded header lines. Only the headers that frame the answer or keep the
 * connection are read; the others are skipped, never stored.
 */

/** What the parser reports, in order, for each final answer: a head, body pieces, the end. */
export interface ResponseEvents {
  /** The final head (1xx heads are skipped). */
  onResponseHead(status: number, keepAlive: boolean, keepAliveMs: number | undefined): void;
  /** A piece of the body: a view valid only during the call. `false`: stop parsing this connection. */
  onResponseBody(piece: Buffer): boolean;
  onResponseComplete(): void;
}

/** The answer is not HTTP/1.x as this parser reads it; the connection cannot be used further. */
export class MalformedAnswer extends Error {}

/** Longest head (status line and headers), and longest chunk-size or trailer section, bytes. */
export const MAX_HEAD_BYTES = 80 * 1024;
/** Longest chunk-size line, bytes (hex digits, then an extension nobody reads). */
const MAX_CHUNK_LINE_BYTES = 1024;
/** Informational (1xx) heads allowed before the final one: an endless stream of them is no answer. */
const MAX_INFORMATIONAL_HEADS = 8;

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataCr,
  ChunkDataLf,
  Trailers,
  UntilClose,
  Stopped,
}

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;
const HEADER_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/;
const DIGITS = /^\d{1,15}$/;
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,\s])timeout=(\d{1,9})/i;

export class ResponseParser {
  private state = State.Head;
  /** Head or line bytes that arrived in an earlier read (latin1), until the line or head ends. */
  private pending = '';
  /** Body bytes still to come (a sized body or the current chunk). */
  private remaining = 0;
  /** Trailer bytes read, and informational heads read, for the answer in hand: both bounded. */
  private trailerBytes = 0;
  private informationalHeads = 0;

  constructor(private readonly events: ResponseEvents) {}

  /** Reads `buffer[start, end)`. Throws `MalformedAnswer` at the first byte that is not HTTP. */
  execute(buffer: Buffer, start: number, end: number): void {
    let at = start;
    while (at < end) {
      switch (this.state) {
        case State.Head:
          at = this.readHead(buffer, at, end);
          break;
        // A sized body and a chunk's data: `remaining` bytes, then the answer ends or the chunk's CRLF follows.
        case State.Length:
        case State.ChunkData: {
          const take = Math.min(this.remaining, end - at);
          this.remaining -= take;
          if (!this.body(buffer, at, at + take)) return;
          at += take;
          if (this.remaining > 0) break;
          if (this.state === State.Length) this.complete();
          else this.state = State.ChunkDataCr;
          break;
        }
        case State.ChunkSize: {
          const line = this.readLine(buffer, at, end, MAX_CHUNK_LINE_BYTES, 'chunk size');
          if (line === undefined) return;
          at = line.next;
          const match = CHUNK_SIZE.exec(line.text);
          if (match === null) throw new MalformedAnswer(`invalid chunk size ${JSON.stringify(line.text.slice(0, 40))}`);
          this.remaining = Number.parseInt(match[1]!, 16);
          this.state = this.remaining === 0 ? State.Trailers : State.ChunkData;
          break;
        }
        // A chunk's data ends with CRLF, which may arrive a byte at a time.
        case State.ChunkDataCr:
          if (buffer[at++] !== CR) throw new MalformedAnswer('chunk longer than its size');
          this.state = State.ChunkDataLf;
          break;
        case State.ChunkDataLf:
          if (buffer[at++] !== LF) throw new MalformedAnswer('chunk longer than its size');
          this.state = State.ChunkSize;
          break;
        case State.Trailers: {
          const line = this.readLine(buffer, at, end, MAX_HEAD_BYTES, 'trailer');
          if (line === undefined) return;
          this.trailerBytes += line.next - at;
          if (this.trailerBytes > MAX_HEAD_BYTES) throw new MalformedAnswer(`trailers larger than ${MAX_HEAD_BYTES} bytes`);
          at = line.next;
          // Trailer fields are read past, not kept; the empty line ends the answer.
          if (line.text === '') this.complete();
          break;
        }
        case State.UntilClose:
          if (!this.body(buffer, at, end)) return;
          at = end;
          break;
        case State.Stopped:
          return;
      }
    }
  }

  /**
   * The connection closed. An answer framed by the close ends here (true); one cut short, or a
   * head begun and not ended, is reported by the caller (false).
   */
  finish(): boolean {
    if (this.state !== State.UntilClose) return false;
    this.complete();
    return true;
  }

  /** No more events, whatever arrives (the caller is dropping the connection). */
  stop(): void {
    this.state = State.Stopped;
    this.pending = '';
  }

  private body(buffer: Buffer, from: number, to: number): boolean {
    if (from === to || this.events.onResponseBody(buffer.subarray(from, to))) return true;
    this.stop();
    return false;
  }

  private complete(): void {
    this.state = State.Head;
    this.trailerBytes = 0;
    this.informationalHeads = 0;
    this.events.onResponseComplete();
  }

  /** Gathers a head; once whole, parses it and picks the body's framing. Returns where reading goes on. */
  private readHead(buffer: Buffer, at: number, end: number): number {
    // The end of the head may straddle two reads: look from up to 3 bytes back into what was kept.
    const carried = Math.min(this.pending.length, 3);
    const tail = carried === 0 ? '' : this.pending.slice(-carried);
    const found = findHeadEnd(buffer, at, end, tail);
    if (found < 0) {
      if (this.pending.length + (end - at) > MAX_HEAD_BYTES) throw new MalformedAnswer(`answer head larger than ${MAX_HEAD_BYTES} bytes`);
      this.pending += buffer.toString('latin1', at, end);
      return end;
    }
    const head = this.pending + buffer.toString('latin1', at, found);
    this.pending = '';
    if (head.length > MAX_HEAD_BYTES) throw new MalformedAnswer(`answer head larger than ${MAX_HEAD_BYTES} bytes`);
    this.parseHead(head);
    return found;
  }

  private parseHead(head: string): void {
    // `head` ends with the blank line's CRLF CRLF.
    const lines = head.slice(0, -4).split('\r\n');
    const status = STATUS_LINE.exec(lines[0]!);
    if (status === null) throw new MalformedAnswer(`not an HTTP/1.x status line: ${JSON.stringify(lines[0]!.slice(0, 60))}`);
    const code = Number(status[2]);
    let keepAlive = status[1] === '1';
    let keepAliveMs: number | undefined;
    let length: number | undefined;
    let chunked = false;
    let transferCoded = false;
    for (let index = 1; index < lines.length; index++) {
      const line = lines[index]!;
      const match = HEADER_LINE.exec(line);
      if (match === null) throw new MalformedAnswer(`not a header line: ${JSON.stringify(line.slice(0, 60))}`);
      const name = match[1]!;
      // Only these four matter; their lengths tell them apart before any lower-casing.
      if (name.length === 14 && name.toLowerCase() === 'content-length') {
        for (const part of match[2]!.split(',')) {
          const value = part.trim();
          if (!DIGITS.test(value)) throw new MalformedAnswer(`invalid content-length ${JSON.stringify(match[2]!.slice(0, 40))}`);
          if (length !== undefined && length !== Number(value)) throw new MalformedAnswer('two different content-lengths');
          length = Number(value);
        }
      } else if (name.length === 17 && name.toLowerCase() === 'transfer-encoding') {
        transferCoded = true;
        const codings = match[2]!.toLowerCase().split(',');
        chunked = codings[codings.length - 1]!.trim() === 'chunked';
      } else if (name.length === 10 && name.toLowerCase() === 'connection') {
        const tokens = match[2]!.toLowerCase();
        if (/(?:^|,)\s*close\s*(?:,|$)/.test(tokens)) keepAlive = false;
        else if (/(?:^|,)\s*keep-alive\s*(?:,|$)/.test(tokens)) keepAlive = keepAlive || status[1] === '0';
      } else if (name.length === 10 && name.toLowerCase() === 'keep-alive') {
        const timeout = KEEP_ALIVE_TIMEOUT.exec(match[2]!);
        if (timeout !== null) keepAliveMs = Number(timeout[1]) * 1000;
      }
    }
    if (code < 200) {
      if (code === 101) throw new MalformedAnswer('the server switched protocols unasked');
      // An informational head (103 Early Hints…): the final one follows.
      if (++this.informationalHeads > MAX_INFORMATIONAL_HEADS) throw new MalformedAnswer(`more than ${MAX_INFORMATIONAL_HEADS} informational heads`);
      return;
    }
    // A transfer coding that is not chunked last, or both framings, leaves the close as the only end (RFC 9112 §6.3).
    if (transferCoded && (!chunked || length !== undefined)) keepAlive = false;
    this.events.onResponseHead(code, keepAlive, keepAliveMs);
    if (this.state === State.Stopped) return;
    if (code === 204 || code === 304) this.complete();
    else if (transferCoded) this.state = chunked ? State.ChunkSize : State.UntilClose;
    else if (length === undefined) this.state = State.UntilClose;
    else if (length === 0) this.complete();
    else {
      this.remaining = length;
      this.state = State.Length;
    }
  }

  /**
   * One CRLF-ended line, perhaps begun in an earlier read, of at most `max` bytes: its text and
   * where reading goes on, or undefined when its end has not arrived (kept meanwhile).
   */
  private readLine(buffer: Buffer, at: number, end: number, max: number, what: string): { text: string; next: number } | undefined {
    let index = at;
    while (index < end && buffer[index] !== LF) index++;
    if (index === end) {
      if (this.pending.length + (end - at) > max + 1) throw new MalformedAnswer(`${what} line longer than ${max} bytes`);
      this.pending += buffer.toString('latin1', at, end);
      return undefined;
    }
    const raw = this.pending + buffer.toString('latin1', at, index);
    this.pending = '';
    if (raw.length === 0 || raw.charCodeAt(raw.length - 1) !== CR) throw new MalformedAnswer(`${what} line not ended by CRLF`);
    if (raw.length - 1 > max) throw new MalformedAnswer(`${what} line longer than ${max} bytes`);
    return { text: raw.slice(0, -1), next: index + 1 };
  }
}

/**
 * Where the head ends in `buffer[at, end)`: the index just past its CRLF CRLF, or -1. `tail` is the
 * last bytes of the head kept from earlier reads (up to 3), for an end that straddles reads.
 */
function findHeadEnd(buffer: Buffer, at: number, end: number, tail: string): number {
  // Straddling: the kept tail plus this read's first bytes.
  for (let back = tail.length; back > 0; back--) {
    if (end - at < 4 - back) continue;
    let matches = true;
    for (let index = 0; index < 4; index++) {
      const code = index < back ? tail.charCodeAt(tail.length - back + index) : buffer[at + index - back]!;
      if (code !== (index % 2 === 0 ? CR : LF)) {
        matches = false;
        break;
      }
    }
    if (matches) return at + 4 - back;
  }
  // The buffer may hold stale bytes past `end` (a shared read buffer): a match there is no match.
  const index = buffer.indexOf(HEAD_END, at);
  return index >= 0 && index + 4 <= end ? index + 4 : -1;
}
