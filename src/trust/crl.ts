import { verify, type X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { HubError } from '../core/errors.js';
import {
  OID,
  algorithmIdentifier,
  basicConstraintsOf,
  childrenOf,
  der,
  derToAsn1,
  extensionList,
  integerHex,
  isTime,
  keyIdOf,
  keyUsageOf,
  loadCertificate,
  loadPrivateKey,
  nameKey,
  nameOf,
  nameText,
  normalizeSerial,
  signStructure,
  signatureAlgorithmFor,
  subjectKeyIdOf,
  subjectNameOf,
  timeOf,
  toPem,
  type PemPair,
} from './pki.js';

/**
 * X.509 v2 CRLs (RFC 5280 §5): make one for a development CA, read one from any CA, and check it against the CA's
 * certificate. Complete CRLs only: a CRL with a critical extension we do not process (delta CRL indicator, issuing
 * distribution point) or an indirect-CRL entry (certificateIssuer) is refused when read, because applying it as if it
 * were complete could miss revocations.
 */

/** RFC 5280 §5.3.1 CRLReason values; 7 is unused. */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;

export type RevocationReason = keyof typeof REVOCATION_REASONS;

export interface RevokedCertificate {
  /** Hex, as X509Certificate.serialNumber prints it (case and leading zero bytes do not matter when given). */
  serialNumber: string;
  revokedAt: Date;
  /** Absent means unspecified. */
  reason?: RevocationReason;
}

export interface Crl {
  /** The CRL as received. */
  der: Buffer;
  /** The issuer's name on one line, for messages. */
  issuer: string;
  /** Comparison key of the issuer's name (see pki.ts nameKey). */
  issuerKey: string;
  thisUpdate: Date;
  nextUpdate?: Date;
  crlNumber?: bigint;
  /** authorityKeyIdentifier keyIdentifier, hex (lower case). */
  authorityKeyId?: string;
  signatureAlgorithm: string;
  /** By serial number in X509Certificate.serialNumber form (see pki.ts normalizeSerial). */
  revoked: ReadonlyMap<string, RevokedCertificate>;
  /** The signed bytes (tbsCertList exactly as received) and the signature over them. */
  signed: Buffer;
  signature: Buffer;
}

export type CrlCheck = { ok: true } | { ok: false; code: 'crl-invalid' | 'crl-stale'; reason: string };

const DAY_MS = 86_400_000;

function badCrl(message: string, cause?: unknown): HubError {
  return new HubError('trust.bad-crl', `danh sách thu hồi (CRL) không hợp lệ / invalid CRL: ${message}`, { status: 400, cause });
}

// ------------------------------------------------------------------------------------------------
// making
// ------------------------------------------------------------------------------------------------

export interface CreateCrlOptions {
  ca: PemPair;
  revoked: RevokedCertificate[];
  /** RFC 5280 §5.2.3: strictly increasing per CA. */
  crlNumber: bigint | number;
  /** Default now. */
  thisUpdate?: Date;
  /** Default thisUpdate + 7 days. After it, relying parties treat the CRL as stale. */
  nextUpdate?: Date;
}

/** A CRL signed by the CA's key (RSA → sha256WithRSAEncryption, EC P-256 → ecdsa-with-SHA256), as DER and PEM. */
export function createCrl(options: CreateCrlOptions): { der: Buffer; pem: string } {
  const caCert = loadCertificate(options.ca.certPem);
  if (basicConstraintsOf(caCert)?.cA !== true) throw badCrl('the issuing certificate is not a CA (basicConstraints cA is not true)');
  const keyUsage = keyUsageOf(caCert);
  if (keyUsage && !keyUsage.includes('cRLSign')) throw badCrl('the issuing certificate may not sign CRLs (its keyUsage lacks cRLSign)');
  const key = loadPrivateKey(options.ca.keyPem);
  if (!caCert.checkPrivateKey(key)) throw new HubError('trust.bad-key', 'the CA private key does not belong to the CA certificate', { status: 400 });
  const crlNumber = BigInt(options.crlNumber);
  if (crlNumber < 0n || crlNumber >= 1n << 159n) throw badCrl('crlNumber must be a whole number from 0 to 2^159 - 1');
  const thisUpdate = options.thisUpdate ?? new Date();
  const nextUpdate = options.nextUpdate ?? new Date(thisUpdate.getTime() + 7 * DAY_MS);
  if (!(nextUpdate.getTime() > thisUpdate.getTime())) throw badCrl('nextUpdate must be after thisUpdate');

  const algorithm = signatureAlgorithmFor(key);
  const entries = options.revoked.map((entry) => revokedEntry(entry));
  const authorityKeyId = subjectKeyIdOf(caCert) ?? keyIdOf(caCert.publicKey);
  const tbs = der.sequence([
    der.integer(1), // v2
    algorithmIdentifier(algorithm),
    subjectNameOf(caCert), // byte for byte the CA's subject, as in the certificates it issued
    der.time(thisUpdate),
    der.time(nextUpdate),
    ...(entries.length > 0 ? [der.sequence(entries)] : []), // §5.1.2.6: absent when nothing is revoked
    der.tagged(0, [
      der.sequence([
        extension(OID.authorityKeyIdentifier, der.sequence([forge.asn1.create(forge.asn1.Class.CONTEXT_SPECIFIC, 0, false, authorityKeyId.toString('binary'))])),
        extension(OID.cRLNumber, der.unsignedInteger(hexBytes(crlNumber.toString(16)))),
      ]),
    ]),
  ]);
  const bytes = signStructure(tbs, algorithm, key);
  return { der: bytes, pem: crlToPem(bytes) };
}

function revokedEntry(entry: RevokedCertificate): forge.asn1.Asn1 {
  if (!/^[0-9A-Fa-f]{1,40}$/.test(entry.serialNumber)) throw badCrl(`not a serial number: ${JSON.stringify(entry.serialNumber.slice(0, 64))}`);
  if (Number.isNaN(entry.revokedAt.getTime())) throw badCrl(`no revocation date for serial ${entry.serialNumber}`);
  const fields = [der.unsignedInteger(hexBytes(entry.serialNumber)), der.time(entry.revokedAt)];
  const reason = entry.reason ?? 'unspecified';
  if (!(reason in REVOCATION_REASONS)) throw badCrl(`unknown revocation reason ${JSON.stringify(String(reason).slice(0, 32))}`);
  // §5.3.1: the reasonCode SHOULD be absent rather than say unspecified
  if (reason !== 'unspecified') fields.push(der.sequence([extension(OID.reasonCode, der.enumerated(REVOCATION_REASONS[reason]))]));
  return der.sequence(fields);
}

function hexBytes(hex: string): Buffer {
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
}

function extension(oid: string, value: forge.asn1.Asn1): forge.asn1.Asn1 {
  return der.sequence([der.oid(oid), der.octets(Buffer.from(forge.asn1.toDer(value).getBytes(), 'binary'))]);
}

export function crlToPem(bytes: Buffer): string {
  return toPem('X509 CRL', bytes);
}

// ------------------------------------------------------------------------------------------------
// reading
// ------------------------------------------------------------------------------------------------

const PEM_CRL = /-----BEGIN X509 CRL-----([\s\S]+?)-----END X509 CRL-----/;
const REASON_NAMES = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]));
/** CRL extensions we understand; a critical one outside this list makes the CRL unusable (§5.2). */
const KNOWN_CRL_EXTENSIONS = new Set<string>([OID.authorityKeyIdentifier, OID.cRLNumber]);
const KNOWN_ENTRY_EXTENSIONS = new Set<string>([OID.reasonCode, '2.5.29.24' /* invalidityDate */]);

