/**
 * Seeded buyers: the same seed and arrival number give the same buyer (identity, contact, SKU,
 * behaviour) in every run, independent of timing and of which other buyers were generated.
 */
import { Faker, en, type Randomizer } from '@faker-js/faker';
import { seededUnit } from '../../mocks/fault-plan.js';
import { ABROAD_REGIONS, HOME_REGIONS, ipInRegion } from '../../core/regions.js';
import { BUYER_BEHAVIOURS, RISK_SIGNALS, type BuyerBehaviour, type RiskSignal, type Scenario } from '../../core/scenario-schema.js';

export interface CatalogEntry {
  sku: string;
  price: number;
}

export interface Buyer {
  /** Stable id; fault decisions are made on it. */
  id: string;
  seq: number;
  behaviour: BuyerBehaviour;
  contact: string;
  region: string;
  ip: string;
  accountAgeDays: number;
  deviceId: string;
  paymentMethod: string;
  sku: string;
  quantity: number;
  recipient: { kind: 'game_id' | 'phone' | 'email'; account: string };
  /** Risk signals this buyer shows (the risk screen finds them from the order's data). */
  signals: RiskSignal[];
  /** A coupon whose threshold this order does not reach (coupon_below_threshold buyers). */
  couponBelowThreshold?: string;
  /** The SKU a wrong_sku_then_cancel buyer orders by mistake first. */
  wrongSku?: string;
}

const METHODS = ['alipay', 'wechat', 'card'];
/** Devices shared by buyers who switch accounts rapidly on one device. */
const SHARED_DEVICES = 3;

export class BuyerFactory {
  private readonly faker = new Faker({ locale: [en], randomizer: new FastSeedTwister() });
  private readonly behaviours: Array<[BuyerBehaviour, number]>;
  private readonly skus: CatalogEntry[];

  constructor(
    private readonly scenario: Scenario,
    private readonly seed: number,
    catalog: readonly CatalogEntry[],
  ) {
    const mix = scenario.buyers.mix;
    const total = BUYER_BEHAVIOURS.reduce((sum, name) => sum + (mix[name] ?? 0), 0);
    let cumulative = 0;
    this.behaviours = BUYER_BEHAVIOURS.filter((name) => (mix[name] ?? 0) > 0).map((name) => {
      cumulative += (mix[name] ?? 0) / total;
      return [name, cumulative];
    });
    // Sorted so the catalogue's order on the wire does not change who buys what.
    this.skus = [...catalog].sort((a, b) => a.sku.localeCompare(b.sku));
    if (this.skus.length === 0) throw new Error('the catalogue is empty');
  }

  /** The buyer for arrival `seq`. */
  create(seq: number): Buyer {
    const unit = (part: string): number => seededUnit(this.seed, 'buyer', seq, part);
    const pick = <T>(list: readonly T[], part: string): T => list[Math.floor(unit(part) * list.length)]!;
    this.faker.seed([this.seed, seq]);
    const pickBehaviour = unit('behaviour');
    const behaviour = this.behaviours.find(([, upTo]) => pickBehaviour < upTo)?.[0] ?? this.behaviours.at(-1)![0];
    const signals = RISK_SIGNALS.filter((signal) => unit(`signal:${signal}`) < (this.scenario.buyers.signals[signal] ?? 0));
    const has = (signal: RiskSignal): boolean => signals.includes(signal);

    const sku = pick(this.skus, 'sku');
    const { min, max } = this.scenario.buyers.quantity;
    // A new account buying in a burst takes as many cards as it can.
    const quantity = has('new_account') ? max : min + Math.floor(unit('quantity') * (max - min + 1));
    const abroad = unit('abroad') < this.scenario.buyers.abroad;
    const region = abroad ? pick(ABROAD_REGIONS, 'region') : pick(HOME_REGIONS, 'region');
    const ipRegion = has('far_ip') ? pick([...HOME_REGIONS, ...ABROAD_REGIONS].filter((other) => other !== region), 'ip-region') : region;

    const useEmail = unit('contact') < 0.2;
    const firstName = this.faker.person.firstName();
    const phone = `1${this.faker.string.numeric({ length: 10, allowLeadingZeros: true })}`;
    const contact = useEmail ? this.faker.internet.email({ firstName, provider: 'example.com' }).toLowerCase() : phone;
    const otherPhone = `1${this.faker.string.numeric({ length: 10, allowLeadingZeros: true })}`;
    const recipient: Buyer['recipient'] = has('payer_mismatch')
      ? { kind: 'phone', account: otherPhone === contact ? `1${otherPhone.slice(1).split('').reverse().join('')}` : otherPhone }
      : // Eight digits, the shortest valid game id: one digit short is a mistake the shop can catch.
        { kind: 'game_id', account: this.faker.string.numeric({ length: 8, allowLeadingZeros: false }) };
    const accountAgeDays = has('new_account') ? this.faker.number.int({ min: 0, max: 2 }) : this.faker.number.int({ min: 30, max: 3000 });
    const deviceId = has('device_switching') ? `device-shared-${Math.floor(unit('device') * SHARED_DEVICES)}` : this.faker.string.uuid();

    const amount = sku.price * quantity;
    const coupon = this.scenario.catalog.coupons.find((entry) => entry.minAmount > amount);
    const others = this.skus.filter((entry) => entry.sku !== sku.sku);
    return {
      id: `buyer-${seq.toString().padStart(6, '0')}`,
      seq,
      behaviour,
      contact,
      region,
      ip: ipInRegion(ipRegion, unit),
      accountAgeDays,
      deviceId,
      paymentMethod: pick(METHODS, 'method'),
      sku: sku.sku,
      quantity,
      recipient,
      signals,
      ...(behaviour === 'coupon_below_threshold' && coupon ? { couponBelowThreshold: coupon.code } : {}),
      ...(behaviour === 'wrong_sku_then_cancel' ? { wrongSku: (others.length > 0 ? pick(others, 'wrong-sku') : sku).sku } : {}),
    };
  }
}

