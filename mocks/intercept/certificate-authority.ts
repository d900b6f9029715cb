/**
 * The run's own certificate authority: a CA generated for one run (its key never leaves memory),
 * or kept in a folder for a shop configured once to trust it (`keep`), and, per provider host, a leaf certificate it signs, so that a shop trusting the CA file accepts
 * Ordeal's TLS as `api.stripe.com`, `openapi.alipay.com`, … The CA certificate is written as PEM
 * to the folder the shop's environment points at (`NODE_EXTRA_CA_CERTS`, `SSL_CERT_FILE`, …).
 *
 * Node's crypto makes the RSA keys (fast, in the thread pool); node-forge builds and signs the
 * X.509 structures. Extensions follow what strict verifiers demand (OpenSSL 3, Python ≥ 3.13's
 * VERIFY_X509_STRICT): a critical CA basicConstraints and keyUsage, subject and authority key
 * identifiers, and on each leaf a dNSName SAN with serverAuth.
 */
import { generateKeyPair, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { loadForge } from '../forge.js';

const generateRsaPair = promisify(generateKeyPair);

/** The file name of the CA certificate inside the CA folder. */
export const CA_FILE_NAME = 'ca.pem';
/** The file name of a kept CA's private key (`keep`), beside its certificate. */
export const CA_KEY_FILE_NAME = 'ca-key.pem';

const DAY_MS = 86_400_000;
/** Validity starts a day back, so a shop whose clock runs a little behind still accepts it. */
const NOT_BEFORE_MS = DAY_MS;
/** A run never outlives this; a year keeps clients that cap leaf lifetimes (398 days) content. */
const LEAF_LIFETIME_MS = 365 * DAY_MS;
const CA_LIFETIME_MS = 366 * DAY_MS;
/** A kept CA outlives many runs: the shop is configured to trust it once. */
const KEPT_CA_LIFETIME_MS = 10 * 366 * DAY_MS;

/** One host's certificate: PEM texts (the key is shared by every leaf of the run) and a TLS context. */
export interface LeafCertificate {
  host: string;
  certificatePem: string;
  keyPem: string;
  /** Ready for `new tls.TLSSocket(socket, { isServer: true, secureContext })`. */
  secureContext: SecureContext;
}

export interface RunCertificateAuthority {
  /** Absolute path of the CA certificate (PEM), the file the shop is told to trust. */
  caFile: string;
  caCertificatePem: string;
  /** The leaf for `host` (a DNS name, or an IP address), made on first use and cached. */
  leafFor(host: string): LeafCertificate;
  /**
   * One leaf valid for every name given (DNS names and IP addresses; the first is its common name),
   * for a server reached under several, such as the mail server at `localhost` and `127.0.0.1`.
   * Made on first use and cached.
   */
  leafForNames(names: readonly string[]): LeafCertificate;
}

export interface CertificateAuthorityOptions {
  /** Folder the CA certificate is written to (created if missing). */
  caDir: string;
  /** Shown in the CA's common name, to tell runs apart. @default random hex */
  label?: string;
  /** RSA modulus length of the CA and leaf keys, bits. @default 2048 */
  keyBits?: number;
  /**
   * Keep the CA between runs, for a shop configured once to trust it: reuse `ca.pem` and its key
   * `ca-key.pem` (mode 0600) from `caDir` when both are there, else make them and write both.
   * @default false: a new CA whose key never leaves memory
   */
  keep?: boolean;
}

/** Generates the run's CA and writes its certificate to `<caDir>/ca.pem` (with `keep`, reuses the one kept there). */
export async function createCertificateAuthority(options: CertificateAuthorityOptions): Promise<RunCertificateAuthority> {
  const forge = loadForge();
  const keyBits = options.keyBits ?? 2048;
  await mkdir(options.caDir, { recursive: true });
  const caFile = join(options.caDir, CA_FILE_NAME);
  const caKeyFile = join(options.caDir, CA_KEY_FILE_NAME);
  // One key for the CA, one shared by every leaf: a leaf key per host would only cost time.
  const leafPairMade = rsaPair(keyBits);
  const kept = options.keep ? await readKeptAuthority(caFile, caKeyFile) : undefined;
  const made = kept ?? newAuthority(await rsaPair(keyBits), options.label ?? randomBytes(4).toString('hex'), options.keep ? KEPT_CA_LIFETIME_MS : CA_LIFETIME_MS);
  const leafPair = await leafPairMade;
  if (!kept) {
    await writeFile(caFile, made.certificatePem);
    // The key leaves memory only for a kept CA, readable by its owner alone.
    if (options.keep) await writeFile(caKeyFile, made.keyPem, { mode: 0o600 });
  }
  const ca = forge.pki.certificateFromPem(made.certificatePem);
  const caKey = forge.pki.privateKeyFromPem(made.keyPem);
  const caName = ca.subject.attributes;
  const caCertificatePem = made.certificatePem;
  const caKeyIdentifier = ca.generateSubjectKeyIdentifier().getBytes();

  const leafPublicKey = forge.pki.publicKeyFromPem(leafPair.publicKey);
  const leaves = new Map<string, LeafCertificate>();

  const issueLeaf = (names: readonly string[]): LeafCertificate => {
    const host = names[0] ?? 'localhost';
    const leaf = forge.pki.createCertificate();
    leaf.publicKey = leafPublicKey;
    leaf.serialNumber = positiveSerial();
    const issuedAt = Date.now();
    leaf.validity.notBefore = new Date(issuedAt - NOT_BEFORE_MS);
    leaf.validity.notAfter = new Date(issuedAt + LEAF_LIFETIME_MS);
    leaf.setSubject([{ name: 'commonName', value: host }]);
    leaf.setIssuer(caName);
    leaf.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      // Type 7 is an iPAddress entry (verifiers match an IP host only against those), 2 a dNSName.
      { name: 'subjectAltName', altNames: names.map((name) => (isIP(name) === 0 ? { type: 2, value: name } : { type: 7, ip: name })) },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier },
    ]);
    leaf.sign(caKey, forge.md.sha256.create());
    const certificatePem = forge.pki.certificateToPem(leaf);
    return {
      host,
      certificatePem,
      keyPem: leafPair.privateKey,
      secureContext: createSecureContext({ key: leafPair.privateKey, cert: certificatePem }),
    };
  };

  const leafForNames = (names: readonly string[]): LeafCertificate => {
    const lower = names.map((name) => name.toLowerCase());
    const key = lower.join(' ');
    let leaf = leaves.get(key);
    if (!leaf) {
      leaf = issueLeaf(lower);
      leaves.set(key, leaf);
    }
    return leaf;
  };

  return { caFile, caCertificatePem, leafFor: (host) => leafForNames([host]), leafForNames };
}

