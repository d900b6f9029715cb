/**
 * Reading a journal back (`readJournalBatches`, `readJournal`, `loadJournal`): lines split across
 * reads, multi-byte characters split between two reads, blank lines, a torn last line (a run killed
 * mid-write), a torn line in the middle, a line of JSON that is no event, an empty file — at chunk sizes small enough to cut
 * everything everywhere.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrdealError } from '../core/errors.js';
import { FileJournal, loadJournal, readJournal, readJournalBatches, type JournalEvent, type ReadJournalOptions } from '../core/journal.js';

let dir: string;
let files = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ordeal-journal-read-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function journalFile(text: string | Buffer): Promise<string> {
  const path = join(dir, `journal-${files++}.ndjson`);
  await writeFile(path, text);
  return path;
}

async function batchesOf(path: string, options?: ReadJournalOptions): Promise<JournalEvent[][]> {
  const batches: JournalEvent[][] = [];
  for await (const batch of readJournalBatches(path, options)) batches.push(batch);
  return batches;
}

async function eventsOf(path: string, options?: ReadJournalOptions): Promise<JournalEvent[]> {
  return (await batchesOf(path, options)).flat();
}

function message(seq: number, text: string): JournalEvent {
  return { seq, t: seq * 1.5, type: 'notify.message', messageId: `M${seq}`, orderId: `ord_${seq}`, to: '13800000000', channel: 'sms', kind: 'delivered', text, duplicate: false };
}

/** Events whose texts hold 2-, 3- and 4-byte UTF-8 characters at every offset. */
const EVENTS: JournalEvent[] = Array.from({ length: 40 }, (_, seq) => message(seq, `${'x'.repeat(seq % 7)}é 卡密 🎴 ${'ü'.repeat(seq % 5)} 订单已发货`));
const NDJSON = EVENTS.map((event) => `${JSON.stringify(event)}\n`).join('');

describe('readJournalBatches', () => {
  it('reads every event, in order, whatever the chunk size (lines and characters cut at every offset)', async () => {
    const path = await journalFile(NDJSON);
    for (const chunkSize of [1, 2, 3, 5, 7, 64, 200, 1000, 1 << 20]) {
      expect(await eventsOf(path, { chunkSize }), `chunk size ${chunkSize}`).toEqual(EVENTS);
    }
  });

  it('cuts a multi-byte character between two reads and still decodes it whole', async () => {
    const line = JSON.stringify(message(1, '🎴🎴🎴'));
    const emoji = Buffer.byteLength(line.slice(0, line.indexOf('🎴')));
    const path = await journalFile(`${line}\n${line}\n`);
    // Every cut inside the first emoji's four bytes.
    for (const chunkSize of [emoji + 1, emoji + 2, emoji + 3]) {
      const events = await eventsOf(path, { chunkSize });
      expect(events.map((event) => (event as { text?: string }).text)).toEqual(['🎴🎴🎴', '🎴🎴🎴']);
    }
  });

  it('hands events over in batches of at most one read, never an empty one', async () => {
    const path = await journalFile(NDJSON);
    const lineBytes = Buffer.byteLength(NDJSON) / EVENTS.length;
    const batches = await batchesOf(path, { chunkSize: 1024 });
    expect(batches.length).toBeGreaterThan(1);
    for (const batch of batches) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(Math.ceil(1024 / (lineBytes / 2)));
    }
    expect(batches.flat()).toEqual(EVENTS);
  });

  it('reads a line longer than the chunk size whole', async () => {
    const long = message(7, 'y'.repeat(5000));
    const path = await journalFile(`${JSON.stringify(EVENTS[0])}\n${JSON.stringify(long)}\n${JSON.stringify(EVENTS[1])}\n`);
    expect(await eventsOf(path, { chunkSize: 16 })).toEqual([EVENTS[0], long, EVENTS[1]]);
  });

  it('reads a last line with no newline after it', async () => {
    const path = await journalFile(NDJSON.slice(0, -1));
    expect(await eventsOf(path, { chunkSize: 100 })).toEqual(EVENTS);
  });

  it('skips blank and whitespace-only lines, and takes CRLF line ends', async () => {
    const lines = EVENTS.slice(0, 3).map((event) => JSON.stringify(event));
    const path = await journalFile(`\n${lines[0]}\r\n\r\n   \n${lines[1]}\n\n\t\n${lines[2]}\r\n\n`);
    for (const chunkSize of [1, 10, 1 << 16]) expect(await eventsOf(path, { chunkSize })).toEqual(EVENTS.slice(0, 3));
  });

  it('reads an empty file, and a file of blank lines, as no batch at all', async () => {
    expect(await batchesOf(await journalFile(''))).toEqual([]);
    expect(await batchesOf(await journalFile('\n\n  \n'), { chunkSize: 1 })).toEqual([]);
  });

  it('drops a torn last line (a run killed mid-write), with or without blank lines after it', async () => {
    const torn = JSON.stringify(EVENTS[3]).slice(0, 50);
    for (const tail of [torn, `${torn}\n`, `${torn}\n\n  \n`]) {
      const path = await journalFile(`${NDJSON}${tail}`);
      for (const chunkSize of [3, 97, 1 << 16]) expect(await eventsOf(path, { chunkSize })).toEqual(EVENTS);
    }
  });

  it('drops a last line torn inside a multi-byte character', async () => {
    const line = Buffer.from(JSON.stringify(message(9, '🎴 卡密')));
    const cut = line.indexOf(Buffer.from('🎴')) + 2;
    const path = await journalFile(Buffer.concat([Buffer.from(NDJSON), line.subarray(0, cut)]));
    for (const chunkSize of [5, 1 << 16]) expect(await eventsOf(path, { chunkSize })).toEqual(EVENTS);
  });

  it('fails on a torn line followed by more events, naming the file and line, after handing over the events before it', async () => {
    const lines = NDJSON.split('\n');
    lines[10] = (lines[10] as string).slice(0, 30);
    const path = await journalFile(lines.join('\n'));
    for (const chunkSize of [4, 1 << 16]) {
      const seen: JournalEvent[] = [];
      const reading = (async () => {
        for await (const batch of readJournalBatches(path, { chunkSize })) seen.push(...batch);
      })();
      await expect(reading).rejects.toThrow(`${path}:11: not a journal event`);
      expect(seen).toEqual(EVENTS.slice(0, 10));
    }
  });

  it('refuses a line of JSON that is not an event as the folder’s fault (exit 2), after the events before it', async () => {
    // Before: `ordeal report` on a journal edited or damaged on disk crashed inside the fold (exit 4).
    for (const [misshapen, why] of [
      ['null', 'not an object'],
      ['[1,2]', 'not an object'],
      ['{"seq":10,"t":1}', 'no type'],
      ['{"seq":10,"type":"order.observed"}', 'no time'],
      ['{"seq":10,"t":1,"type":"order.observed","orderId":{"x":1},"buyerId":"b","status":"paid"}', 'an orderId that is not a string'],
      ['{"seq":10,"t":1,"type":"buyer.finished","buyerId":7}', 'a buyerId that is not a string'],
    ] as const) {
      const lines = NDJSON.split('\n');
      lines[10] = misshapen;
      const path = await journalFile(lines.join('\n'));
      const seen: JournalEvent[] = [];
      const error = await (async () => {
        for await (const batch of readJournalBatches(path, { chunkSize: 1 << 16 })) seen.push(...batch);
      })().then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).toBeInstanceOf(OrdealError);
      expect((error as OrdealError).exitCode).toBe(2);
      expect((error as OrdealError).message).toBe(`${path}:11: not a journal event (${why})`);
      expect(seen).toEqual(EVENTS.slice(0, 10));
    }
  });

  it('fails on a file that does not exist', async () => {
    await expect(batchesOf(join(dir, 'missing.ndjson'))).rejects.toThrow(/ENOENT/);
  });
});

