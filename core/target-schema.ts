/**
 * The target profile schema: the shop's own facts, declared once beside its adapter — how it is
 * started, its payment window and reconcile cadence, its catalogue
 * when it cannot list one, which protocol each payment method uses, what it lets Ordeal observe.
 * The single source of the profile's types, its validation, and the JSON Schema for editors.
 */
import { z } from 'zod';
import { durationSchema, PAYMENT_PROTOCOLS } from './schema-parts.js';
import { isReachableUrl, reachRule } from './network-scope.js';

/** Notification channels a shop can use to tell buyers. */
export const NOTIFY_ROUTES = ['api', 'email', 'sms'] as const;

const relativeOrAbsolutePath = z.string().min(1);

/**
 * How Ordeal starts the shop (it gets `PORT`; the `env` values may use `${…}` placeholders). With
 * `attach`, only `env`: the shop's settings, printed by `ordeal target env` for its owner to start it with.
 */
const startSchema = z.strictObject({
  /** Shell command, run in `cwd`, e.g. `node server.js` or `php -S 127.0.0.1:$PORT -t public`. Give this or `attach`. */
  command: z.string().min(1).optional(),
  /** Working folder, relative to the profile's folder. @default the profile's folder */
  cwd: relativeOrAbsolutePath.optional(),
  /** Environment the shop gets, beside `PORT` and Ordeal's own `ORDEAL_*` variables. Values may hold placeholders such as `${payment.epay.url}` (README, "Testing your own shop"). @default {} */
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }), z.string()).default({}),
  /** Path answered 2xx or 3xx once the shop is ready. @default "/health" */
  health: z.string().startsWith('/', { error: 'expected a path starting with "/"' }).default('/health'),
  /** How long the shop may take to become ready. @default "20s" */
  readyTimeout: durationSchema.default(20_000),
});


/** A shop that is already running (in docker, in an IDE): Ordeal neither starts nor stops it. */
const attachSchema = z.strictObject({
  /** The shop's base URL, on loopback: `http://127.0.0.1:8080`, `http://localhost:3000/shop` (in a cluster run, a Service: `http://shop:8080`). */
  url: z.string().refine((text) => isReachableUrl(text), { error: () => `expected an http(s) URL on ${reachRule()}, e.g. http://127.0.0.1:8080` }),
  /** Path answered 2xx or 3xx while the shop is up. @default "/health" */
  health: z.string().startsWith('/', { error: 'expected a path starting with "/"' }).default('/health'),
  /** How long to wait for it to answer before the run fails (exit 3). @default "20s" */
  readyTimeout: durationSchema.default(20_000),
});

const portSchema = z.number().int().min(1, { error: 'expected a port from 1 to 65535' }).max(65535, { error: 'expected a port from 1 to 65535' });

/**
 * Mocks a shop can be configured for once: fixed ports and a key folder kept between runs. An
 * attached shop needs them (it cannot be handed new ones per run); a started one may use them.
 */
const mocksSchema = z.strictObject({
  /** Fixed loopback ports; a mock without one gets a port the OS picks. Scenarios of such a run cannot run in parallel. */
  ports: z
    .strictObject({
      /** The primary payment channel (`${payment.url}`). */
      payment: portSchema.optional(),
      /** The stock supplier (`${stock.url}`). */
      stock: portSchema.optional(),
      /** The notify API and the SMS gateway (`${notify.url}`, `${sms.url}`). */
      notify: portSchema.optional(),
      /** Risk screening (`${risk.url}`). */
      risk: portSchema.optional(),
      /** The mail server's plain port, STARTTLS (`${smtp.port}`). */
      smtp: portSchema.optional(),
      /** The mail server's implicit-TLS port (`${smtps.port}`). */
      smtps: portSchema.optional(),
      /** The payment channels beside the primary (`payment.channels`), by protocol: `{ stripe: 4106 }`. */
      channels: z.partialRecord(z.enum(PAYMENT_PROTOCOLS), portSchema).optional(),
    })
    .optional(),
  /**
   * A folder kept between runs (relative to the profile's folder): the payment, SMS and mail-server
   * credentials are made there on the first run and reused on every later one. Private keys are
   * readable by their owner only.
   */
  keys: relativeOrAbsolutePath.optional(),
});

/** The shop's own timers: deadlines and the settle period follow from them. */
const timersSchema = z.strictObject({
  /** How long an unpaid order stays payable before the shop closes it. */
  paymentWindow: durationSchema.refine((value) => value > 0, { error: 'expected a payment window longer than 0' }),
  /** When the shop first asks the provider about an unpaid order (its reconcile job's delay). @default "5s" */
  reconcileAfter: durationSchema.default(5000),
  /** How often the shop's reconcile job runs after that. @default "5s" */
  reconcileEvery: durationSchema.default(5000),
});

