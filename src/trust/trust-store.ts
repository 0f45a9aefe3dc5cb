import type { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HubError, isHubError } from '../core/errors.js';
import { crlFreshness, crlSignatureProblem, parseCrl, revocationOf, type Crl } from './crl.js';
import { kidOf } from './signer.js';
import {
  OID,
  basicConstraintsOf,
  extensionsOf,
  keyUsageOf,
  loadCertificate,
  nameKey,
  nameOf,
  participantOf,
  splitPemCertificates,
  subjectKeyIdOf,
  subjectNameOf,
} from './pki.js';

/**
 * The trust store: configured trust anchors, intermediates and CRLs, and the validation of a certificate chain against
 * them. Validation runs for each inbound message, so a success is reused for a minute (same purpose, same leaf and
 * presented certificates, and only for times at which every certificate and CRL used is still valid).
 *
 * The path is built from the leaf through the presented and configured intermediates to an anchor (depth first; the
 * first path that passes every check wins; at most 8 certificates). A leaf that is itself an anchor is trusted as
 * pinned, after the leaf checks.
 *
 * Checked, for every certificate of the path: the signature by the next certificate's key, validity dates at `at`, and
 * no critical extension outside basicConstraints, keyUsage, extKeyUsage, subjectAltName and the key identifiers. For
 * every issuer, anchors included: basicConstraints cA (a missing basicConstraints is not a CA: GHSA-2328-f5f3-gj25),
 * keyUsage keyCertSign when keyUsage is present, pathLenConstraint, and the authority key identifier matching
 * (X509Certificate.checkIssued). For the leaf: keyUsage digitalSignature when keyUsage is present (every purpose), and,
 * when extKeyUsage is present without anyExtendedKeyUsage: clientAuth for tls-client, serverAuth for tls-server, and
 * both for signing. A hub signs with the certificate it also uses for TLS, both ways: what
 * `lienthong keys issue --usage hub` issues (serverAuth + clientAuth). A TLS-only certificate (`--usage server` or
 * `--usage client`, a web server's or a one-stop system's) is refused as a signer, however it names its participant.
 *
 * Revocation, for every certificate but the anchor, against the CRLs that claim its issuer (same issuer name, or
 * authority key identifier equal to the issuer's subject key identifier). Policy:
 * - an issuer with no CRL in the store is not checked; the result lists those certificates (`revocationUnchecked`) so
 *   the caller can log it. OCSP is not implemented.
 * - an issuer with a CRL in the store fails closed: when no claiming CRL verifies (issuer's key, name, cRLSign when
 *   keyUsage is present) → `crl-invalid`; when the newest one that verifies (highest CRL number) is past its
 *   nextUpdate, or has none → `crl-stale`. A claiming CRL that does not verify is ignored when another one does.
 * - a listed serial number is revoked whatever its revocation date (no "valid until revoked" for past times).
 *
 * Not checked: name constraints, certificate policies and policy constraints (a critical one of these fails as
 * `unsupported-critical-extension`), subject alternative names against a host name, self-issued certificates' exemption
 * from pathLenConstraint, key sizes. Delta and indirect CRLs are refused when the CRL is read.
 */

export type TrustPurpose = 'signing' | 'tls-client' | 'tls-server';

export type TrustFailureCode =
  | 'expired'
  | 'not-yet-valid'
  | 'untrusted'
  | 'bad-signature'
  | 'revoked'
  | 'not-a-ca'
  | 'bad-key-usage'
  | 'bad-extended-key-usage'
  | 'path-too-long'
  | 'unsupported-critical-extension'
  | 'crl-invalid'
  | 'crl-stale';

export type TrustResult =
  | {
      ok: true;
      /** Leaf first, anchor last (just the leaf when the leaf itself is an anchor). */
      chain: X509Certificate[];
      /** Certificates of the chain whose issuer has no CRL in the store: their revocation was not checked. */
      revocationUnchecked: X509Certificate[];
    }
  | { ok: false; code: TrustFailureCode; reason: string };

export interface PinnedCertificate {
  /** base64url SHA-256 of the certificate's DER (the same value as a JWS `x5t#S256`). */
  kid: string;
  participant?: string;
  certificate: X509Certificate;
}