describe('readJournal and loadJournal', () => {
  it('give the same events one by one and as an array', async () => {
    const path = await journalFile(`${NDJSON}{"seq":`);
    const streamed: JournalEvent[] = [];
    for await (const event of readJournal(path, { chunkSize: 13 })) streamed.push(event);
    expect(streamed).toEqual(EVENTS);
    expect(await loadJournal(path)).toEqual(EVENTS);
  });
});

describe('FileJournal writes what it was given, in order', () => {
  it('keeps every event across the 64 KiB flushes and the timed flush, and close() writes the rest', async () => {
    const path = join(dir, `written-${files++}.ndjson`);
    const journal = new FileJournal(path);
    // More than one 64 KiB flush within one turn, then a turn boundary, then a remainder.
    for (let i = 0; i < 3000; i++) journal.append('load.finished', { arrivals: i, dropped: 0 });
    await new Promise<void>((resolve) => setImmediate(resolve));
    for (let i = 3000; i < 3010; i++) journal.append('load.finished', { arrivals: i, dropped: 0 });
    await journal.close();
    const events = await loadJournal(path);
    expect(events).toHaveLength(3010);
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: 3010 }, (_, i) => i));
    expect(events.at(-1)).toMatchObject({ type: 'load.finished', arrivals: 3009 });
  });

  it('hands lines to the file on its own, without synced() or close(), a few event-loop turns later', async () => {
    const path = join(dir, `timed-${files++}.ndjson`);
    const journal = new FileJournal(path);
    journal.append('load.finished', { arrivals: 1, dropped: 0 });
    // Bounded wait for the timed flush (20 ms): the file is read until the line is there.
    const deadline = Date.now() + 5000;
    let text = '';
    while (Date.now() < deadline && !text.endsWith('\n')) {
      await new Promise<void>((resolve) => setTimeout(resolve, 10));
      text = await readFile(path, 'utf8');
    }
    expect(JSON.parse(text)).toMatchObject({ seq: 0, type: 'load.finished', arrivals: 1 });
    await journal.close();
  });
});
