import { describe, expect, it } from 'vitest';
import { computeSignature, signBody, SIGNATURE_TOLERANCE_S, verifySignature } from '../mocks/signature.js';

const SECRET = 'whsec-test';
const BODY = JSON.stringify({ notifyId: 'N1', tradeNo: 'T1', outTradeNo: 'O1', status: 'TRADE_SUCCESS', amount: 3000 });
const NOW = 1_750_000_000;

describe('callback signatures', () => {
  it('signs as t=<unix>,v1=<hex HMAC of "t.body"> and verifies', () => {
    const header = signBody(SECRET, BODY, NOW);
    expect(header).toMatch(/^t=1750000000,v1=[0-9a-f]{64}$/);
    expect(header).toBe(`t=${NOW},v1=${computeSignature(SECRET, NOW, BODY)}`);
    expect(verifySignature(SECRET, header, BODY, NOW)).toEqual({ ok: true, timestamp: NOW });
    // Order of the parts, spaces and upper-case hex do not matter.
    const [t, v1] = header.split(',') as [string, string];
    expect(verifySignature(SECRET, `${v1.toUpperCase().replace('V1=', 'v1=')}, ${t}`, BODY, NOW).ok).toBe(true);
    // Signing now verifies now.
    expect(verifySignature(SECRET, signBody(SECRET, BODY), BODY).ok).toBe(true);
  });

  it('rejects another secret and a tampered body as a mismatch', () => {
    const header = signBody(SECRET, BODY, NOW);
    expect(verifySignature('other-secret', header, BODY, NOW)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(SECRET, header, BODY.replace('3000', '1'), NOW)).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(SECRET, header, `${BODY} `, NOW)).toEqual({ ok: false, reason: 'mismatch' });
    // A valid signature moved to another timestamp no longer matches.
    const moved = header.replace(`t=${NOW}`, `t=${NOW + 1}`);
    expect(verifySignature(SECRET, moved, BODY, NOW)).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('rejects a stale or future timestamp beyond the tolerance', () => {
    const header = signBody(SECRET, BODY, NOW);
    expect(verifySignature(SECRET, header, BODY, NOW + SIGNATURE_TOLERANCE_S).ok).toBe(true);
    expect(verifySignature(SECRET, header, BODY, NOW + SIGNATURE_TOLERANCE_S + 1)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature(SECRET, header, BODY, NOW - SIGNATURE_TOLERANCE_S - 1)).toEqual({ ok: false, reason: 'stale' });
    expect(verifySignature(SECRET, header, BODY, NOW + 60, 30)).toEqual({ ok: false, reason: 'stale' });
  });

  it('rejects malformed and missing headers', () => {
    const v1 = computeSignature(SECRET, NOW, BODY);
    for (const header of ['garbage', `v1=${v1}`, `t=${NOW}`, `t=abc,v1=${v1}`, `t=${NOW},v1=zz`, `t=${NOW},v1=${v1.slice(2)}`, `t=${NOW}.5,v1=${v1}`, ',,,']) {
      expect(verifySignature(SECRET, header, BODY, NOW), header).toEqual({ ok: false, reason: 'malformed' });
    }
    expect(verifySignature(SECRET, undefined, BODY, NOW)).toEqual({ ok: false, reason: 'missing' });
    expect(verifySignature(SECRET, '', BODY, NOW)).toEqual({ ok: false, reason: 'missing' });
  });
});
