import { X509Certificate, createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { HubError } from '../core/errors.js';
import { parseParticipant } from './identity.js';

/**
 * PKI tooling, off the hot path (see STACK.md §3 "Signing"): development CAs, certificates and CSRs; PKCS#12 import;
 * reading certificate fields Node's X509Certificate does not expose. Keys are made and used by node:crypto (KeyObjects).
 *
 * Certificates and CSRs are assembled here with `forge.asn1` and signed with node:crypto, because node-forge can
 * neither hold an EC key nor sign with ECDSA. forge still fills in the encodings of names and extensions, so RSA and
 * EC certificates share one profile. Signature: sha256WithRSAEncryption or ecdsa-with-SHA256, chosen by the *issuer's*
 * key, so an RSA CA can issue an EC certificate and an EC CA an RSA one. Keys: RSA-2048 (the interoperable default,
 * what licensed Vietnamese CAs issue) or ECDSA P-256 (`keyType: 'ec'`, for internal links we control).
 *
 * Chains are validated by trust-store.ts (key usage, path length, CRLs), never here.
 */

export type KeyType = 'rsa' | 'ec';
export type CertificateUsage = 'hub' | 'client' | 'server';

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface CertificateDescription {
  subject: string;
  issuer: string;
  serialNumber: string;
  validFrom: Date;
  validTo: Date;
  fingerprint256: string;
  /** `RSA-2048`, `EC P-256`, … */
  keyAlgorithm: string;
  /** From the `urn:lienthong:participant:` URI SAN, when present and valid. */
  participant?: string;
  isCa: boolean;
  /** keyUsage bits by name (digitalSignature, keyEncipherment, keyCertSign, …); empty when the extension is absent. */
  keyUsage: string[];
  /** extKeyUsage by name (serverAuth, clientAuth) or OID. */
  extKeyUsage: string[];
  /** The subjectAltName as Node prints it, e.g. `DNS:localhost, URI:urn:lienthong:participant:…`. */
  subjectAltName?: string;
}

export const PARTICIPANT_URN_PREFIX = 'urn:lienthong:participant:';

const DAY_MS = 86_400_000;
/** Certificates start 5 minutes in the past so that a peer whose clock runs a little behind accepts them at once. */
const BACKDATE_MS = 5 * 60_000;

function fail(type: string, message: string, cause?: unknown): HubError {
  return new HubError(type, message, { status: 400, cause });
}

// ------------------------------------------------------------------------------------------------
// DER plumbing (forge.asn1), shared with crl.ts
// ------------------------------------------------------------------------------------------------

type Asn1 = forge.asn1.Asn1;
const { Class, Type } = forge.asn1;

/** Keep BIT STRING contents as bytes: forge would otherwise try to parse them, and re-encode what it parsed. */
const DER_OPTIONS = { decodeBitStrings: false } as unknown as boolean; // @types/node-forge types the 2nd argument as `strict`

export function derToAsn1(der: Buffer | Uint8Array): Asn1 {
  return forge.asn1.fromDer(Buffer.from(der).toString('binary'), DER_OPTIONS);
}

export function asn1ToDer(node: Asn1): Buffer {
  return Buffer.from(forge.asn1.toDer(node).getBytes(), 'binary');
}

export function childrenOf(node: Asn1 | undefined): Asn1[] {
  return Array.isArray(node?.value) ? node.value : [];
}

export const der = {
  sequence: (items: Asn1[]) => forge.asn1.create(Class.UNIVERSAL, Type.SEQUENCE, true, items),
  set: (items: Asn1[]) => forge.asn1.create(Class.UNIVERSAL, Type.SET, true, items),
  oid: (oid: string) => forge.asn1.create(Class.UNIVERSAL, Type.OID, false, forge.asn1.oidToDer(oid).getBytes()),
  null: () => forge.asn1.create(Class.UNIVERSAL, Type.NULL, false, ''),
  /** A non-negative INTEGER from big-endian bytes (a leading 0x00 is added when the high bit is set). */
  unsignedInteger: (bytes: Buffer) => {
    let trimmed = bytes;
    while (trimmed.length > 1 && trimmed[0] === 0) trimmed = trimmed.subarray(1);
    const content = trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
    return forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, content.toString('binary'));
  },
  integer: (value: number) => forge.asn1.create(Class.UNIVERSAL, Type.INTEGER, false, forge.asn1.integerToDer(value).getBytes()),
  enumerated: (value: number) => forge.asn1.create(Class.UNIVERSAL, Type.ENUMERATED, false, String.fromCharCode(value)),
  octets: (bytes: Buffer) => forge.asn1.create(Class.UNIVERSAL, Type.OCTETSTRING, false, bytes.toString('binary')),
  bits: (bytes: Buffer) => forge.asn1.create(Class.UNIVERSAL, Type.BITSTRING, false, `\u0000${bytes.toString('binary')}`),
  boolean: (value: boolean) => forge.asn1.create(Class.UNIVERSAL, Type.BOOLEAN, false, value ? '\u00ff' : '\u0000'),
  tagged: (tag: number, items: Asn1[]) => forge.asn1.create(Class.CONTEXT_SPECIFIC, tag, true, items),
  /** RFC 5280 §4.1.2.5 / §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050. Whole seconds. */
  time: (date: Date) =>
    date.getUTCFullYear() < 2050
      ? forge.asn1.create(Class.UNIVERSAL, Type.UTCTIME, false, forge.asn1.dateToUtcTime(date))
      : forge.asn1.create(Class.UNIVERSAL, Type.GENERALIZEDTIME, false, forge.asn1.dateToGeneralizedTime(date)),
};

