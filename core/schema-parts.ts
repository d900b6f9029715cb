/**
 * Building blocks of the scenario schema that fault definitions share: durations, rates, windows,
 * delays and money in their friendly input forms, and the names of routes, services and signals.
 */
import { z } from 'zod';
import { DURATION_PATTERN, RATE_PATTERN, parseDuration, parseRate, parseWindow } from './units.js';

/**
 * The longest duration anything in a scenario or profile may take: a day. Longer is a typo (and
 * past 2^31 ms Node's timers fire at once), never a test.
 */
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;
/** The highest arrival rate a stage may ask for, per second (one process drives about 1,500). */
export const MAX_RATE_PER_SECOND = 100_000;

/** A duration: milliseconds as a number, or a string such as "250ms", "1.5s", "2m". */
const DURATION_EXPECTED = 'expected a duration such as "250ms", "1.5s", "2m" or a number of milliseconds';
export const durationSchema = z
  .union(
    [
      z.number({ error: DURATION_EXPECTED }).nonnegative({ error: DURATION_EXPECTED }),
      z.string({ error: DURATION_EXPECTED }).regex(new RegExp(DURATION_PATTERN), { error: DURATION_EXPECTED }),
    ],
    { error: DURATION_EXPECTED },
  )
  .transform((value) => parseDuration(value) as number)
  .refine((ms) => ms <= MAX_DURATION_MS, { error: 'expected a duration of at most 24h' });

/** An arrival rate: arrivals per second as a number, or a string such as "20/s" or "600/m". */
const RATE_EXPECTED = 'expected a rate such as "20/s", "600/m" or a number of arrivals per second';
export const rateSchema = z
  .union(
    [
      z.number({ error: RATE_EXPECTED }).nonnegative({ error: RATE_EXPECTED }),
      z.string({ error: RATE_EXPECTED }).regex(new RegExp(RATE_PATTERN), { error: RATE_EXPECTED }),
    ],
    { error: RATE_EXPECTED },
  )
  .transform((value) => parseRate(value) as number)
  .refine((perSecond) => perSecond <= MAX_RATE_PER_SECOND, { error: `expected a rate of at most ${MAX_RATE_PER_SECOND}/s` });

/** A time window relative to the start of load: "5s..10s", or "5s.." for open-ended. */
export const windowSchema = z
  .string()
  .refine((value) => parseWindow(value) !== undefined, {
    error: 'expected a window such as "5s..10s" or "5s.." (start..end, relative to the start of load)',
  })
  .refine((value) => (parseWindow(value) ?? []).every((ms) => ms === Number.POSITIVE_INFINITY || ms <= MAX_DURATION_MS), {
    error: 'expected a window within the first 24h of load',
  })
  .transform((value) => {
    const [from, to] = parseWindow(value) as [number, number];
    return { from, to };
  });

/** Money in integer minor units (fen, cents). */
export const money = z.number().int().nonnegative();

/** How long an injected delay lasts. Exactly one of the forms. */
export const delaySchema = z.union(
  [
    z.strictObject({ fixed: durationSchema }),
    z.strictObject({ uniform: z.strictObject({ min: durationSchema, max: durationSchema }) }),
    z.strictObject({
      lognormal: z.strictObject({
        median: durationSchema,
        /** Spread of the log of the delay; 0.5 is moderate, 1 is heavy-tailed. */
        sigma: z.number().positive(),
      }),
    }),
  ],
  { error: 'expected one of { fixed: D }, { uniform: { min: D, max: D } }, { lognormal: { median: D, sigma: N } }' },
);
export type DelayDistribution = z.output<typeof delaySchema>;

/** Payment routes (pay is the buyer's own call at the cashier). */
export const PAYMENT_ROUTES = ['create', 'pay', 'query', 'close', 'refund'] as const;
export type PaymentRoute = (typeof PAYMENT_ROUTES)[number];

/**
 * The payment provider's wire protocols, one personality each (docs/ARCHITECTURE.md): Ordeal's own
 * `native`, 易支付 v1 `epay`, Alipay OpenAPI v2 `alipay`, WeChat Pay API v3 `wechatpay`, `stripe`.
 */
export const PAYMENT_PROTOCOLS = ['native', 'epay', 'alipay', 'wechatpay', 'stripe'] as const;
export type PaymentProtocol = (typeof PAYMENT_PROTOCOLS)[number];

/** The mock services a transport fault can break. */
export const MOCK_SERVICES = ['payment', 'stock', 'notify', 'risk'] as const;
export type MockService = (typeof MOCK_SERVICES)[number];

/** Signals a risk screen looks for; buyers carry them by `buyers.signals`. */
export const RISK_SIGNALS = ['new_account', 'far_ip', 'payer_mismatch', 'device_switching'] as const;
export type RiskSignal = (typeof RISK_SIGNALS)[number];

/** A count of failing attempts before the service recovers. */
export const failingTimes = z.number().int().min(1).max(1000);
export const errorStatus = z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(504)]);

