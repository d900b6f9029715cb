/**
 * Bloom filters over string keys: whether a key was ever added, in a few bits a key, with no false
 * "no" and rare false "yes". The archives use them so that looking up a key never archived — every
 * new order's first lookup in every store — costs a few hashes instead of a read; the bounded fold
 * uses one for the ids it checked and dropped (`approximateIdSet`).
 */

/** A Bloom filter of `bits` bits (a power of two) over keys hashed by `hashesOf`. */
export class KeyFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;

  constructor(bits: number, private readonly probes: number) {
    this.words = new Uint32Array(Math.max(1, bits >>> 5));
    this.mask = bits - 1;
  }

  add([h1, h2]: readonly [number, number]): void {
    for (let i = 0; i < this.probes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.words[bit >>> 5]! |= 1 << (bit & 31);
    }
  }

  mightHave([h1, h2]: readonly [number, number]): boolean {
    for (let i = 0; i < this.probes; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/** Bits per key a filter is sized for; with 6 probes, ≈ 0.05 % false positives at that load. */
const FILTER_BITS_PER_KEY = 16;

/** The smallest power-of-two filter size giving `keys` keys `bitsPerKey` bits each. */
export function filterBits(keys: number, bitsPerKey = FILTER_BITS_PER_KEY): number {
  let bits = 64;
  while (bits < keys * bitsPerKey) bits *= 2;
  return bits;
}

/**
 * A scalable Bloom filter: a new part, twice the size of the last, whenever the last is full (16k
 * keys in 32 KiB first), so a short run touches little memory and a long one stays selective.
 */
export class GrowingKeyFilter {
  private readonly parts: Array<{ filter: KeyFilter; capacity: number; count: number }> = [];

  /**
   * @param bitsPerKey and `probes`: each part's sizing; the default (16, 6) gives ≈ 0.05 % false
   *   positives per part, (48, 20) ≈ 10⁻⁹ for a filter that must almost never be wrong.
   */
  constructor(
    private readonly bitsPerKey = FILTER_BITS_PER_KEY,
    private readonly probes = 6,
  ) {}

  add(hashed: readonly [number, number]): void {
    let last = this.parts[this.parts.length - 1];
    if (!last || last.count >= last.capacity) {
      const capacity = last ? last.capacity * 2 : 16_384;
      last = { filter: new KeyFilter(filterBits(capacity, this.bitsPerKey), this.probes), capacity, count: 0 };
      this.parts.push(last);
    }
    last.filter.add(hashed);
    last.count++;
  }

  mightHave(hashed: readonly [number, number]): boolean {
    for (const part of this.parts) if (part.filter.mightHave(hashed)) return true;
    return false;
  }

  /** Nothing added yet (a caller can skip hashing a key). */
  get isEmpty(): boolean {
    return this.parts.length === 0;
  }
}

/** Two 32-bit FNV-1a hashes of a string with different offsets (the second forced odd). */
export function hashesOf(key: string): [number, number] {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    a = Math.imul(a ^ code, 0x01000193);
    b = Math.imul(b ^ code, 0x01000193);
  }
  b ^= b >>> 15;
  return [a >>> 0, (b | 1) >>> 0];
}

/** A set of ids that never forgets one added and, rarely, claims one never added. */
export interface IdSet {
  add(id: string): void;
  /** True for every id added; for an id never added, false but for about one lookup in 10⁹. */
  has(id: string): boolean;
}

/**
 * An `IdSet` in ~8 bytes an id (48 bits, 20 probes: ≈ 4.5 × 10⁻¹⁰ false positives a lookup in a
 * full part), where a `Set` of the ids or of their hashes takes 40 or more: for callers that can
 * afford a rare wrong "yes" — the bounded fold, where one costs another pass, never a wrong result.
 */
export function approximateIdSet(): IdSet {
  const filter = new GrowingKeyFilter(48, 20);
  return {
    add: (id) => filter.add(hashesOf(id)),
    has: (id) => !filter.isEmpty && filter.mightHave(hashesOf(id)),
  };
}
