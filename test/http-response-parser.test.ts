/**
 * The harness's strict HTTP/1.1 response parser (core/http-response-parser.ts), fed bytes directly:
 * every framing split at every byte, and the answers a hostile shop may send, each refused in
 * bounded time.
 */
import { describe, expect, it } from 'vitest';
import { MalformedAnswer, ResponseParser, type ResponseEvents } from '../core/http-response-parser.js';

interface Parsed {
  heads: Array<{ status: number; keepAlive: boolean; keepAliveMs: number | undefined }>;
  bodies: string[];
  completed: number;
  /** Set by `finish()`: an answer framed by the close. */
  closedComplete?: boolean;
}

/** Parses `text` fed in the pieces `cuts` says (offsets), then optionally the close. */
function parse(text: string | Buffer, cuts: number[] = [], close = false): Parsed {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const parsed: Parsed = { heads: [], bodies: [''], completed: 0 };
  let body: Buffer[] = [];
  const events: ResponseEvents = {
    onResponseHead: (status, keepAlive, keepAliveMs) => parsed.heads.push({ status, keepAlive, keepAliveMs }),
    onResponseBody: (piece) => {
      body.push(Buffer.from(piece));
      return true;
    },
    onResponseComplete: () => {
      parsed.bodies[parsed.completed] = Buffer.concat(body).toString('utf8');
      parsed.completed++;
      body = [];
    },
  };
  const parser = new ResponseParser(events);
  const points = [0, ...cuts.filter((cut) => cut > 0 && cut < bytes.length), bytes.length];
  for (let index = 0; index + 1 < points.length; index++) {
    // Each piece in a larger buffer with stale bytes around it, as the shared read buffer has.
    const piece = bytes.subarray(points[index], points[index + 1]);
    const buffer = Buffer.concat([Buffer.from('\r\n\r\nSTALE'), piece, Buffer.from('\r\n\r\nSTALE')]);
    parser.execute(buffer, 9, 9 + piece.length);
  }
  if (close) parsed.closedComplete = parser.finish();
  return parsed;
}

function refusal(text: string, close = false): string {
  try {
    parse(text, [], close);
  } catch (error) {
    expect(error).toBeInstanceOf(MalformedAnswer);
    return (error as Error).message;
  }
  throw new Error('accepted');
}

const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n9\r\n{"a":"张\r\n5;ext=1\r\n三"}\r\n0\r\nx-trailer: 1\r\n\r\n';
const SIZED = 'HTTP/1.1 201 Created\r\ncontent-length: 10\r\n\r\n{"b":"Ω"}';

