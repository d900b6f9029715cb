import { Faker, en } from '@faker-js/faker';
import { describe, expect, it } from 'vitest';
import { SeededRandomizer, hash53, seededUnit } from '../core/random.js';

/** The first `count` numbers after seeding. */
function draws(randomizer: SeededRandomizer, seed: number | number[], count: number): number[] {
  randomizer.seed(seed);
  return Array.from({ length: count }, () => randomizer.next());
}

describe('SeededRandomizer', () => {
  const seeds: Array<number | number[]> = [[1, 0], [42, 7], [61, 99_999], [2 ** 31 + 5, 123_456], [-3, 1.5], [0], [1, 2, 3, 4, 5], 5489, 0, 2 ** 40 + 3, -17];

  it('gives the same sequence for the same seed, in any instance', () => {
    const one = new SeededRandomizer();
    const other = new SeededRandomizer(7);
    for (const seed of seeds) expect(draws(one, seed, 500), `seed ${JSON.stringify(seed)}`).toEqual(draws(other, seed, 500));
    expect(draws(new SeededRandomizer(), [9, 3], 10)).toEqual(draws(new SeededRandomizer(), [9, 3], 10));
    // The constructor's seed is the same as seeding afterwards.
    const constructed = new SeededRandomizer([9, 3]);
    expect(Array.from({ length: 10 }, () => constructed.next())).toEqual(draws(new SeededRandomizer(), [9, 3], 10));
  });

  it('gives different sequences for different seeds, neighbours included', () => {
    const randomizer = new SeededRandomizer();
    const firsts = new Set<string>();
    // `seeds` less `[0]`: a number and the one-element array of it are the same seed.
    expect(draws(randomizer, [0], 4)).toEqual(draws(randomizer, 0, 4));
    const neighbours: Array<number | number[]> = [...seeds.filter((seed) => JSON.stringify(seed) !== '[0]'), 1, 2, [1, 1], [0, 1], [0, 0], [42, 8], [43, 7], [7, 42], 1.5, -0.5];
    for (const seed of neighbours) firsts.add(draws(randomizer, seed, 4).join(','));
    expect(firsts.size).toBe(neighbours.length);
    // A run seed and consecutive arrival numbers, as the buyer factory seeds: no two streams share a first draw.
    const perBuyer = new Set(Array.from({ length: 10_000 }, (_, seq) => draws(randomizer, [42, seq], 1)[0]));
    expect(perBuyer.size).toBe(10_000);
  });

  it('restarts the sequence when re-seeded mid-stream', () => {
    const randomizer = new SeededRandomizer([5, 5]);
    const start = Array.from({ length: 20 }, () => randomizer.next());
    for (let i = 0; i < 1000; i++) randomizer.next();
    randomizer.seed([5, 5]);
    expect(Array.from({ length: 20 }, () => randomizer.next())).toEqual(start);
    randomizer.seed(8);
    randomizer.next();
    randomizer.seed([5, 5]);
    expect(randomizer.next()).toBe(start[0]);
  });

  it('works detached from the object, as faker calls it', () => {
    const randomizer = new SeededRandomizer();
    const { seed, next } = randomizer;
    seed([3, 4]);
    const detached = [next(), next()];
    expect(draws(randomizer, [3, 4], 2)).toEqual(detached);
  });

  it('draws floats in [0, 1), uniformly: mean and ten buckets of 100,000 draws', () => {
    const randomizer = new SeededRandomizer(2024);
    const count = 100_000;
    const buckets = new Array<number>(10).fill(0);
    let sum = 0;
    let integers = 0;
    for (let i = 0; i < count; i++) {
      const value = randomizer.next();
      expect(value >= 0 && value < 1).toBe(true);
      sum += value;
      buckets[Math.floor(value * 10)]!++;
      if (Number.isInteger(value * 2 ** 32)) integers++;
    }
    // The mean's standard error is 0.29 / √100,000 ≈ 0.0009; a bucket's is √(10,000 × 0.9) ≈ 95.
    expect(Math.abs(sum / count - 0.5)).toBeLessThan(0.004);
    for (const bucket of buckets) expect(Math.abs(bucket - count / 10)).toBeLessThan(400);
    const chiSquare = buckets.reduce((total, bucket) => total + (bucket - count / 10) ** 2 / (count / 10), 0);
    // 9 degrees of freedom: 27.9 is the 0.999 quantile.
    expect(chiSquare).toBeLessThan(27.9);
    // More than 32 random bits per float: almost none fall on a multiple of 2⁻³².
    expect(integers).toBeLessThan(10);
  });

  it("drives faker: the same seed gives the same person, another seed another", () => {
    const faker = new Faker({ locale: [en], randomizer: new SeededRandomizer() });
    const generate = (seed: number[]): string[] => {
      faker.seed(seed);
      return [faker.person.firstName(), faker.string.numeric({ length: 10 }), faker.internet.email(), faker.string.uuid(), String(faker.number.int({ min: 0, max: 3000 }))];
    };
    const first = generate([9, 1]);
    generate([9, 2]);
    expect(generate([9, 1])).toEqual(first);
    expect(generate([9, 2])).not.toEqual(first);
  });
});

/** `hash53('ordeal')`: fault decisions and card codes hang on this function not changing. */
const HASH53_ORDEAL = 626_911_355_534_730;

describe('hash53 and seededUnit', () => {
  it('are stable: same input, same number, on every platform', () => {
    expect(hash53('ordeal')).toBe(HASH53_ORDEAL);
    expect(hash53('ordeal', 1)).not.toBe(hash53('ordeal', 2));
    expect(hash53('ordeal')).toBeLessThan(2 ** 53);
    const unit = seededUnit(4, 'a', 1);
    expect(unit).toBeGreaterThanOrEqual(0);
    expect(unit).toBeLessThan(1);
    expect(seededUnit(4, 'a', 1)).toBe(unit);
    expect(seededUnit(4, 'a', 2)).not.toBe(unit);
    expect(seededUnit(5, 'a', 1)).not.toBe(unit);
  });
});