export function isTime(node: Asn1 | undefined): boolean {
  return node?.tagClass === Class.UNIVERSAL && (node.type === Type.UTCTIME || node.type === Type.GENERALIZEDTIME);
}

export function timeOf(node: Asn1): Date {
  const text = node.value as string;
  return node.type === Type.UTCTIME ? forge.asn1.utcTimeToDate(text) : forge.asn1.generalizedTimeToDate(text);
}

/** An INTEGER's content as a serial number in the form normalizeSerial gives. */
export function integerHex(node: Asn1): string {
  return normalizeSerial(forge.util.bytesToHex(node.value as string));
}

/**
 * A serial number the way X509Certificate.serialNumber prints it, so serials compare as numbers: upper-case hex of the
 * shortest whole bytes (`0x00AB` and `ab` are both `AB`; `0x0A12` is `0A12`).
 */
export function normalizeSerial(hex: string): string {
  const digits = hex.toUpperCase().replace(/^0+/, '');
  return digits.length % 2 === 1 ? `0${digits}` : digits || '00';
}

export function toPem(label: string, body: Buffer): string {
  const lines = body.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ------------------------------------------------------------------------------------------------
// names
// ------------------------------------------------------------------------------------------------

const NAME_LABELS: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
};

function attributesOf(name: Asn1): Array<Array<{ oid: string; value: string }>> {
  return childrenOf(name).map((rdn) =>
    childrenOf(rdn).map((pair) => {
      const [type, value] = childrenOf(pair);
      return { oid: forge.asn1.derToOid(type!.value as string), value: stringValue(value!) };
    }),
  );
}

function stringValue(node: Asn1): string {
  const bytes = Buffer.from(node.value as string, 'binary');
  if (node.type === Type.UTF8) return bytes.toString('utf8');
  if (node.type === Type.BMPSTRING) return bytes.swap16().toString('utf16le');
  return bytes.toString('latin1');
}

/** A Name on one line for messages, e.g. `C=VN, O=Lienthong, CN=Lienthong Dev CA`. */
export function nameText(name: Asn1): string {
  return attributesOf(name)
    .map((rdn) => rdn.map((attribute) => `${NAME_LABELS[attribute.oid] ?? attribute.oid}=${attribute.value}`).join(' + '))
    .join(', ');
}

/**
 * A Name as a comparison key: attribute types and values in order, values compared case-insensitively with white space
 * collapsed (RFC 5280 §7.1 asks for this much; full RFC 4518 string preparation is not done).
 */
export function nameKey(name: Asn1): string {
  const normalize = (value: string) => value.normalize('NFC').trim().replace(/\s+/g, ' ').toLowerCase();
  return JSON.stringify(attributesOf(name).map((rdn) => rdn.map((attribute) => [attribute.oid, normalize(attribute.value)]).sort()));
}

// ------------------------------------------------------------------------------------------------
// reading certificates' DER (Node's X509Certificate does not expose these fields)
// ------------------------------------------------------------------------------------------------