export interface TrustStoreOptions {
  /** PEM texts; each may hold several certificates. */
  anchors: string[];
  intermediates?: string[];
  /** PEM texts or DER bytes. */
  crls?: Array<string | Buffer>;
  /** Participants' certificates given in config, found by kid. Pinning does not make them trusted: validate them. */
  pinned?: string[];
  /** How long a successful validation is reused; default 60 s, 0 turns the cache off. */
  cacheTtlMs?: number;
  /** The clock for the cache's time to live (tests). */
  now?: () => number;
}

export interface TrustStore {
  validate(leaf: X509Certificate, presented: X509Certificate[], at: Date, purpose: TrustPurpose): TrustResult;
  participantCertificates(): PinnedCertificate[];
  certificateByKid(kid: string): X509Certificate | undefined;
  readonly anchors: readonly X509Certificate[];
  readonly intermediates: readonly X509Certificate[];
  readonly crls: readonly Crl[];
}

/** Longest path accepted, leaf and anchor included. */
const MAX_PATH_LENGTH = 8;
/** Issuer candidates tried in one validation; same-named CAs could otherwise make the search explode. */
const MAX_LINKS_TRIED = 64;
const MAX_CACHE_ENTRIES = 10_000;
const DEFAULT_CACHE_TTL_MS = 60_000;

const SERVER_AUTH = { oid: '1.3.6.1.5.5.7.3.1', name: 'serverAuth' };
const CLIENT_AUTH = { oid: '1.3.6.1.5.5.7.3.2', name: 'clientAuth' };
/**
 * The extKeyUsage purposes a leaf needs, when it has extKeyUsage. `signing` (hub-to-hub messages, checkpoints) needs a
 * hub certificate as `lienthong keys issue --usage hub` issues it: serverAuth and clientAuth.
 */
const EKU_FOR: Record<TrustPurpose, Array<{ oid: string; name: string }>> = {
  'tls-client': [CLIENT_AUTH],
  'tls-server': [SERVER_AUTH],
  signing: [SERVER_AUTH, CLIENT_AUTH],
};
const ANY_EXTENDED_KEY_USAGE = '2.5.29.37.0';
/** Critical extensions this validator processes (or that carry no constraint); any other critical one fails closed. */
const UNDERSTOOD_CRITICAL = new Set<string>([OID.basicConstraints, OID.keyUsage, OID.extKeyUsage, OID.subjectAltName, OID.subjectKeyIdentifier, OID.authorityKeyIdentifier]);

type Failure = Extract<TrustResult, { ok: false }>;

const failure = (code: TrustFailureCode, reason: string): Failure => ({ ok: false, code, reason });


function storeError(message: string, cause?: unknown): HubError {
  return new HubError('trust.bad-trust-store', `cấu hình kho tin cậy không hợp lệ / invalid trust store: ${message}`, { status: 500, cause });
}

