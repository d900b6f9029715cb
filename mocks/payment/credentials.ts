/**
 * The keys a run's payment personalities sign and verify with, generated fresh for every run, and
 * the files a shop's configuration needs (written to the run folder's `keys/`, never into reports).
 *
 * Each protocol has its own set, shaped after what the provider hands a merchant:
 * - native: the callback secret (`ORDEAL_PAYMENT_SECRET`);
 * - epay: merchant number `pid` and the shared MD5 `key`;
 * - alipay: `app_id`, the merchant's RSA key pair (the merchant signs with the private key, the
 *   gateway verifies with the public key) and the gateway's pair (the "Alipay public key" shops
 *   verify responses and notifies with);
 * - wechatpay: `mchid`/`appid`, the merchant's key pair and API certificate serial, the platform's
 *   key pair with its certificate and serial, and the 32-byte APIv3 key notifies are encrypted with;
 * - stripe: a secret key, a publishable key and a webhook endpoint secret.
 */
import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { loadForge } from '../forge.js';
import type { PaymentProtocol } from '../../core/schema-parts.js';

export interface NativeCredentials {
  /** HMAC-SHA256 secret of `Ordeal-Signature` (ORDEAL_PAYMENT_SECRET). */
  secret: string;
}

export interface EpayCredentials {
  /** Merchant number. */
  pid: string;
  /** The shared MD5 signing key. */
  key: string;
}

/** PEM texts: private keys PKCS#8, public keys SPKI. */
export interface AlipayCredentials {
  appId: string;
  merchantPrivateKey: string;
  merchantPublicKey: string;
  /** The gateway's own pair: it signs responses and notifies with the private key. */
  alipayPrivateKey: string;
  alipayPublicKey: string;
}

export interface WechatpayCredentials {
  mchid: string;
  appid: string;
  merchantPrivateKey: string;
  merchantPublicKey: string;
  /** The merchant's API certificate (`apiclient_cert.pem`), and its serial as the `serial_no` requests carry. */
  merchantCertificate: string;
  merchantSerial: string;
  /** The platform's pair: it signs responses and notifies; shops verify with the certificate. */
  platformPrivateKey: string;
  platformCertificate: string;
  /** Upper-case hex, as the `Wechatpay-Serial` header carries it. */
  platformSerial: string;
  /** 32 ASCII characters: the AEAD_AES_256_GCM key of notify resources. */
  apiV3Key: string;
}

export interface StripeCredentials {
  /** `sk_test_…`: the merchant's server-side key (Bearer). */
  secretKey: string;
  /** `pk_test_…`: what a browser (the buyer at checkout) uses. */
  publishableKey: string;
  /** `whsec_…`: the webhook endpoint's signing secret. */
  webhookSecret: string;
}

export interface ProtocolCredentials {
  native: NativeCredentials;
  epay: EpayCredentials;
  alipay: AlipayCredentials;
  wechatpay: WechatpayCredentials;
  stripe: StripeCredentials;
}

/** A file of `keys/`: its name, its text, and which setting of a shop it is for. */
export interface KeyFile {
  name: string;
  content: string;
  purpose: string;
}

/** Random characters from `alphabet` (the digits and letters the providers' own ids use). */
function randomText(length: number, alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'): string {
  const bytes = randomBytes(length);
  let text = '';
  for (const byte of bytes) text += alphabet[byte % alphabet.length];
  return text;
}

function digits(length: number): string {
  return randomText(length, '0123456789');
}

interface RsaPair {
  privateKey: string;
  publicKey: string;
  publicKeyObject: KeyObject;
}

function rsaPair(): RsaPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    publicKeyObject: publicKey,
  };
}

/**
 * A certificate for `pair`, self-issued (nothing but the run trusts it), valid from a day ago for
 * a year, with a random serial. Returns the PEM and the serial as upper-case hex.
 */