const catalogSchema = z.strictObject({
  skus: z
    .array(
      z.strictObject({
        sku: z.string().min(1),
        /** Unit price in minor units (cents, fen). */
        price: z.number().int().positive(),
        name: z.string().optional(),
      }),
    )
    .min(1),
  coupons: z
    .array(z.strictObject({ code: z.string().min(1), discount: z.number().int().nonnegative(), minAmount: z.number().int().nonnegative() }))
    .default([]),
});

/** What the shop lets Ordeal observe; what it cannot is `n/a` in reports, never a score. */
const observesSchema = z.strictObject({
  /** The shop buys its cards from an external supplier (Ordeal's stock mock); false: it holds its own stock. @default true */
  stockSupplier: z.boolean().default(true),
  /** The shop screens orders with an external risk service and shows holds to buyers. @default true */
  riskScreening: z.boolean().default(true),
  /** How the shop tells buyers. `[]`: it does not (every notify stage is n/a). @default ["api"] */
  notify: z.array(z.enum(NOTIFY_ROUTES)).default(['api']),
  /** Buyers can cancel an unpaid order. @default true */
  buyerCancel: z.boolean().default(true),
  /** The shop asks where the goods go (a game id, a phone number) and can catch a mistyped one. @default true */
  recipient: z.boolean().default(true),
});

export const targetProfileSchema = z
  .strictObject({
    /** Shown in reports. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a name of letters, digits, ".", "_" or "-"' }),
    description: z.string().optional(),
    /**
     * How buyers drive the shop: `contract-v1` (Ordeal's own API), or the path of an adapter — a
     * TypeScript module whose default export is `defineTarget({...})`, or a declarative `.yaml`
     * adapter — relative to the profile's folder. @default "contract-v1"
     */
    adapter: z.string().min(1).default('contract-v1'),
    /** How Ordeal starts the shop for each scenario (with a fresh data folder, and the run's mock URLs and keys). Give `start.command` or `attach`. */
    start: startSchema.prefault({}),
    /** A shop already running at a URL, which Ordeal neither starts nor stops (needs `mocks`). Give this or `start.command`. */
    attach: attachSchema.optional(),
    /** Fixed mock ports and a kept key folder, for a shop configured once (required with `attach`). */
    mocks: mocksSchema.optional(),
    /** The shop's own timers. @default the scenario's `shop` timers (a shop that takes ORDEAL_SHOP_CONFIG) */
    timers: timersSchema.optional(),
    /**
     * Hand the scenario's catalogue and timers to the shop in `ORDEAL_SHOP_CONFIG` (for shops that
     * accept it; Ordeal's reference shop does). With it, `timers` is not needed. @default false
     */
    shopConfig: z.boolean().default(false),
    /** The catalogue, for a shop with no way to list its products. @default the shop's own listing, else the scenario's */
    catalog: catalogSchema.optional(),
    /** How buyers give their contact: a shop that only e-mails needs every buyer to give an address. @default "any" (a mix of phones and e-mail addresses) */
    contact: z.enum(['any', 'email', 'phone']).default('any'),
    /** The payment channels the shop uses, overriding the scenarios' `provider`. */
    payment: z
      .strictObject({
        protocol: z.enum(PAYMENT_PROTOCOLS),
        channels: z.array(z.enum(PAYMENT_PROTOCOLS)).default([]),
        /** Which protocol each payment method the buyers pick goes through, e.g. `{ alipay: epay, wechat: epay }`. @default every method through `protocol` */
        methods: z.record(z.string().min(1), z.enum(PAYMENT_PROTOCOLS)).default({}),
      })
      .optional(),
    /**
     * Defects the shop can switch on (for trying Ordeal on a known-bad build): id → what it does.
     * `--flaws a,b` (or `naive`: all) puts them, comma-separated, into the `${flaws}` placeholder of
     * `start.env`, e.g. `SHOP_FLAWS: ${flaws}`. @default {}
     */
    flaws: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { error: 'expected a flaw id of lowercase letters, digits and "-"' }), z.string()).default({}),
    /**
     * The shop's own wording of its messages, per kind, tried before Ordeal's English and Chinese
     * defaults when an e-mail or SMS is classified: e.g. `{ delivered: ["卡密已发放"], expired: ["订单已关闭"] }`.
     * A `reason:<name>` key gives the wording of a failure's reason, e.g. `"reason:payment_declined": ["卡被拒"]`.
     */
    messages: z.record(z.string().min(1), z.array(z.string().min(1)).min(1)).optional(),
    observes: observesSchema.default({ stockSupplier: true, riskScreening: true, notify: ['api'], buyerCancel: true, recipient: true }),
  })
  .superRefine((profile, context) => {
    checkShopOrigin(profile, context);
    if (!profile.shopConfig && profile.timers === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['timers'],
        message: 'expected the shop\'s own timers (`timers: { paymentWindow: 15m }`), or `shopConfig: true` when the shop takes them from ORDEAL_SHOP_CONFIG',
      });
    }
    if (profile.payment) {
      const protocols = [profile.payment.protocol, ...profile.payment.channels];
      for (const [method, protocol] of Object.entries(profile.payment.methods)) {
        if (!protocols.includes(protocol)) {
          context.addIssue({ code: 'custom', path: ['payment', 'methods', method], message: `"${protocol}" is not one of the shop's channels (${protocols.join(', ')})` });
        }
      }
    }
  });

