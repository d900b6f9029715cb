import { Faker, en, generateMersenne53Randomizer } from '@faker-js/faker';
import { describe, expect, it } from 'vitest';
import { FastSeedTwister } from '../harness/drive/buyers.js';

/** The first `count` numbers after seeding. */
function draws(randomizer: { seed(seed: number | number[]): void; next(): number }, seed: number | number[], count: number): number[] {
  randomizer.seed(seed);
  return Array.from({ length: count }, () => randomizer.next());
}

describe('FastSeedTwister', () => {
  // 700 draws use 1,400 words: past the second twist of the 624-word state.
  const seeds: Array<number | number[]> = [[1, 0], [42, 7], [61, 99_999], [2 ** 31 + 5, 123_456], [-3, 1.5], [0], [1, 2, 3, 4, 5], 5489, 0, 2 ** 40 + 3, -17];

  it("gives faker's own MT19937 numbers for the same seed", () => {
    const fast = new FastSeedTwister();
    const reference = generateMersenne53Randomizer();
    for (const seed of seeds) expect(draws(fast, seed, 700), `seed ${JSON.stringify(seed)}`).toEqual(draws(reference, seed, 700));
  });

  it('makes faker generate the same values as its default randomizer', () => {
    const fast = new Faker({ locale: [en], randomizer: new FastSeedTwister() });
    const reference = new Faker({ locale: [en] });
    for (let seq = 0; seq < 50; seq++) {
      const generate = (faker: Faker): string[] => {
        faker.seed([9, seq]);
        return [faker.person.firstName(), faker.string.numeric({ length: 10 }), faker.internet.email(), faker.string.uuid(), String(faker.number.int({ min: 0, max: 3000 }))];
      };
      expect(generate(fast)).toEqual(generate(reference));
    }
  });
});