export function selfSignedCertificate(pair: { privateKey: string; publicKey: string }, commonName: string): { pem: string; serial: string } {
  const forge = loadForge();
  const certificate = forge.pki.createCertificate();
  certificate.publicKey = forge.pki.publicKeyFromPem(pair.publicKey);
  // A positive serial: the first hex digit below 8.
  const serial = `${randomText(1, '1234567')}${randomText(39, '0123456789ABCDEF')}`;
  certificate.serialNumber = serial;
  const now = Date.now();
  certificate.validity.notBefore = new Date(now - 86_400_000);
  certificate.validity.notAfter = new Date(now + 365 * 86_400_000);
  const name = [
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'Ordeal test run' },
  ];
  certificate.setSubject(name);
  certificate.setIssuer(name);
  certificate.sign(forge.pki.privateKeyFromPem(pair.privateKey), forge.md.sha256.create());
  return { pem: forge.pki.certificateToPem(certificate), serial };
}

const GENERATORS: { [P in PaymentProtocol]: () => ProtocolCredentials[P] } = {
  native: () => ({ secret: randomBytes(24).toString('hex') }),
  epay: () => ({ pid: `10${digits(4)}`, key: randomText(32) }),
  alipay: () => {
    const merchant = rsaPair();
    const gateway = rsaPair();
    return {
      appId: `2021${digits(12)}`,
      merchantPrivateKey: merchant.privateKey,
      merchantPublicKey: merchant.publicKey,
      alipayPrivateKey: gateway.privateKey,
      alipayPublicKey: gateway.publicKey,
    };
  },
  wechatpay: () => {
    const merchant = rsaPair();
    const platform = rsaPair();
    const mchid = `16${digits(8)}`;
    const merchantCertificate = selfSignedCertificate(merchant, mchid);
    const platformCertificate = selfSignedCertificate(platform, 'Tenpay.com Root CA (Ordeal run)');
    return {
      mchid,
      appid: `wx${createHash('sha256').update(randomBytes(8)).digest('hex').slice(0, 16)}`,
      merchantPrivateKey: merchant.privateKey,
      merchantPublicKey: merchant.publicKey,
      merchantCertificate: merchantCertificate.pem,
      merchantSerial: merchantCertificate.serial,
      platformPrivateKey: platform.privateKey,
      platformCertificate: platformCertificate.pem,
      platformSerial: platformCertificate.serial,
      apiV3Key: randomText(32),
    };
  },
  stripe: () => ({
    secretKey: `sk_test_${randomText(99)}`,
    publishableKey: `pk_test_${randomText(99)}`,
    webhookSecret: `whsec_${randomText(32)}`,
  }),
};

/** Fresh credentials for `protocol` (RSA protocols take a few hundred ms: 2048-bit keys). */
export function generateCredentials<P extends PaymentProtocol>(protocol: P): ProtocolCredentials[P] {
  return GENERATORS[protocol]();
}

/** A payment channel: a protocol and the run's credentials for it. */
export type PaymentChannel = { [P in PaymentProtocol]: { protocol: P; credentials: ProtocolCredentials[P] } }[PaymentProtocol];

/** A channel for `protocol` with fresh credentials. */
export function newChannel(protocol: PaymentProtocol): PaymentChannel {
  // Each generator makes its own protocol's credentials; the compiler cannot follow that pairing through the union.
  return { protocol, credentials: GENERATORS[protocol]() } as PaymentChannel;
}