export interface CertificateExtension {
  oid: string;
  critical: boolean;
  /** The extnValue contents: the DER of the extension's own structure, as a binary string. */
  value: string;
}

interface CertificateFields {
  subjectName: Asn1;
  extensions: CertificateExtension[];
}

const fieldsCache = new WeakMap<X509Certificate, CertificateFields>();

function fieldsOf(cert: X509Certificate): CertificateFields {
  const cached = fieldsCache.get(cert);
  if (cached) return cached;
  const tbs = childrenOf(childrenOf(derToAsn1(cert.raw))[0]);
  const first = tbs[0]?.tagClass === Class.CONTEXT_SPECIFIC ? 1 : 0; // [0] version is absent in v1 certificates
  // serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, then optional [1] [2] [3]
  const explicit3 = tbs.slice(first + 6).find((node) => node.tagClass === Class.CONTEXT_SPECIFIC && node.type === 3);
  const fields: CertificateFields = {
    subjectName: tbs[first + 4]!,
    extensions: extensionList(childrenOf(explicit3)[0]),
  };
  fieldsCache.set(cert, fields);
  return fields;
}

/** An `Extensions` SEQUENCE as a list (certificates, CRLs and CRL entries share the structure). */
export function extensionList(extensions: Asn1 | undefined): CertificateExtension[] {
  return childrenOf(extensions).map((extension) => {
    const parts = childrenOf(extension);
    const critical = parts.length === 3 && parts[1]!.type === Type.BOOLEAN && parts[1]!.value !== '\u0000';
    return { oid: forge.asn1.derToOid(parts[0]!.value as string), critical, value: parts[parts.length - 1]!.value as string };
  });
}

export function extensionsOf(cert: X509Certificate): CertificateExtension[] {
  return fieldsOf(cert).extensions;
}

export function subjectNameOf(cert: X509Certificate): Asn1 {
  return fieldsOf(cert).subjectName;
}

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  extensionRequest: '1.2.840.113549.1.9.14',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

function extensionValue(cert: X509Certificate, oid: string): Asn1 | undefined {
  const extension = extensionsOf(cert).find((candidate) => candidate.oid === oid);
  return extension ? forge.asn1.fromDer(extension.value, DER_OPTIONS) : undefined;
}

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'];
const EXT_KEY_USAGE: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
};

/** The keyUsage bits of a certificate by name, or undefined when the extension is absent. Any key algorithm. */
export function keyUsageOf(cert: X509Certificate): string[] | undefined {
  const value = extensionValue(cert, OID.keyUsage);
  if (!value) return undefined;
  const bits = value.value as string;
  return KEY_USAGE_BITS.filter((_, index) => {
    const byte = bits.charCodeAt(1 + (index >> 3)); // the first byte counts the unused bits
    return !Number.isNaN(byte) && (byte & (0x80 >> (index & 7))) !== 0;
  });
}

/** basicConstraints (cA, pathLenConstraint), or undefined when the extension is absent. */
export function basicConstraintsOf(cert: X509Certificate): { cA: boolean; pathLength?: number } | undefined {
  const value = extensionValue(cert, OID.basicConstraints);
  if (!value) return undefined;
  let cA = false;
  let pathLength: number | undefined;
  for (const node of childrenOf(value)) {
    if (node.type === Type.BOOLEAN) cA = node.value !== '\u0000';
    if (node.type === Type.INTEGER) pathLength = forge.asn1.derToInteger(node.value as string);
  }
  return pathLength === undefined ? { cA } : { cA, pathLength };
}