/** MT19937 state size, in 32-bit words. */
const MT_N = 624;
const MT_M = 397;
const UPPER_MASK = 2 ** 31;
const LOWER_MASK = 2 ** 31 - 1;
const MATRIX_A = 0x9908b0df;

/** `init_genrand(seed)`: the twister's state from one number (before the first twist). */
function initGenrand(state: Int32Array, seed: number): void {
  state[0] = seed;
  for (let index = 1; index < MT_N; index++) {
    const previous = state[index - 1]! ^ (state[index - 1]! >>> 30);
    state[index] = Math.imul(1812433253, previous) + index;
  }
}

/** `init_genrand(19650218)`, the start of every `init_by_array`: computed once. */
const ARRAY_SEED_BASE = (() => {
  const state = new Int32Array(MT_N);
  initGenrand(state, 19650218);
  return state;
})();

/**
 * Faker's default randomizer — MT19937 giving 53-bit floats, the same numbers as faker's
 * `generateMersenne53Randomizer` for the same seed — with a cheaper `seed()`. The buyer factory
 * re-seeds for every buyer (so a buyer does not depend on the ones generated before it), and
 * faker's own re-seed, in a plain array and from scratch each time, is three quarters of a buyer's
 * generation time. Here the state is an `Int32Array` (every step of the algorithm is taken modulo
 * 2³², so keeping 32 bits is exact) and `init_by_array`'s fixed starting state is computed once.
 */
export class FastSeedTwister implements Randomizer {
  private readonly state = new Int32Array(MT_N);
  private index = MT_N;

  constructor(seed: number | number[] = Math.ceil(Math.random() * Number.MAX_SAFE_INTEGER)) {
    this.seed(seed);
  }

  // Arrow functions: faker calls `next` detached from the object.
  readonly seed = (seed: number | number[]): void => {
    const state = this.state;
    if (typeof seed === 'number') initGenrand(state, seed);
    else {
      // init_by_array, as faker computes it: sums in doubles, then kept modulo 2³².
      state.set(ARRAY_SEED_BASE);
      let i = 1;
      let j = 0;
      for (let k = Math.max(MT_N, seed.length); k > 0; k--) {
        const previous = state[i - 1]! ^ (state[i - 1]! >>> 30);
        state[i] = (state[i]! ^ Math.imul(previous, 1664525)) + seed[j]! + j;
        i++;
        j++;
        if (i >= MT_N) {
          state[0] = state[MT_N - 1]!;
          i = 1;
        }
        if (j >= seed.length) j = 0;
      }
      for (let k = MT_N - 1; k > 0; k--) {
        const previous = state[i - 1]! ^ (state[i - 1]! >>> 30);
        state[i] = (state[i]! ^ Math.imul(previous, 1566083941)) - i;
        i++;
        if (i >= MT_N) {
          state[0] = state[MT_N - 1]!;
          i = 1;
        }
      }
      state[0] = UPPER_MASK;
    }
    this.twist();
  };

  /** A float in [0, 1) with 53 random bits. */
  readonly next = (): number => {
    const high = this.nextU32() >>> 5;
    const low = this.nextU32() >>> 6;
    return (high * 67108864 + low) / 9007199254740992;
  };

  private nextU32(): number {
    if (this.index >= MT_N) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const state = this.state;
    for (let k = 0; k < MT_N; k++) {
      const y = (state[k]! & UPPER_MASK) + (state[(k + 1) % MT_N]! & LOWER_MASK);
      state[k] = state[(k + MT_M) % MT_N]! ^ (y >>> 1) ^ (-(y & 1) & MATRIX_A);
    }
    this.index = 0;
  }
}