type ProfileShape = z.output<typeof targetProfileSchema>;

/** Exactly one of `start.command` and `attach`; an attached shop's fixed ports and key folder. */
function checkShopOrigin(profile: ProfileShape, context: z.RefinementCtx<ProfileShape>): void {
  const attach = profile.attach;
  if (attach === undefined) {
    if (profile.start.command === undefined) {
      context.addIssue({ code: 'custom', path: ['start', 'command'], message: 'expected how Ordeal starts the shop (`start.command`), or `attach: { url }` for a shop that is already running' });
    }
    checkDistinctPorts(profile, context);
    return;
  }
  if (profile.start.command !== undefined) {
    context.addIssue({ code: 'custom', path: ['attach'], message: 'give either `start.command` (Ordeal starts the shop) or `attach` (it is already running), not both' });
  }
  if (profile.start.cwd !== undefined) context.addIssue({ code: 'custom', path: ['start', 'cwd'], message: 'an attached shop is not started: only `start.env` (its settings) applies' });
  const mocks = profile.mocks;
  if (mocks === undefined) {
    context.addIssue({
      code: 'custom',
      path: ['mocks'],
      message: 'an attached shop is configured once, so it needs fixed mock ports and a kept key folder: `mocks: { ports: { payment: 4101, … }, keys: ./ordeal-keys }` (`ordeal target env` then prints its settings)',
    });
    return;
  }
  if (mocks.keys === undefined) context.addIssue({ code: 'custom', path: ['mocks', 'keys'], message: 'expected a folder kept between runs for the credentials an attached shop is configured with, e.g. `keys: ./ordeal-keys`' });
  for (const [field, why] of requiredPorts(profile)) {
    const given = field.startsWith('channels.') ? mocks.ports?.channels?.[field.slice('channels.'.length) as keyof NonNullable<MockPortsShape['channels']>] : mocks.ports?.[field as Exclude<keyof MockPortsShape, 'channels'>];
    if (given === undefined) context.addIssue({ code: 'custom', path: ['mocks', 'ports', ...field.split('.')], message: `expected a fixed port for ${why}: an attached shop is configured with it once` });
  }
  checkDistinctPorts(profile, context);
}

type MockPortsShape = NonNullable<NonNullable<ProfileShape['mocks']>['ports']>;

/** The ports an attached shop is configured with: `mocks.ports` field → what listens there. */
function requiredPorts(profile: ProfileShape): Array<[string, string]> {
  const observes = profile.observes;
  const required: Array<[string, string]> = [['payment', 'the payment provider']];
  for (const protocol of profile.payment?.channels ?? []) required.push([`channels.${protocol}`, `the ${protocol} payment channel`]);
  if (observes.stockSupplier) required.push(['stock', 'the stock supplier (or `observes.stockSupplier: false`)']);
  if (observes.riskScreening) required.push(['risk', 'risk screening (or `observes.riskScreening: false`)']);
  if (observes.notify.includes('api') || observes.notify.includes('sms')) required.push(['notify', 'the notify API and SMS gateway']);
  if (observes.notify.includes('email')) required.push(['smtp', 'the mail server (STARTTLS)'], ['smtps', 'the mail server (implicit TLS)']);
  return required;
}

function checkDistinctPorts(profile: ProfileShape, context: z.RefinementCtx<ProfileShape>): void {
  const { channels, ...own } = profile.mocks?.ports ?? {};
  const fields: Array<[string[], number | undefined]> = [
    ...Object.entries(own).map(([name, port]): [string[], number | undefined] => [[name], port]),
    ...Object.entries(channels ?? {}).map(([protocol, port]): [string[], number | undefined] => [['channels', protocol], port]),
  ];
  const seen = new Map<number, string>();
  for (const [path, port] of fields) {
    if (port === undefined) continue;
    const first = seen.get(port);
    if (first !== undefined) context.addIssue({ code: 'custom', path: ['mocks', 'ports', ...path], message: `port ${port} is also mocks.ports.${first}: every mock needs its own` });
    else seen.set(port, path.join('.'));
  }
}

/** A profile as written (friendly units, defaults optional). */
export type TargetProfileInput = z.input<typeof targetProfileSchema>;
/** A validated profile: milliseconds, every default filled in. */
export type TargetProfile = z.output<typeof targetProfileSchema>;
export type TargetObservesSpec = TargetProfile['observes'];

/** JSON Schema of the target profile, for editors. */
export function targetProfileJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(targetProfileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