/** The subjectKeyIdentifier extension's bytes, if present. */
export function subjectKeyIdOf(cert: X509Certificate): Buffer | undefined {
  const value = extensionValue(cert, OID.subjectKeyIdentifier);
  return value ? Buffer.from(value.value as string, 'binary') : undefined;
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING (without its unused-bits byte). */
export function keyIdOf(publicKey: KeyObject): Buffer {
  const subjectPublicKey = childrenOf(spkiAsn1(publicKey))[1]!.value as string;
  return createHash('sha1').update(Buffer.from(subjectPublicKey.slice(1), 'binary')).digest();
}

function spkiAsn1(publicKey: KeyObject): Asn1 {
  return derToAsn1(publicKey.export({ type: 'spki', format: 'der' }));
}

// ------------------------------------------------------------------------------------------------
// signing DER with node:crypto
// ------------------------------------------------------------------------------------------------

export interface SignatureAlgorithm {
  name: 'sha256WithRSAEncryption' | 'ecdsa-with-SHA256';
  oid: string;
}

/** The signature algorithm for a signing key: RSA → sha256WithRSAEncryption, EC P-256 → ecdsa-with-SHA256. */
export function signatureAlgorithmFor(key: KeyObject): SignatureAlgorithm {
  if (key.asymmetricKeyType === 'rsa') return { name: 'sha256WithRSAEncryption', oid: OID.sha256WithRSAEncryption };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { name: 'ecdsa-with-SHA256', oid: OID.ecdsaWithSha256 };
  throw fail('trust.unsupported-key-type', `khóa ký không được hỗ trợ / unsupported signing key (${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}): use RSA or ECDSA P-256`);
}

/** RFC 4055 puts NULL parameters after the RSA OIDs; RFC 5758 says ECDSA ones have none. */
export function algorithmIdentifier(algorithm: SignatureAlgorithm): Asn1 {
  return der.sequence(algorithm.name === 'sha256WithRSAEncryption' ? [der.oid(algorithm.oid), der.null()] : [der.oid(algorithm.oid)]);
}

/** `SEQUENCE { tbs, algorithm, BIT STRING signature }`, the shape of certificates, CRLs and CSRs; `tbs` must name `algorithm`. */
export function signStructure(tbs: Asn1, algorithm: SignatureAlgorithm, key: KeyObject): Buffer {
  const signature = sign('sha256', asn1ToDer(tbs), key); // ECDSA: DER Ecdsa-Sig-Value, as X.509 wants (node's default)
  return asn1ToDer(der.sequence([tbs, algorithmIdentifier(algorithm), der.bits(signature)]));
}

// ------------------------------------------------------------------------------------------------
// keys and parsing
// ------------------------------------------------------------------------------------------------

/** A private key as a node:crypto KeyObject (PKCS#8, PKCS#1 or SEC1 PEM; `passphrase` for an encrypted PEM). */
export function loadPrivateKey(pem: string | Buffer, passphrase?: string): KeyObject {
  try {
    return createPrivateKey(passphrase === undefined ? pem : { key: pem, passphrase });
  } catch (error) {
    throw fail('trust.bad-key', 'không đọc được khóa bí mật / cannot read the private key (expected a PEM private key, and the right passphrase if it is encrypted)', error);
  }
}

/** The first certificate of a PEM text (or DER bytes) as Node's X509Certificate. */
export function loadCertificate(pem: string | Buffer): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw fail('trust.bad-certificate', 'không đọc được chứng thư số / cannot read the certificate (expected PEM "BEGIN CERTIFICATE")', error);
  }
}

/** Every `-----BEGIN CERTIFICATE-----` block of a bundle, in order. */
export function splitPemCertificates(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)?.map((pem) => `${pem}\n`) ?? [];
}

interface NewKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyPem: string;
}