const FILES: { [P in PaymentProtocol]: (credentials: ProtocolCredentials[P]) => KeyFile[] } = {
  native: ({ secret }) => [{ name: 'native-secret.txt', content: secret, purpose: 'ORDEAL_PAYMENT_SECRET: the HMAC secret of Ordeal-Signature on callbacks' }],
  epay: ({ pid, key }) => [
    { name: 'epay-pid.txt', content: pid, purpose: '易支付 merchant number (商户ID, pid)' },
    { name: 'epay-key.txt', content: key, purpose: '易支付 merchant key (商户密钥, the MD5 signing key)' },
  ],
  alipay: ({ appId, merchantPrivateKey, merchantPublicKey, alipayPublicKey }) => [
    { name: 'alipay-app-id.txt', content: appId, purpose: 'Alipay app_id (alipay-sdk `appId`)' },
    { name: 'alipay-app-private-key.pem', content: merchantPrivateKey, purpose: 'the merchant application private key, PKCS#8 (alipay-sdk `privateKey`, keyType PKCS8)' },
    { name: 'alipay-app-public-key.pem', content: merchantPublicKey, purpose: 'the merchant application public key (what a merchant uploads to Alipay; Ordeal verifies requests with it)' },
    { name: 'alipay-public-key.pem', content: alipayPublicKey, purpose: 'the "Alipay public key" responses and notifies are verified with (alipay-sdk `alipayPublicKey`)' },
  ],
  wechatpay: ({ mchid, appid, merchantPrivateKey, merchantCertificate, merchantSerial, platformCertificate, platformSerial, apiV3Key }) => [
    { name: 'wechatpay-mchid.txt', content: mchid, purpose: 'WeChat Pay merchant id (wechatpay-axios-plugin `mchid`)' },
    { name: 'wechatpay-appid.txt', content: appid, purpose: 'the appid orders are created for (`appid` of each order)' },
    { name: 'wechatpay-apiclient-key.pem', content: merchantPrivateKey, purpose: 'the merchant API private key, apiclient_key.pem, PKCS#8 (plugin `privateKey`): requests are signed with it' },
    { name: 'wechatpay-apiclient-cert.pem', content: merchantCertificate, purpose: 'the merchant API certificate (apiclient_cert.pem)' },
    { name: 'wechatpay-merchant-serial.txt', content: merchantSerial, purpose: 'the merchant certificate serial (plugin `serial`; serial_no in the Authorization header)' },
    { name: 'wechatpay-platform-cert.pem', content: platformCertificate, purpose: 'the platform certificate answers and notifies are verified with (plugin `certs: { <platform serial>: <this file> }`)' },
    { name: 'wechatpay-platform-serial.txt', content: platformSerial, purpose: 'the platform certificate serial (the key of plugin `certs`; Wechatpay-Serial)' },
    { name: 'wechatpay-apiv3-key.txt', content: apiV3Key, purpose: 'the APIv3 key: notify resources are AEAD_AES_256_GCM-encrypted with it (Aes.AesGcm.decrypt)' },
  ],
  stripe: ({ secretKey, publishableKey, webhookSecret }) => [
    { name: 'stripe-secret-key.txt', content: secretKey, purpose: 'STRIPE_SECRET_KEY (sk_test_…)' },
    { name: 'stripe-publishable-key.txt', content: publishableKey, purpose: 'STRIPE_PUBLISHABLE_KEY (pk_test_…)' },
    { name: 'stripe-webhook-secret.txt', content: webhookSecret, purpose: 'STRIPE_WEBHOOK_SECRET (whsec_…, for stripe.webhooks.constructEvent); events go to the endpoint the shop registers with POST /v1/webhook_endpoints' },
  ],
};

/** The files of `keys/` for a channel: what a shop's configuration points at. */
export function credentialFiles(channel: PaymentChannel): KeyFile[] {
  return fileList(channel.protocol, channel.credentials);
}

function fileList<P extends PaymentProtocol>(protocol: P, credentials: ProtocolCredentials[P]): KeyFile[] {
  const files: (credentials: ProtocolCredentials[P]) => KeyFile[] = FILES[protocol];
  return files(credentials);
}

/** Every field of each protocol's credentials (all text): what a kept set must hold. */
const FIELDS: { [P in PaymentProtocol]: ReadonlyArray<keyof ProtocolCredentials[P]> } = {
  native: ['secret'],
  epay: ['pid', 'key'],
  alipay: ['appId', 'merchantPrivateKey', 'merchantPublicKey', 'alipayPrivateKey', 'alipayPublicKey'],
  wechatpay: ['mchid', 'appid', 'merchantPrivateKey', 'merchantPublicKey', 'merchantCertificate', 'merchantSerial', 'platformPrivateKey', 'platformCertificate', 'platformSerial', 'apiV3Key'],
  stripe: ['secretKey', 'publishableKey', 'webhookSecret'],
};

/**
 * A channel from credentials kept between runs (a channel's `credentials` as JSON data), or
 * undefined when `data` is not a complete set for `protocol`: every field, each a non-empty text.
 */
export function channelFromKept(protocol: PaymentProtocol, data: unknown): PaymentChannel | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const record = data as Record<string, unknown>;
  const fields: ReadonlyArray<string> = FIELDS[protocol] as ReadonlyArray<string>;
  const credentials: Record<string, string> = {};
  for (const field of fields) {
    const value = record[field];
    if (typeof value !== 'string' || value === '') return undefined;
    credentials[field] = value;
  }
  // Every field of the protocol's set was checked above; the compiler cannot follow that through the union.
  return { protocol, credentials } as unknown as PaymentChannel;
}
