/**
 * One e-mail as the capture server reads it: the DATA stream gathered up to the size limit (the
 * rest is drained, never held), then parsed with mailparser into what matching and classifying
 * need — subject, plain text (HTML converted to text when there is no plain part), addresses and
 * the Message-ID.
 */
import type { Readable } from 'node:stream';
import { simpleParser, type AddressObject } from 'mailparser';

/** What Ordeal keeps of one e-mail. */
export interface ReadMessage {
  /** The Message-ID header, angle brackets included; '' when the message has none. */
  messageId: string;
  /** The From header's first address (the envelope's MAIL FROM when the header has none). */
  from: string;
  /** The To, Cc and Bcc headers' addresses. */
  to: string[];
  subject: string;
  /** The plain text, or the HTML converted to text; at most `MAX_TEXT_CHARS`. */
  text: string;
}

/** Text kept per message (the journal and the inbox hold this much of it). */
export const MAX_TEXT_CHARS = 4000;
const MAX_SUBJECT_CHARS = 300;

/** The bytes of a DATA stream, at most `limit` of them kept; how many arrived in all. */
export async function gatherData(stream: Readable, limit: number): Promise<{ data: Buffer; bytes: number }> {
  const chunks: Buffer[] = [];
  let kept = 0;
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    bytes += buffer.length;
    if (kept >= limit) continue;
    const part = buffer.length <= limit - kept ? buffer : buffer.subarray(0, limit - kept);
    chunks.push(part);
    kept += part.length;
  }
  return { data: Buffer.concat(chunks, kept), bytes };
}

/** Parses a message's bytes (whole, or cut short); never throws — unreadable parts are left empty. */
export async function readMessage(data: Buffer, envelopeFrom: string): Promise<ReadMessage> {
  try {
    const parsed = await simpleParser(data, { skipImageLinks: true, skipTextToHtml: true, maxHtmlLengthToParse: 1_000_000 });
    const text = parsed.text ?? (typeof parsed.html === 'string' ? parsed.html : '');
    return {
      messageId: parsed.messageId ?? '',
      from: addressesOf(parsed.from)[0] ?? envelopeFrom,
      to: [...addressesOf(parsed.to), ...addressesOf(parsed.cc), ...addressesOf(parsed.bcc)],
      subject: (parsed.subject ?? '').slice(0, MAX_SUBJECT_CHARS),
      text: text.trim().slice(0, MAX_TEXT_CHARS),
    };
  } catch {
    return { messageId: '', from: envelopeFrom, to: [], subject: '', text: '' };
  }
}

function addressesOf(header: AddressObject | AddressObject[] | undefined): string[] {
  if (header === undefined) return [];
  const addresses: string[] = [];
  for (const object of Array.isArray(header) ? header : [header]) {
    for (const entry of object.value) {
      if (entry.address) addresses.push(entry.address);
      for (const member of entry.group ?? []) if (member.address) addresses.push(member.address);
    }
  }
  return addresses;
}