/** A fresh key from node:crypto (native: ~50 ms for RSA-2048, ~1 ms for P-256). */
function newKey(keyType: KeyType): NewKey {
  const { privateKey, publicKey } = keyType === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { privateKey, publicKey, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

function keyTypeOrThrow(keyType: KeyType | undefined): KeyType {
  if (keyType === undefined) return 'rsa';
  if (keyType === 'rsa' || keyType === 'ec') return keyType;
  throw fail('trust.unsupported-key-type', `loại khóa không được hỗ trợ / unsupported key type ${JSON.stringify(String(keyType).slice(0, 32))}: use "rsa" (RSA-2048, the default) or "ec" (ECDSA P-256)`);
}

function serialNumber(): Buffer {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01; // positive and exactly 16 bytes
  return bytes;
}

/** notBefore/notAfter for `days`, never past `notAfterLimit` (a certificate must not outlive its issuer). */
function validity(days: number, notAfterLimit?: Date): { notBefore: Date; notAfter: Date } {
  if (!Number.isFinite(days) || days <= 0 || days > 36_500) throw fail('trust.bad-request', 'validDays must be a number of days between 1 and 36500');
  const now = Date.now();
  const notAfter = new Date(now + days * DAY_MS);
  return { notBefore: new Date(now - BACKDATE_MS), notAfter: notAfterLimit && notAfter > notAfterLimit ? notAfterLimit : notAfter };
}

function participantOrThrow(participant: string): string {
  parseParticipant(participant); // throws trust.bad-identity naming the faulty part
  return participant;
}

/** X.520 PrintableString characters (no "_"; serialNumber must be a PrintableString). */
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * The subject: C=VN, O (UTF8String, so Vietnamese names survive), serialNumber = the participant when it is a valid
 * PrintableString (a subsystem with "_" is not: then only the URI SAN names the participant), CN (UTF8String).
 */
function subjectFields(options: { country?: string; organization?: string; participant?: string; commonName: string }): forge.pki.CertificateField[] {
  const utf8 = forge.asn1.Type.UTF8 as unknown as forge.asn1.Class; // @types/node-forge mistypes valueTagClass
  const fields: forge.pki.CertificateField[] = [{ name: 'countryName', value: options.country ?? 'VN' }];
  if (options.organization) fields.push({ name: 'organizationName', value: options.organization, valueTagClass: utf8 });
  if (options.participant && PRINTABLE.test(options.participant)) fields.push({ name: 'serialNumber', value: options.participant });
  fields.push({ name: 'commonName', value: options.commonName, valueTagClass: utf8 });
  return fields;
}

// ------------------------------------------------------------------------------------------------
// making certificates
// ------------------------------------------------------------------------------------------------

/** forge's extension descriptions (`{ name: 'keyUsage', digitalSignature: true, … }`); forge encodes them. */
type ExtensionSpec = Record<string, unknown>;

/** forge's name and extension encoders, which @types/node-forge does not declare. */
const forgeEncoders = forge.pki as unknown as { certificateExtensionToAsn1(extension: ExtensionSpec): Asn1 };

/**
 * forge fills in the OIDs, string types and values of names and extensions when they are set on a certificate object;
 * that object is used only for this, never signed (it cannot hold an EC key).
 */
function encodeNameAndExtensions(subject: forge.pki.CertificateField[], extensions: ExtensionSpec[]): { name: Asn1; extensions: Asn1[] } {
  const holder = forge.pki.createCertificate();
  holder.setSubject(subject);
  holder.setExtensions(extensions);
  return {
    name: forge.pki.distinguishedNameToAsn1(holder.subject),
    extensions: (holder.extensions as ExtensionSpec[]).map((extension) => forgeEncoders.certificateExtensionToAsn1(extension)),
  };
}

function subjectKeyIdExtension(publicKey: KeyObject): ExtensionSpec {
  return { name: 'subjectKeyIdentifier', value: der.octets(keyIdOf(publicKey)) };
}

/** What signs a certificate: the CA's certificate, key, name (as encoded in its certificate) and key identifier. */
interface Issuer {
  cert: X509Certificate;
  key: KeyObject;
  name: Asn1;
  keyId: Buffer;
  notAfter: Date;
}

function issuerOf(ca: PemPair): Issuer {
  const cert = loadCertificate(ca.certPem);
  if (basicConstraintsOf(cert)?.cA !== true) throw fail('trust.not-a-ca', 'the issuing certificate is not a CA (basicConstraints cA is not true)');
  const keyUsage = keyUsageOf(cert);
  if (keyUsage && !keyUsage.includes('keyCertSign')) throw fail('trust.not-a-ca', 'the issuing certificate may not sign certificates (its keyUsage lacks keyCertSign)');
  const key = loadPrivateKey(ca.keyPem);
  signatureAlgorithmFor(key); // throws trust.unsupported-key-type early
  if (!cert.checkPrivateKey(key)) throw fail('trust.bad-key', 'the CA private key does not belong to the CA certificate');
  return { cert, key, name: subjectNameOf(cert), keyId: subjectKeyIdOf(cert) ?? keyIdOf(cert.publicKey), notAfter: new Date(cert.validTo) };
}

interface CertificateSpec {
  subject: forge.pki.CertificateField[];
  publicKey: KeyObject;
  /** Absent for a self-signed certificate, signed by `selfKey`. */
  issuer?: Issuer;
  selfKey?: KeyObject;
  notBefore: Date;
  notAfter: Date;
  extensions: ExtensionSpec[];
}

/** An X.509 v3 certificate (RFC 5280 §4.1) as PEM. */
function buildCertificate(spec: CertificateSpec): string {
  const signingKey = spec.issuer?.key ?? spec.selfKey!;
  const algorithm = signatureAlgorithmFor(signingKey);
  const { name: subjectName, extensions } = encodeNameAndExtensions(spec.subject, spec.extensions);
  const tbs = der.sequence([
    der.tagged(0, [der.integer(2)]), // v3
    der.unsignedInteger(serialNumber()),
    algorithmIdentifier(algorithm),
    spec.issuer?.name ?? subjectName,
    der.sequence([der.time(spec.notBefore), der.time(spec.notAfter)]),
    subjectName,
    spkiAsn1(spec.publicKey),
    der.tagged(3, [der.sequence(extensions)]),
  ]);
  return toPem('CERTIFICATE', signStructure(tbs, algorithm, signingKey));
}

export interface DevCaOptions {
  commonName: string;
  organization?: string;
  /** Default 3650. */
  validDays?: number;
  /** Default `rsa` (RSA-2048); `ec` is ECDSA P-256. */
  keyType?: KeyType;
  /** Make an intermediate (issuing) CA signed by this CA instead of a self-signed root. */
  issuer?: PemPair;
  /** basicConstraints pathLenConstraint: how many CAs may follow this one in a path. Absent: no limit. */
  pathLength?: number;
}

/** A CA for development and tests: self-signed, or under `issuer`. Production certificates come from a licensed CA. */
export function createDevCa(options: DevCaOptions): PemPair {
  const keyType = keyTypeOrThrow(options.keyType);
  if (!options.commonName) throw fail('trust.bad-request', 'the CA needs a common name');
  const { pathLength } = options;
  if (pathLength !== undefined && !(Number.isInteger(pathLength) && pathLength >= 0 && pathLength <= 16)) throw fail('trust.bad-request', 'pathLength must be a whole number from 0 to 16');
  const issuer = options.issuer ? issuerOf(options.issuer) : undefined;
  const { privateKey, publicKey, keyPem } = newKey(keyType);
  const basicConstraints: ExtensionSpec = { name: 'basicConstraints', cA: true, critical: true };
  if (pathLength !== undefined) basicConstraints.pathLenConstraint = pathLength;
  const extensions: ExtensionSpec[] = [basicConstraints, { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true }, subjectKeyIdExtension(publicKey)];
  if (issuer) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId.toString('binary') });
  const certPem = buildCertificate({
    subject: subjectFields({ organization: options.organization, commonName: options.commonName }),
    publicKey,
    issuer,
    selfKey: privateKey,
    ...validity(options.validDays ?? 3650, issuer?.notAfter),
    extensions,
  });
  return { certPem, keyPem };
}

