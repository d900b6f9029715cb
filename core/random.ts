/**
 * Seeded randomness. Decisions are pure functions of (seed, parts) — `seededUnit`, `hash53` — so
 * they do not depend on timing or on what was decided before; generated data (faker's names,
 * phones, ids) comes from `SeededRandomizer`, a pure-rand generator that is cheap to re-seed.
 */
import type { Randomizer } from '@faker-js/faker';
import { xoroshiro128plus, type RandomGenerator } from 'pure-rand';

/** 53-bit string hash (cyrb53): fast, well mixed, stable across platforms. */
export function hash53(text: string, seed = 0): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/** A uniform number in [0, 1) determined by the seed and the parts. */
export function seededUnit(seed: number, ...parts: Array<string | number>): number {
  return hash53(parts.join('\u0000'), seed) / 2 ** 53;
}

/** Scratch space to read a number's 64 bits as two 32-bit words. */
const seedFloat = new Float64Array(1);
const seedWords = new Uint32Array(seedFloat.buffer);

/**
 * A 128-bit generator state from a seed (cyrb128, the 128-bit sibling of `hash53`, over each
 * number's 64 bits): every seed, fractions and negatives included, gets a well-mixed state of its
 * own, so seeds that differ by one (a run seed and consecutive arrival numbers) start unrelated
 * streams. xoroshiro128+'s own `xoroshiro128plus(seed)` keeps 32 bits of the seed, in a state that
 * its first outputs barely mix.
 */
function seedState(seed: number | readonly number[]): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  const absorb = (word: number): void => {
    h1 = h2 ^ Math.imul(h1 ^ word, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ word, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ word, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ word, 2716044179);
  };
  const numbers = typeof seed === 'number' ? [seed] : seed;
  for (const value of numbers) {
    seedFloat[0] = value;
    absorb(seedWords[0]!);
    absorb(seedWords[1]!);
  }
  absorb(numbers.length);
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  // The one state xoroshiro128+ cannot leave.
  if ((h1 | h2 | h3 | h4) === 0) h4 = 1;
  return [h1, h2, h3, h4];
}

/**
 * faker's `Randomizer` on pure-rand's xoroshiro128+: 53-bit floats in [0, 1) from two 32-bit
 * draws, and a `seed()` that costs a hash of the seed, not a generator's worth of set-up — the
 * buyer factory re-seeds for every buyer, so that a buyer does not depend on the ones generated
 * before it, and faker's own Mersenne Twister spends most of a buyer's generation time re-seeding.
 */
export class SeededRandomizer implements Randomizer {
  private generator: RandomGenerator;

  constructor(seed: number | readonly number[] = Math.floor(Math.random() * 2 ** 53)) {
    this.generator = xoroshiro128plus.fromState(seedState(seed));
  }

  // Arrow functions: faker calls `next` detached from the object.
  readonly seed = (seed: number | readonly number[]): void => {
    this.generator = xoroshiro128plus.fromState(seedState(seed));
  };

  readonly next = (): number => {
    const high = this.generator.unsafeNext() >>> 5;
    const low = this.generator.unsafeNext() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  };
}
