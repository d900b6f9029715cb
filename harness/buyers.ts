/**
 * Seeded buyers: the same seed and arrival number give the same buyer (identity, contact, SKU,
 * behaviour) in every run, independent of timing and of which other buyers were generated.
 */
import { Faker, en } from '@faker-js/faker';
import { seededUnit } from '../mocks/fault-plan.js';
import { BUYER_BEHAVIOURS, type BuyerBehaviour, type Scenario } from './scenario-schema.js';

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
}

const REGIONS = ['CN-GD', 'CN-SH', 'CN-BJ', 'CN-ZJ', 'CN-SC', 'CN-JS'];
const METHODS = ['alipay', 'wechat', 'card'];

export class BuyerFactory {
  private readonly faker = new Faker({ locale: [en] });
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
    this.faker.seed([this.seed, seq]);
    const pickBehaviour = unit('behaviour');
    const behaviour = this.behaviours.find(([, upTo]) => pickBehaviour < upTo)?.[0] ?? this.behaviours.at(-1)![0];
    const sku = this.skus[Math.floor(unit('sku') * this.skus.length)]!;
    const { min, max } = this.scenario.buyers.quantity;
    const quantity = min + Math.floor(unit('quantity') * (max - min + 1));
    const useEmail = unit('contact') < 0.2;
    const firstName = this.faker.person.firstName();
    const phone = `1${this.faker.string.numeric({ length: 10, allowLeadingZeros: true })}`;
    const contact = useEmail ? this.faker.internet.email({ firstName, provider: 'example.com' }).toLowerCase() : phone;
    return {
      id: `buyer-${seq.toString().padStart(6, '0')}`,
      seq,
      behaviour,
      contact,
      region: REGIONS[Math.floor(unit('region') * REGIONS.length)]!,
      ip: this.faker.internet.ipv4(),
      accountAgeDays: this.faker.number.int({ min: 30, max: 3000 }),
      deviceId: this.faker.string.uuid(),
      paymentMethod: METHODS[Math.floor(unit('method') * METHODS.length)]!,
      sku: sku.sku,
      quantity,
      recipient: { kind: 'game_id', account: this.faker.string.numeric({ length: 10, allowLeadingZeros: false }) },
    };
  }
}