export interface IssueOptions {
  ca: PemPair;
  commonName: string;
  /** Participant identifier (validated); written as the subject serialNumber and a `urn:lienthong:participant:` URI SAN. */
  participant: string;
  /**
   * hub: serverAuth + clientAuth, the only one that signs hub-to-hub messages and checkpoints (trust-store.ts requires
   * both for `signing`); client: clientAuth (TLS client only); server: serverAuth (TLS server only).
   */
  usage: CertificateUsage;
  /** Default 365. */
  validDays?: number;
  dnsNames?: string[];
  ipAddresses?: string[];
  organization?: string;
  /** Default `rsa` (RSA-2048); `ec` is ECDSA P-256. Independent of the CA's key type. */
  keyType?: KeyType;
}

const DNS_NAME = /^(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)$/;

/** A leaf certificate signed by `ca`, with a fresh key. */
export function issueCertificate(options: IssueOptions): PemPair {
  const keyType = keyTypeOrThrow(options.keyType);
  const participant = participantOrThrow(options.participant);
  if (!options.commonName) throw fail('trust.bad-request', 'the certificate needs a common name');
  if (!['hub', 'client', 'server'].includes(options.usage)) throw fail('trust.bad-request', 'usage must be hub, client or server');
  for (const name of options.dnsNames ?? []) if (!DNS_NAME.test(name)) throw fail('trust.bad-request', `not a DNS name: ${JSON.stringify(name.slice(0, 255))}`);
  for (const ip of options.ipAddresses ?? []) if (!IPV4.test(ip) && !/^[0-9A-Fa-f:]+$/.test(ip)) throw fail('trust.bad-request', `not an IP address: ${JSON.stringify(ip.slice(0, 64))}`);
  const issuer = issuerOf(options.ca);

  const { publicKey, keyPem } = newKey(keyType);
  const altNames: Array<Record<string, unknown>> = [{ type: 6, value: `${PARTICIPANT_URN_PREFIX}${participant}` }];
  for (const name of options.dnsNames ?? []) altNames.push({ type: 2, value: name });
  for (const ip of options.ipAddresses ?? []) altNames.push({ type: 7, ip });
  const certPem = buildCertificate({
    subject: subjectFields({ organization: options.organization, participant, commonName: options.commonName }),
    publicKey,
    issuer,
    ...validity(options.validDays ?? 365, issuer.notAfter),
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      // an EC key cannot encipher keys (TLS with ECDHE only needs the signature)
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: keyType === 'rsa', critical: true },
      { name: 'extKeyUsage', serverAuth: options.usage !== 'client', clientAuth: options.usage !== 'server' },
      subjectKeyIdExtension(publicKey),
      { name: 'authorityKeyIdentifier', keyIdentifier: issuer.keyId.toString('binary') },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { certPem, keyPem };
}

export interface CsrOptions {
  commonName: string;
  participant: string;
  organization?: string;
  country?: 'VN';
  /** Default `rsa` (RSA-2048, what licensed CAs expect); `ec` is ECDSA P-256. */
  keyType?: KeyType;
}

/** A PKCS#10 request (RFC 2986) to send to a licensed CA, with the participant as subject serialNumber and URI SAN. */
export function createCsr(options: CsrOptions): { csrPem: string; keyPem: string } {
  const keyType = keyTypeOrThrow(options.keyType);
  const participant = participantOrThrow(options.participant);
  if (!options.commonName) throw fail('trust.bad-request', 'the request needs a common name');
  const { privateKey, publicKey, keyPem } = newKey(keyType);
  const { name, extensions } = encodeNameAndExtensions(
    subjectFields({ country: options.country ?? 'VN', organization: options.organization, participant, commonName: options.commonName }),
    [{ name: 'subjectAltName', altNames: [{ type: 6, value: `${PARTICIPANT_URN_PREFIX}${participant}` }] }],
  );
  const algorithm = signatureAlgorithmFor(privateKey);
  const info = der.sequence([
    der.integer(0), // v1
    name,
    spkiAsn1(publicKey),
    // attributes [0] IMPLICIT SET OF Attribute: one extensionRequest (PKCS#9) holding the SAN
    der.tagged(0, [der.sequence([der.oid(OID.extensionRequest), der.set([der.sequence(extensions)])])]),
  ]);
  return { csrPem: toPem('CERTIFICATE REQUEST', signStructure(info, algorithm, privateKey)), keyPem };
}

// ------------------------------------------------------------------------------------------------
// PKCS#12
// ------------------------------------------------------------------------------------------------

/**
 * Reads a .p12/.pfx: the private key (as PKCS#8 PEM), the certificate that matches it, and the other certificates.
 * Handles RSA and (through node:crypto) EC keys and certificates.
 */
export function importPkcs12(buffer: Buffer | Uint8Array, password: string): { keyPem: string; certPem: string; chainPems: string[] } {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(Buffer.from(buffer).toString('binary'));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (error) {
    const text = error instanceof Error ? error.message : '';
    if (/password|MAC could not be verified|decrypt/i.test(text)) {
      throw fail('trust.wrong-password', 'sai mật khẩu tệp PKCS#12 / wrong password for the PKCS#12 (.p12/.pfx) file', error);
    }
    throw fail('trust.bad-pkcs12', 'không đọc được tệp PKCS#12 / not a readable PKCS#12 (.p12/.pfx) file', error);
  }
  const bags = p12.safeContents.flatMap((contents) => contents.safeBags);
  const keys: KeyObject[] = [];
  const certs: X509Certificate[] = [];
  for (const bag of bags) {
    if (bag.type === forge.pki.oids.pkcs8ShroudedKeyBag || bag.type === forge.pki.oids.keyBag) {
      const der = bag.key ? forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(bag.key))) : forge.asn1.toDer(bag.asn1);
      try {
        keys.push(createPrivateKey({ key: Buffer.from(der.getBytes(), 'binary'), format: 'der', type: 'pkcs8' }));
      } catch (error) {
        throw fail('trust.bad-pkcs12', 'the PKCS#12 file holds a private key that cannot be read', error);
      }
    } else if (bag.type === forge.pki.oids.certBag) {
      const der = bag.cert ? forge.asn1.toDer(forge.pki.certificateToAsn1(bag.cert)) : forge.asn1.toDer(bag.asn1);
      certs.push(loadCertificate(Buffer.from(der.getBytes(), 'binary')));
    }
  }
  if (keys.length === 0) throw fail('trust.bad-pkcs12', 'the PKCS#12 file holds no private key');
  if (keys.length > 1) throw fail('trust.bad-pkcs12', 'the PKCS#12 file holds more than one private key; export one identity per file');
  const key = keys[0]!;
  const leaf = certs.find((cert) => cert.checkPrivateKey(key));
  if (!leaf) throw fail('trust.bad-pkcs12', 'the PKCS#12 file holds no certificate matching its private key');
  return {
    keyPem: key.export({ type: 'pkcs8', format: 'pem' }) as string,
    certPem: leaf.toString(),
    chainPems: certs.filter((cert) => cert !== leaf).map((cert) => cert.toString()),
  };
}