/** Reads a CRL from PEM text or DER bytes. Throws `trust.bad-crl`. Does not check the signature: see crlSignatureProblem. */
export function parseCrl(input: string | Buffer): Crl {
  const bytes = crlBytes(input);
  let root: forge.asn1.Asn1;
  try {
    root = derToAsn1(bytes);
  } catch (error) {
    throw badCrl('not DER-encoded ASN.1', error);
  }
  try {
    return crlFrom(root, bytes);
  } catch (error) {
    if (error instanceof HubError) throw error;
    throw badCrl('not a CertificateList (RFC 5280 §5.1)', error);
  }
}

function crlBytes(input: string | Buffer): Buffer {
  if (typeof input !== 'string' && input[0] === 0x30) return input; // DER starts with a SEQUENCE
  const text = typeof input === 'string' ? input : input.toString('latin1');
  const match = PEM_CRL.exec(text);
  if (!match) throw badCrl('expected PEM "-----BEGIN X509 CRL-----" or DER bytes');
  return Buffer.from(match[1]!.replace(/\s+/g, ''), 'base64');
}

function crlFrom(root: forge.asn1.Asn1, bytes: Buffer): Crl {
  const [tbs, outerAlgorithm, signature] = childrenOf(root);
  if (!tbs || !outerAlgorithm || signature?.type !== forge.asn1.Type.BITSTRING) throw badCrl('expected tbsCertList, signatureAlgorithm and signatureValue');
  const fields = childrenOf(tbs);
  let index = 0;
  if (fields[0]?.type === forge.asn1.Type.INTEGER) {
    if (forge.asn1.derToInteger(fields[0].value as string) !== 1) throw badCrl('unknown CRL version (expected v2)');
    index = 1;
  }
  const innerAlgorithm = fields[index]!;
  const signatureAlgorithm = forge.asn1.derToOid(childrenOf(innerAlgorithm)[0]!.value as string);
  if (forge.asn1.derToOid(childrenOf(outerAlgorithm)[0]!.value as string) !== signatureAlgorithm) throw badCrl('the signature algorithm inside and outside the signed part differ');
  const issuerName = fields[index + 1]!;
  const thisUpdateNode = fields[index + 2];
  if (!isTime(thisUpdateNode)) throw badCrl('thisUpdate is missing');
  let next = index + 3;
  let nextUpdate: Date | undefined;
  if (isTime(fields[next])) nextUpdate = timeOf(fields[next++]!);
  const revoked = new Map<string, RevokedCertificate>();
  if (fields[next]?.tagClass === forge.asn1.Class.UNIVERSAL && fields[next]!.type === forge.asn1.Type.SEQUENCE) {
    for (const entry of childrenOf(fields[next++])) {
      const parsed = revokedFrom(entry);
      revoked.set(normalizeSerial(parsed.serialNumber), parsed);
    }
  }
  let crlNumber: bigint | undefined;
  let authorityKeyId: string | undefined;
  const extensionsNode = fields[next];
  if (extensionsNode?.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && extensionsNode.type === 0) {
    for (const extension of extensionList(childrenOf(extensionsNode)[0])) {
      const value = forge.asn1.fromDer(extension.value);
      if (extension.oid === OID.cRLNumber) crlNumber = BigInt(`0x${forge.util.bytesToHex(value.value as string) || '0'}`);
      else if (extension.oid === OID.authorityKeyIdentifier) {
        const keyIdentifier = childrenOf(value).find((node) => node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && node.type === 0);
        if (keyIdentifier) authorityKeyId = forge.util.bytesToHex(keyIdentifier.value as string);
      } else if (extension.critical && !KNOWN_CRL_EXTENSIONS.has(extension.oid)) {
        throw badCrl(`critical extension ${extension.oid} is not supported (only complete CRLs are: no delta or partitioned CRLs)`);
      }
    }
  }
  const crl: Crl = {
    der: bytes,
    issuer: nameText(issuerName),
    issuerKey: nameKey(issuerName),
    thisUpdate: timeOf(thisUpdateNode!),
    signatureAlgorithm,
    revoked,
    signed: signedPart(bytes),
    signature: Buffer.from((signature.value as string).slice(1), 'binary'), // drop the unused-bits byte
  };
  if (nextUpdate) crl.nextUpdate = nextUpdate;
  if (crlNumber !== undefined) crl.crlNumber = crlNumber;
  if (authorityKeyId) crl.authorityKeyId = authorityKeyId;
  return crl;
}