function certificatesOf(texts: string[], what: string): X509Certificate[] {
  return texts.flatMap((text, index) => {
    const pems = splitPemCertificates(text);
    if (pems.length === 0) throw storeError(`${what} #${index + 1} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    return pems.map((pem) => loadCertificate(pem));
  });
}

function uniqueByFingerprint(certs: X509Certificate[]): X509Certificate[] {
  const seen = new Map<string, X509Certificate>();
  for (const cert of certs) if (!seen.has(cert.fingerprint256)) seen.set(cert.fingerprint256, cert);
  return [...seen.values()];
}

function timeProblem(cert: X509Certificate, at: Date, role: string): Failure | undefined {
  const from = new Date(cert.validFrom);
  const to = new Date(cert.validTo);
  if (at.getTime() < from.getTime()) return failure('not-yet-valid', `${role} ${nameOf(cert)} is not yet valid: it is valid from ${from.toISOString()}`);
  if (at.getTime() > to.getTime()) return failure('expired', `${role} ${nameOf(cert)} has expired: it was valid until ${to.toISOString()}`);
  return undefined;
}

function criticalExtensionProblem(cert: X509Certificate, role: string): Failure | undefined {
  const unknown = extensionsOf(cert).find((extension) => extension.critical && !UNDERSTOOD_CRITICAL.has(extension.oid));
  if (!unknown) return undefined;
  return failure('unsupported-critical-extension', `${role} ${nameOf(cert)} has the critical extension ${unknown.oid}, which this hub does not process`);
}

/** Checks every certificate gets, whatever its place in the path. */
function certificateProblem(cert: X509Certificate, at: Date, role: string): Failure | undefined {
  return timeProblem(cert, at, role) ?? criticalExtensionProblem(cert, role);
}

function purposeProblem(leaf: X509Certificate, purpose: TrustPurpose): Failure | undefined {
  const keyUsage = keyUsageOf(leaf);
  if (keyUsage && !keyUsage.includes('digitalSignature')) {
    return failure('bad-key-usage', `certificate ${nameOf(leaf)} may not be used for ${purpose}: its keyUsage (${keyUsage.join(', ') || 'none'}) lacks digitalSignature`);
  }
  const extendedKeyUsage = leaf.keyUsage; // Node's name for extKeyUsage; undefined when the extension is absent
  if (!extendedKeyUsage || extendedKeyUsage.includes(ANY_EXTENDED_KEY_USAGE)) return undefined;
  const lacking = EKU_FOR[purpose].filter((wanted) => !extendedKeyUsage.includes(wanted.oid));
  if (lacking.length === 0) return undefined;
  if (purpose === 'signing') {
    return failure('bad-extended-key-usage', `certificate ${nameOf(leaf)} may not sign hub-to-hub messages: its extKeyUsage lacks ${lacking.map((w) => w.name).join(' and ')} (a hub's certificate has serverAuth and clientAuth, as "lienthong keys issue --usage hub" issues it; a TLS-only certificate cannot sign)`);
  }
  return failure('bad-extended-key-usage', `certificate ${nameOf(leaf)} may not be used for ${purpose}: its extKeyUsage lacks ${lacking.map((w) => w.name).join(' and ')}`);
}

/** Why `issuer` cannot have issued `cert` (names already match), or undefined when it did. */
function linkProblem(cert: X509Certificate, issuer: X509Certificate, at: Date, role: string): Failure | undefined {
  if (!cert.verify(issuer.publicKey)) {
    return failure('bad-signature', `the signature of ${nameOf(cert)} does not verify with the public key of ${role} ${nameOf(issuer)} (tampered, or issued by another key with the same name)`);
  }
  // our own reading of basicConstraints: Node's `ca` (OpenSSL X509_check_ca) is also false for a keyUsage without
  // keyCertSign, which would hide the more precise complaint below
  if (basicConstraintsOf(issuer)?.cA !== true) return failure('not-a-ca', `${role} ${nameOf(issuer)} is not a CA (basicConstraints cA is not true, or basicConstraints is missing), so it cannot issue ${nameOf(cert)}`);
  const keyUsage = keyUsageOf(issuer);
  if (keyUsage && !keyUsage.includes('keyCertSign')) return failure('bad-key-usage', `${role} ${nameOf(issuer)} may not sign certificates (its keyUsage lacks keyCertSign)`);
  if (!cert.checkIssued(issuer)) return failure('untrusted', `${role} ${nameOf(issuer)} does not match the authority key identifier of ${nameOf(cert)}`);
  return certificateProblem(issuer, at, role);
}

/** pathLenConstraint: a CA at index i (leaf = 0) has i - 1 intermediate CAs below it. */
function pathLengthProblem(chain: X509Certificate[]): Failure | undefined {
  for (let index = 2; index < chain.length; index++) {
    const limit = basicConstraintsOf(chain[index]!)?.pathLength;
    if (limit !== undefined && index - 1 > limit) {
      return failure('path-too-long', `${nameOf(chain[index]!)} allows ${limit} intermediate CA(s) below it (pathLenConstraint), but the path has ${index - 1}`);
    }
  }
  return undefined;
}

const REASON_TEXT = (reason: string | undefined) => (reason ? ` (${reason})` : '');

export function createTrustStore(options: TrustStoreOptions): TrustStore {
  const anchors = uniqueByFingerprint(certificatesOf(options.anchors, 'anchor'));
  if (anchors.length === 0) throw storeError('no trust anchors: give at least one CA certificate');
  const intermediates = uniqueByFingerprint(certificatesOf(options.intermediates ?? [], 'intermediate'));
  const crls = (options.crls ?? []).map((crl) => parseCrl(crl));
  const pinned = uniqueByFingerprint(certificatesOf(options.pinned ?? [], 'pinned certificate')).map((certificate): PinnedCertificate => {
    const participant = participantOf(certificate);
    return participant ? { kid: kidOf(certificate), participant, certificate } : { kid: kidOf(certificate), certificate };
  });
  const pinnedByKid = new Map(pinned.map((entry) => [entry.kid, entry.certificate]));
  const anchorFingerprints = new Set(anchors.map((anchor) => anchor.fingerprint256));
  const ttl = options.cacheTtlMs ?? DEFAULT_CACHE_TTL_MS;
  const now = options.now ?? Date.now;

  /** A CRL's signature is checked once per issuer certificate. */
  const signatureVerdicts = new Map<string, string | undefined>();
  function signatureProblemOf(crl: Crl, crlIndex: number, issuer: X509Certificate): string | undefined {
    const key = `${crlIndex}|${issuer.fingerprint256}`;
    if (!signatureVerdicts.has(key)) signatureVerdicts.set(key, crlSignatureProblem(crl, issuer));
    return signatureVerdicts.get(key);
  }

  /** The CRLs that claim to be `issuer`'s: same name, or the same key identifier (so an oddly encoded name fails closed). */
  function crlsClaimingIssuer(issuer: X509Certificate): Array<{ crl: Crl; index: number }> {
    const key = nameKey(subjectNameOf(issuer));
    const keyId = subjectKeyIdOf(issuer)?.toString('hex');
    return crls.map((crl, index) => ({ crl, index })).filter(({ crl }) => crl.issuerKey === key || (keyId !== undefined && crl.authorityKeyId === keyId));
  }

  /** Revocation of `cert` by `issuer`; `unchecked` when the store holds no CRL of that issuer. */
  function revocationProblem(cert: X509Certificate, issuer: X509Certificate, at: Date, usedCrls: Crl[]): Failure | 'unchecked' | undefined {
    const claiming = crlsClaimingIssuer(issuer);
    if (claiming.length === 0) return 'unchecked';
    const genuine = claiming.filter(({ crl, index }) => signatureProblemOf(crl, index, issuer) === undefined).map(({ crl }) => crl);
    if (genuine.length === 0) {
      return failure('crl-invalid', `no usable CRL for ${nameOf(issuer)}: ${signatureProblemOf(claiming[0]!.crl, claiming[0]!.index, issuer)}`);
    }
    const newest = genuine.reduce((best, crl) => (newerCrl(crl, best) ? crl : best));
    const freshness = crlFreshness(newest, at);
    if (!freshness.ok) return failure(freshness.code, freshness.reason);
    usedCrls.push(newest);
    const entry = revocationOf(newest, cert.serialNumber);
    if (entry) {
      return failure('revoked', `certificate ${nameOf(cert)} (serial ${cert.serialNumber}) was revoked by ${nameOf(issuer)} on ${entry.revokedAt.toISOString()}${REASON_TEXT(entry.reason)}`);
    }
    return undefined;
  }

  interface Search {
    at: Date;
    pool: X509Certificate[];
    linksTried: number;
  }

  /** Checks a complete path (leaf … anchor): path lengths and revocation. */
  function completePath(chain: X509Certificate[], at: Date): { ok: true; unchecked: X509Certificate[]; usedCrls: Crl[] } | Failure {
    const lengthProblem = pathLengthProblem(chain);
    if (lengthProblem) return lengthProblem;
    const unchecked: X509Certificate[] = [];
    const usedCrls: Crl[] = [];
    for (let index = 0; index < chain.length - 1; index++) {
      const problem = revocationProblem(chain[index]!, chain[index + 1]!, at, usedCrls);
      if (problem === 'unchecked') unchecked.push(chain[index]!);
      else if (problem) return problem;
    }
    return { ok: true, unchecked, usedCrls };
  }

  /** Depth-first search from the end of `path` to an anchor; the first complete path that passes wins. */
  function extend(path: X509Certificate[], search: Search): (TrustResult & { ok: true; usedCrls: Crl[] }) | Failure {
    const current = path[path.length - 1]!;
    let problem: Failure | undefined;
    const consider = (found: Failure) => {
      // a concrete complaint explains more than "no path found"
      if (!problem || (problem.code === 'untrusted' && found.code !== 'untrusted')) problem = found;
    };
    const candidates = [
      ...anchors.filter((anchor) => anchor.subject === current.issuer).map((cert) => ({ cert, anchor: true })),
      ...search.pool.filter((cert) => cert.subject === current.issuer && !path.includes(cert)).map((cert) => ({ cert, anchor: false })),
    ];
    for (const { cert: issuer, anchor } of candidates) {
      if (++search.linksTried > MAX_LINKS_TRIED) return failure('path-too-long', `gave up after trying ${MAX_LINKS_TRIED} issuer candidates`);
      const linkFailure = linkProblem(current, issuer, search.at, anchor ? 'trust anchor' : 'intermediate');
      if (linkFailure) {
        consider(linkFailure);
        continue;
      }
      const chain = [...path, issuer];
      if (anchor) {
        const checked = completePath(chain, search.at);
        if (checked.ok) return { ok: true, chain, revocationUnchecked: checked.unchecked, usedCrls: checked.usedCrls };
        consider(checked);
      } else if (chain.length >= MAX_PATH_LENGTH) {
        consider(failure('path-too-long', `no trust anchor within ${MAX_PATH_LENGTH} certificates of ${nameOf(path[0]!)}`));
      } else {
        const result = extend(chain, search);
        if (result.ok) return result;
        consider(result);
      }
    }
    return problem ?? failure('untrusted', `untrusted issuer: ${nameOf(current)} was issued by "${current.issuer.split('\n').join(', ')}", which is neither a trust anchor nor a known intermediate`);
  }

  /**
   * A certificate that is itself an anchor (a pinned hub certificate, or a root) needs no path, but when the store knows
   * the CA that issued it, that CA's CRL still revokes it: pinning a hub's certificate must not outlive its revocation.
   */
  function trustedAsGiven(leaf: X509Certificate, at: Date): (TrustResult & { ok: true; usedCrls: Crl[] }) | Failure {
    const usedCrls: Crl[] = [];
    const issuers = [...anchors, ...intermediates].filter((issuer) => issuer.fingerprint256 !== leaf.fingerprint256 && issuer.subject === leaf.issuer && !linkProblem(leaf, issuer, at, 'issuer'));
    // Unchecked until a CRL is consulted: also when the store does not know (or no longer accepts) the leaf's issuer.
    // A self-issued root has no issuer to revoke it, and is not listed, as an anchor at the end of a path is not.
    let unchecked = leaf.subject !== leaf.issuer;
    for (const issuer of issuers) {
      const problem = revocationProblem(leaf, issuer, at, usedCrls);
      if (problem === 'unchecked') continue;
      if (problem) return problem;
      unchecked = false;
    }
    return { ok: true, chain: [leaf], revocationUnchecked: unchecked ? [leaf] : [], usedCrls };
  }

  function validateUncached(leaf: X509Certificate, presented: X509Certificate[], at: Date, purpose: TrustPurpose): (TrustResult & { ok: true; usedCrls: Crl[] }) | Failure {
    const leafProblem = certificateProblem(leaf, at, 'certificate') ?? purposeProblem(leaf, purpose);
    if (leafProblem) return leafProblem;
    if (anchorFingerprints.has(leaf.fingerprint256)) return trustedAsGiven(leaf, at);
    // anchors are tried as anchors only; a presented copy of one adds nothing
    const pool = uniqueByFingerprint([...presented, ...intermediates]).filter((cert) => cert.fingerprint256 !== leaf.fingerprint256 && !anchorFingerprints.has(cert.fingerprint256));
    return extend([leaf], { at, pool, linksTried: 0 });
  }

  interface CacheEntry {
    chain: X509Certificate[];
    revocationUnchecked: X509Certificate[];
    /** The `at` times for which the result holds: every certificate valid, every CRL used current. */
    validFrom: number;
    validUntil: number;
    /** Wall-clock expiry of the entry. */
    expires: number;
  }
  const cache = new Map<string, CacheEntry>();

  function cacheSuccess(key: string, chain: X509Certificate[], revocationUnchecked: X509Certificate[], usedCrls: Crl[]): void {
    if (cache.size >= MAX_CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(key, {
      chain,
      revocationUnchecked,
      validFrom: Math.max(...chain.map((cert) => new Date(cert.validFrom).getTime())),
      validUntil: Math.min(...chain.map((cert) => new Date(cert.validTo).getTime()), ...usedCrls.map((crl) => crl.nextUpdate!.getTime() - 1)),
      expires: now() + ttl,
    });
  }

  return {
    anchors,
    intermediates,
    crls,
    validate(leaf, presented, at, purpose) {
      const key = [purpose, leaf.fingerprint256, ...presented.map((cert) => cert.fingerprint256)].join('|');
      const time = at.getTime();
      const hit = ttl > 0 ? cache.get(key) : undefined;
      if (hit && hit.expires > now() && hit.validFrom <= time && time <= hit.validUntil) {
        return { ok: true, chain: hit.chain, revocationUnchecked: hit.revocationUnchecked };
      }
      const result = validateUncached(leaf, presented, at, purpose);
      if (!result.ok) return result;
      if (ttl > 0) cacheSuccess(key, result.chain, result.revocationUnchecked, result.usedCrls);
      return { ok: true, chain: result.chain, revocationUnchecked: result.revocationUnchecked };
    },
    participantCertificates: () => [...pinned],
    certificateByKid: (kid) => pinnedByKid.get(kid),
  };
}

/** Prefer the higher CRL number; without numbers, the later thisUpdate. */
function newerCrl(candidate: Crl, current: Crl): boolean {
  if (candidate.crlNumber !== undefined && current.crlNumber !== undefined && candidate.crlNumber !== current.crlNumber) return candidate.crlNumber > current.crlNumber;
  return candidate.thisUpdate.getTime() > current.thisUpdate.getTime();
}

export interface TrustStoreFiles {
  /** PEM files; each may hold several certificates. */
  anchors: string[];
  intermediates?: string[];
  /** PEM ("-----BEGIN X509 CRL-----") or DER files. */
  crls?: string[];
  pinned?: string[];
}

/**
 * A trust store from files. Errors name the file: `trust.unreadable-file` when it cannot be read, otherwise the
 * problem's own type (`trust.bad-certificate`, `trust.bad-crl`, `trust.bad-trust-store`).
 */
export function loadTrustStore(files: TrustStoreFiles, options: Pick<TrustStoreOptions, 'cacheTtlMs' | 'now'> = {}): TrustStore {
  const read = (path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new HubError('trust.unreadable-file', `không đọc được tệp / cannot read ${path}`, { status: 500, cause: error });
    }
  };
  const named = <T>(path: string, parse: () => T): T => {
    try {
      return parse();
    } catch (error) {
      if (isHubError(error)) throw new HubError(error.type, `${path}: ${error.message}`, { status: error.status, detail: error.detail, cause: error });
      throw error;
    }
  };
  const certificateFile = (what: string) => (path: string) => {
    const text = read(path).toString('utf8');
    named(path, () => {
      const pems = splitPemCertificates(text);
      if (pems.length === 0) throw storeError(`the ${what} file holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
      pems.forEach((pem) => loadCertificate(pem));
    });
    return text;
  };
  const crlFile = (path: string) => {
    const bytes = read(path);
    named(path, () => parseCrl(bytes));
    return bytes;
  };
  return createTrustStore({
    anchors: files.anchors.map(certificateFile('trust anchor')),
    intermediates: (files.intermediates ?? []).map(certificateFile('intermediate')),
    crls: (files.crls ?? []).map(crlFile),
    pinned: (files.pinned ?? []).map(certificateFile('pinned certificate')),
    ...options,
  });
}