// ------------------------------------------------------------------------------------------------
// describing and checking certificates
// ------------------------------------------------------------------------------------------------

/**
 * The participant named in the certificate's `urn:lienthong:participant:` URI SAN, if it names exactly one valid one.
 * Read from the extension's DER, URI entries only: Node's printed subjectAltName would let text inside another entry
 * (an email address, a directory name) pose as a URI. Two different participants in one certificate name none.
 */
export function participantOf(cert: X509Certificate): string | undefined {
  if (participants.has(cert)) return participants.get(cert);
  const found = new Set<string>();
  let names: Asn1[] = [];
  try {
    names = childrenOf(extensionValue(cert, OID.subjectAltName));
  } catch {
    // an undecodable SAN names no participant
  }
  for (const name of names) {
    if (name.tagClass !== Class.CONTEXT_SPECIFIC || name.type !== 6 || typeof name.value !== 'string') continue; // [6] uniformResourceIdentifier
    if (!name.value.startsWith(PARTICIPANT_URN_PREFIX)) continue;
    const participant = name.value.slice(PARTICIPANT_URN_PREFIX.length);
    try {
      parseParticipant(participant);
      found.add(participant);
    } catch {
      // not a valid participant: ignore
    }
  }
  const participant = found.size === 1 ? [...found][0] : undefined;
  participants.set(cert, participant);
  return participant;
}
const participants = new WeakMap<X509Certificate, string | undefined>();