function revokedFrom(entry: forge.asn1.Asn1): RevokedCertificate {
  const [serial, date, extensions] = childrenOf(entry);
  if (serial?.type !== forge.asn1.Type.INTEGER || !isTime(date)) throw badCrl('a revoked entry lacks its serial number or date');
  const revoked: RevokedCertificate = { serialNumber: integerHex(serial), revokedAt: timeOf(date!) };
  for (const extension of extensionList(extensions)) {
    if (extension.oid === OID.reasonCode) {
      const code = (forge.asn1.fromDer(extension.value).value as string).charCodeAt(0);
      const reason = REASON_NAMES.get(code);
      if (reason && reason !== 'unspecified') revoked.reason = reason;
    } else if (extension.critical && !KNOWN_ENTRY_EXTENSIONS.has(extension.oid)) {
      // certificateIssuer (2.5.29.29) makes the CRL indirect: the entry may be about another CA's certificate
      throw badCrl(`critical entry extension ${extension.oid} is not supported (no indirect CRLs)`);
    }
  }
  return revoked;
}

/**
 * The tbsCertList exactly as received. Re-encoding the parsed tree would give the same bytes only for perfect DER, and
 * the signature covers the bytes as they are.
 */
function signedPart(bytes: Buffer): Buffer {
  const outer = headerOf(bytes, 0);
  const inner = headerOf(bytes, outer.headerLength);
  return bytes.subarray(outer.headerLength, outer.headerLength + inner.headerLength + inner.length);
}

