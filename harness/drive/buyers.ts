/**
 * Seeded buyers: the same seed and arrival number give the same buyer (identity, contact, SKU,
 * behaviour) in every run, independent of timing and of which other buyers were generated.
 */
import type { Faker } from '@faker-js/faker';
import { faker as englishFaker } from '@faker-js/faker/locale/en';
import { SeededRandomizer, seededUnit } from '../../core/random.js';
import { ABROAD_REGIONS, HOME_REGIONS, ipInRegion } from '../../core/regions.js';
import { BUYER_BEHAVIOURS, RISK_SIGNALS, type BuyerBehaviour, type RiskSignal, type Scenario } from '../../core/scenario-schema.js';

export interface CatalogEntry {
  sku: string;
  price: number;
}

/** A coupon the shop offers (minor units). */
export interface CatalogCoupon {
  code: string;
  discount: number;
  minAmount: number;
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
  /** A valid coupon the buyer applies (the order reaches its threshold). */
  coupon?: string;
  /** A coupon whose threshold this order does not reach (coupon_below_threshold buyers). */
  couponBelowThreshold?: string;
  /** The SKU a wrong_sku_then_cancel buyer orders by mistake first. */
  wrongSku?: string;
}

const METHODS = ['alipay', 'wechat', 'card'];

/**
 * A Faker over the English locale and a seeded randomizer. The package's index loads all of its
 * ~70 locales (17 MB of heap); its English entry point loads one but exports only an instance,
 * whose class and locale data make ours.
 */
function englishFakerWith(randomizer: SeededRandomizer): Faker {
  const FakerClass = englishFaker.constructor as typeof Faker;
  return new FakerClass({ locale: englishFaker.rawDefinitions, randomizer });
}
/** Devices shared by buyers who switch accounts rapidly on one device. */
const SHARED_DEVICES = 3;

export class BuyerFactory {
  private readonly faker = englishFakerWith(new SeededRandomizer());
  private readonly behaviours: Array<[BuyerBehaviour, number]>;
  private readonly skus: CatalogEntry[];
  private readonly coupons: CatalogCoupon[];
  private readonly methods: readonly string[];

  /** `catalog`: what the shop sells and the coupons it offers (its own, when it lists them). */
  constructor(
    private readonly scenario: Scenario,
    private readonly seed: number,
    catalog: { skus: readonly CatalogEntry[]; coupons?: readonly CatalogCoupon[] },
    /** The payment methods buyers pick from (a target profile's). @default alipay, wechat, card */
    methods: readonly string[] = METHODS,
    /** How buyers give their contact (a target profile's `contact`). @default "any": one in five an e-mail address */
    private readonly contactKind: 'any' | 'email' | 'phone' = 'any',
  ) {
    // Sorted, so the order a profile lists them in does not change who pays how.
    this.methods = methods === METHODS || methods.length === 0 ? METHODS : [...methods].sort();
    const mix = scenario.buyers.mix;
    const total = BUYER_BEHAVIOURS.reduce((sum, name) => sum + (mix[name] ?? 0), 0);
    let cumulative = 0;
    this.behaviours = BUYER_BEHAVIOURS.filter((name) => (mix[name] ?? 0) > 0).map((name) => {
      cumulative += (mix[name] ?? 0) / total;
      return [name, cumulative];
    });
    // Sorted so the catalogue's order on the wire does not change who buys what.
    this.skus = [...catalog.skus].sort((a, b) => a.sku.localeCompare(b.sku));
    this.coupons = [...(catalog.coupons ?? [])].sort((a, b) => a.code.localeCompare(b.code));
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

    const useEmail = this.contactKind === 'email' || (this.contactKind === 'any' && unit('contact') < 0.2);
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
    const belowThreshold = this.coupons.find((entry) => entry.minAmount > amount);
    // Ordinary buyers use the shop's coupons too — valid ones, the best their order reaches.
    const valid = this.coupons.filter((entry) => entry.minAmount <= amount && entry.discount < amount).sort((a, b) => b.discount - a.discount)[0];
    const usesCoupon = behaviour === 'normal' && valid !== undefined && unit('coupon') < this.scenario.buyers.coupons;
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
      paymentMethod: pick(this.methods, 'method'),
      sku: sku.sku,
      quantity,
      recipient,
      signals,
      ...(usesCoupon ? { coupon: valid.code } : {}),
      ...(behaviour === 'coupon_below_threshold' && belowThreshold ? { couponBelowThreshold: belowThreshold.code } : {}),
      ...(behaviour === 'wrong_sku_then_cancel' ? { wrongSku: (others.length > 0 ? pick(others, 'wrong-sku') : sku).sku } : {}),
    };
  }
}