const oneLine = (name: string) => name.split('\n').filter(Boolean).join(', ');
const dateOf = (text: string) => new Date(text);

const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** The public key's algorithm and size for people, e.g. `RSA-2048` or `EC P-256`. */
export function keyAlgorithmOf(cert: X509Certificate): string {
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') return `RSA-${details.modulusLength ?? '?'}`;
  if (key.asymmetricKeyType === 'ec') return `EC ${CURVE_NAMES[details.namedCurve ?? ''] ?? details.namedCurve ?? '?'}`;
  return key.asymmetricKeyType?.toUpperCase() ?? 'unknown';
}

export function describeCertificate(pem: string | Buffer): CertificateDescription {
  const cert = loadCertificate(pem);
  const description: CertificateDescription = {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serialNumber: cert.serialNumber,
    validFrom: dateOf(cert.validFrom),
    validTo: dateOf(cert.validTo),
    fingerprint256: cert.fingerprint256,
    keyAlgorithm: keyAlgorithmOf(cert),
    isCa: cert.ca,
    keyUsage: keyUsageOf(cert) ?? [],
    extKeyUsage: (cert.keyUsage ?? []).map((oid) => EXT_KEY_USAGE[oid] ?? oid),
  };
  const participant = participantOf(cert);
  if (participant) description.participant = participant;
  if (cert.subjectAltName) description.subjectAltName = cert.subjectAltName;
  return description;
}

/** The CN of a certificate's subject for messages (quoted), else the whole subject on one line. */
export function nameOf(cert: X509Certificate): string {
  const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
  return JSON.stringify(cn ? cn.slice(3) : oneLine(cert.subject));
}