describe('ResponseParser', () => {
  it('reads a chunked and a sized answer on one connection, whatever the reads cut, at every byte', () => {
    const both = CHUNKED + SIZED;
    const length = Buffer.byteLength(both);
    for (let cut = 0; cut <= length; cut++) {
      const parsed = parse(both, [cut]);
      expect(parsed.heads).toEqual([
        { status: 200, keepAlive: true, keepAliveMs: 5000 },
        { status: 201, keepAlive: true, keepAliveMs: undefined },
      ]);
      expect(parsed.bodies).toEqual(['{"a":"张三"}', '{"b":"Ω"}']);
    }
    // A byte at a time.
    expect(parse(both, Array.from({ length }, (_, index) => index)).bodies).toEqual(['{"a":"张三"}', '{"b":"Ω"}']);
  });

  it('frames by the close when nothing else frames the answer, and says so only then', () => {
    const untilClose = parse('HTTP/1.1 200 OK\r\n\r\n{"c":1}', [], true);
    expect(untilClose).toMatchObject({ heads: [{ status: 200, keepAlive: true }], bodies: ['{"c":1}'], completed: 1, closedComplete: true });
    // A transfer coding other than chunked: read to the close, and the connection is not kept.
    expect(parse('HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\n\r\nxyz', [], true)).toMatchObject({ heads: [{ keepAlive: false }], bodies: ['xyz'], closedComplete: true });
    // A sized answer cut short is not complete.
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{"c"', [], true)).toMatchObject({ completed: 0, closedComplete: false });
  });

  it('keeps the connection as the version and Connection header say', () => {
    expect(parse('HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n').heads[0]?.keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n').heads[0]?.keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n').heads[0]?.keepAlive).toBe(true);
    // Both framings: chunked wins, and the connection is not reused (RFC 9112 §6.3).
    const both = parse('HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n');
    expect(both).toMatchObject({ heads: [{ keepAlive: false }], bodies: ['ok'] });
  });

  it('reads no body after 204, 304 and informational heads', () => {
    expect(parse('HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n')).toMatchObject({
      heads: [{ status: 204 }, { status: 304 }],
      completed: 2,
    });
  });

  it('refuses sizes that are not plain digits, and framings that disagree', () => {
    expect(refusal('HTTP/1.1 200 OK\r\ncontent-length: -5\r\n\r\nhello')).toMatch(/invalid content-length/);
    expect(refusal('HTTP/1.1 200 OK\r\ncontent-length: 0x5\r\n\r\nhello')).toMatch(/invalid content-length/);
    expect(refusal('HTTP/1.1 200 OK\r\ncontent-length: 2.5\r\n\r\nhello')).toMatch(/invalid content-length/);
    expect(refusal('HTTP/1.1 200 OK\r\ncontent-length: abc\r\n\r\nhello')).toMatch(/invalid content-length/);
    expect(refusal('HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\nhello')).toMatch(/two different content-lengths/);
    expect(parse('HTTP/1.1 200 OK\r\ncontent-length: 5, 5\r\n\r\nhello').bodies).toEqual(['hello']);
    expect(refusal('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n')).toMatch(/invalid chunk size "-5"/);
    expect(refusal('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n')).toMatch(/invalid chunk size/);
    expect(refusal('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n123456789\r\n')).toMatch(/invalid chunk size/);
    expect(refusal('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n')).toMatch(/chunk longer than its size/);
  });

  it('refuses what is not an HTTP/1.x head', () => {
    expect(refusal('SSH-2.0-OpenSSH_9.6\r\n\r\n')).toMatch(/not an HTTP\/1.x status line/);
    expect(refusal('HTTP/2 200\r\n\r\n')).toMatch(/status line/);
    expect(refusal('HTTP/1.1 099 Odd\r\n\r\n')).toMatch(/status line/);
    expect(refusal('HTTP/1.1 200 OK\r\nx-folded: a\r\n b\r\n\r\n')).toMatch(/not a header line/);
    expect(refusal('HTTP/1.1 200 OK\r\nbad name: a\r\n\r\n')).toMatch(/not a header line/);
    expect(refusal('HTTP/1.1 200 OK\r\nx-lf: a\nb\r\n\r\n')).toMatch(/not a header line/);
    expect(refusal('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n')).toMatch(/switched protocols/);
  });

  it('bounds what an answer may make it read before the body: the head, informational heads, trailers, a chunk-size line', () => {
    expect(() => parse(`HTTP/1.1 200 OK\r\nx-filler: ${'a'.repeat(100 * 1024)}`, [10, 70_000])).toThrow(/answer head larger than 81920 bytes/);
    expect(() => parse('HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(9))).toThrow(/more than 8 informational heads/);
    expect(() => parse(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n${'x-t: 1\r\n'.repeat(20_000)}`)).toThrow(/trailers larger than/);
    expect(() => parse(`HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1;${'e'.repeat(2000)}`)).toThrow(/chunk size line longer than 1024 bytes/);
  });

  it('stops at once when the body is refused, whatever follows', () => {
    const pieces: string[] = [];
    const parser = new ResponseParser({
      onResponseHead: () => undefined,
      onResponseBody: (piece) => {
        pieces.push(piece.toString());
        return false;
      },
      onResponseComplete: () => pieces.push('complete'),
    });
    const bytes = Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabcdHTTP/1.1 200 OK\r\n\r\n');
    parser.execute(bytes, 0, 40);
    parser.execute(bytes, 40, bytes.length);
    expect(pieces).toEqual(['ab']);
  });
});