/** A new CA certificate (PEM) for `pair`, self-signed. */
function newAuthority(pair: { privateKey: string; publicKey: string }, label: string, lifetimeMs: number): { certificatePem: string; keyPem: string } {
  const forge = loadForge();
  const caKey = forge.pki.privateKeyFromPem(pair.privateKey);
  const now = Date.now();
  const ca = forge.pki.createCertificate();
  ca.publicKey = forge.pki.publicKeyFromPem(pair.publicKey);
  ca.serialNumber = positiveSerial();
  ca.validity.notBefore = new Date(now - NOT_BEFORE_MS);
  ca.validity.notAfter = new Date(now + lifetimeMs);
  const caName = [
    { name: 'commonName', value: `Ordeal run CA ${label}` },
    { name: 'organizationName', value: 'Ordeal test run (not a real authority)' },
  ];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKey, forge.md.sha256.create());
  return { certificatePem: forge.pki.certificateToPem(ca), keyPem: pair.privateKey };
}

/** The CA kept in a folder, when both its files are there and it is still valid; else undefined (a new one replaces it). */
async function readKeptAuthority(caFile: string, caKeyFile: string): Promise<{ certificatePem: string; keyPem: string } | undefined> {
  let certificatePem: string;
  let keyPem: string;
  try {
    [certificatePem, keyPem] = await Promise.all([readFile(caFile, 'utf8'), readFile(caKeyFile, 'utf8')]);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const forge = loadForge();
  const certificate = forge.pki.certificateFromPem(certificatePem);
  const key = forge.pki.privateKeyFromPem(keyPem);
  // A key that is not the certificate's would sign leaves nobody can verify.
  if (forge.pki.publicKeyToPem(certificate.publicKey) !== forge.pki.publicKeyToPem(forge.pki.setRsaPublicKey(key.n, key.e))) {
    throw new Error(`${caKeyFile} is not the key of ${caFile}; remove both to have a new CA made`);
  }
  return certificate.validity.notAfter.getTime() > Date.now() ? { certificatePem, keyPem } : undefined;
}

async function rsaPair(bits: number): Promise<{ privateKey: string; publicKey: string }> {
  return generateRsaPair('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
}

/** 16 random bytes as hex, the first below 0x80 (DER integers are signed; serials must be positive). */
function positiveSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 1) & 0x7f) | 0x01;
  return bytes.toString('hex');
}