function headerOf(bytes: Buffer, offset: number): { headerLength: number; length: number } {
  const first = bytes[offset + 1];
  if (first === undefined) throw badCrl('truncated');
  if (first < 0x80) return { headerLength: 2, length: first };
  const count = first & 0x7f;
  if (count === 0 || count > 4) throw badCrl('unsupported length encoding');
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + bytes[offset + 2 + i]!;
  return { headerLength: 2 + count, length };
}

// ------------------------------------------------------------------------------------------------
// checking
// ------------------------------------------------------------------------------------------------

const VERIFY_HASH: Record<string, { hash: string; keyType: string }> = {
  '1.2.840.113549.1.1.11': { hash: 'sha256', keyType: 'rsa' },
  '1.2.840.113549.1.1.12': { hash: 'sha384', keyType: 'rsa' },
  '1.2.840.113549.1.1.13': { hash: 'sha512', keyType: 'rsa' },
  '1.2.840.10045.4.3.2': { hash: 'sha256', keyType: 'ec' },
  '1.2.840.10045.4.3.3': { hash: 'sha384', keyType: 'ec' },
  '1.2.840.10045.4.3.4': { hash: 'sha512', keyType: 'ec' },
};

/**
 * Why `crl` is not `issuer`'s, or undefined when it is: issuer name matches the CA's subject, the CA may sign CRLs
 * (keyUsage cRLSign when keyUsage is present), and the signature verifies with the CA's public key. SHA-1 and RSA-PSS
 * signatures are not accepted.
 */
export function crlSignatureProblem(crl: Crl, issuer: X509Certificate): string | undefined {
  if (crl.issuerKey !== nameKey(subjectNameOf(issuer))) return `the CRL is issued by "${crl.issuer}", not by ${nameOf(issuer)}`;
  const keyUsage = keyUsageOf(issuer);
  if (keyUsage && !keyUsage.includes('cRLSign')) return `${nameOf(issuer)} may not sign CRLs (its keyUsage lacks cRLSign)`;
  const algorithm = VERIFY_HASH[crl.signatureAlgorithm];
  if (!algorithm) return `the CRL's signature algorithm ${crl.signatureAlgorithm} is not supported (use SHA-2 with RSA or ECDSA)`;
  const publicKey = issuer.publicKey;
  if (publicKey.asymmetricKeyType !== algorithm.keyType || !verify(algorithm.hash, crl.signed, publicKey, crl.signature)) {
    return `the CRL of "${crl.issuer}" does not verify with the public key of ${nameOf(issuer)} (tampered, or signed by another key with the same name)`;
  }
  return undefined;
}

/**
 * RFC 5280 §6.3.3 (a)(2): a CRL whose nextUpdate has passed is not current. A CRL without nextUpdate cannot show that it
 * is current, so it counts as stale too. thisUpdate is not compared with `at`: a CRL newer than the time checked still
 * tells what was revoked.
 */
export function crlFreshness(crl: Crl, at: Date): CrlCheck {
  if (!crl.nextUpdate) return { ok: false, code: 'crl-stale', reason: `the CRL of "${crl.issuer}" has no nextUpdate, so it cannot be shown to be current` };
  if (at.getTime() >= crl.nextUpdate.getTime()) {
    return { ok: false, code: 'crl-stale', reason: `the CRL of "${crl.issuer}" is stale: its nextUpdate was ${crl.nextUpdate.toISOString()}; fetch or issue a fresh one` };
  }
  return { ok: true };
}

/** The CRL's entry for a certificate serial number (any case, leading zeros ignored), if it is revoked. */
export function revocationOf(crl: Crl, serialNumber: string): RevokedCertificate | undefined {
  return crl.revoked.get(normalizeSerial(serialNumber));
}
