import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { HubError, isHubError } from '../core/errors.js';
import { crlSignatureProblem, parseCrl, type Crl } from './crl.js';
import { signMessage, verifyMessage, type IncomingHeaders, type MessageFields, type VerifiedMessage } from './message-signature.js';
import { loadCertificate, nameKey, participantOf, splitPemCertificates, subjectNameOf } from './pki.js';
import { batchSigner, kidOf, localKeySigner, type Signer } from './signer.js';
import { createTrustStore, type TrustPurpose, type TrustStore } from './trust-store.js';

/**
 * This hub's identity and what it trusts: its key (a KeyObject, never re-read), its certificate chain, the batch
 * signer over that key, and the trust store (anchors, intermediates, CRLs, and the pinned certificates of federated
 * hubs). Signing and verifying hub-to-hub messages and checking client certificates all go through here, so every
 * check uses the same store and clock.
 *
 * Key, certificates and anchors are read once, at start. The CRL files are looked at again while the hub runs: at
 * most every `crlCheckIntervalMs` (30 s), when a certificate is next checked, each file is stat'ed, and one whose
 * inode, size or times changed is read again. Its new CRL is taken only when it parses, is signed by a CA of the
 * store (an anchor or intermediate of the same name, with cRLSign), is a CRL of the same CA as before, and is not
 * older than the CRL in force (lower CRL number, or an earlier thisUpdate); otherwise the CRL in force stays and the
 * refusal is reported (`onCrlReload`, by default a process warning). Taking a new CRL swaps in a new trust store, so
 * no validation cached under the old CRL is reused. A CRL in force that goes stale still fails closed (`crl-stale`)
 * until a fresh one is taken.
 */
export interface HubTrustFiles {
  participant: string;
  keyFile: string;
  keyPassphrase?: string;
  certificateFile: string;
  anchorFiles: string[];
  intermediateFiles?: string[];
  crlFiles?: string[];
  /** Certificates trusted as given (federated hubs' pinned certificates). */
  pinnedFiles?: string[];
  replayWindowMs: number;
  /** How often, at most, the CRL files are looked at for a new version. Default 30 s; 0 looks at every check. */
  crlCheckIntervalMs?: number;
  /** The clock of the CRL checks, in ms (tests). */
  now?: () => number;
  /** Told what a look at the CRL files changed or refused (by default, refusals become a process warning). */
  onCrlReload?: (report: CrlReloadReport) => void;
}

/** What one look at the CRL files did. */
export interface CrlReloadReport {
  /** Files whose new CRL is now in force. */
  loaded: Array<{ file: string; issuer: string; crlNumber?: string; thisUpdate: string; nextUpdate?: string; revoked: number }>;
  /** Files whose new content was refused: the CRL read before stays in force. */
  refused: Array<{ file: string; reason: string }>;
}

/** Default pace of the CRL checks. */
export const CRL_CHECK_INTERVAL_MS = 30_000;

export interface HubTrust {
  readonly participant: string;
  readonly signer: Signer;
  /** The trust store in force (a new one after each CRL change). */
  readonly store: TrustStore;
  /** For the TLS server and mTLS clients: the key and chain as PEM, and the anchors. */
  readonly tls: { key: string; cert: string; ca: string[] };
  /** This hub's private key and leaf certificate, for XML signatures (WS-Security) to SOAP peers that want them. */
  readonly key: KeyObject;
  readonly certificatePem: string;
  readonly replayWindowMs: number;
  sign(body: Buffer, fields: MessageFields): Promise<Record<string, string>>;
  /** A request signed by its client, or (with `response`) another hub's answer to our request, signed by that hub. */
  verify(headers: IncomingHeaders, body: Buffer, response?: { requestHash: string; signer: string; status: number }): Promise<VerifiedMessage>;
  /** The participant a client certificate names, after checking it against the trust store for `purpose`. */
  identify(certificate: X509Certificate, presented: X509Certificate[], purpose: TrustPurpose): string;
  /** Looks at the CRL files now, whatever the interval (e.g. on SIGHUP), and says what changed. */
  reloadCrls(): CrlReloadReport;
  /**
   * A number that grows whenever a new CRL is taken (after looking at the files, at most every interval). A verdict
   * cached under an older number (an mTLS connection's identity) must be checked again.
   */
  revision(): number;
  close(): Promise<void>;
}

interface CrlFileState {
  file: string;
  /** inode, size and times of the version last looked at (taken or refused), or the error reading it. */
  seen: string;
  bytes: Buffer;
  crl: Crl;
}

function statKey(file: string): string {
  try {
    const stat = statSync(file, { bigint: true });
    return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeNs}:${stat.ctimeNs}`;
  } catch (error) {
    return `error:${(error as NodeJS.ErrnoException).code ?? String(error)}`;
  }
}

function reasonOf(error: unknown): string {
  if (isHubError(error)) return error.message;
  return error instanceof Error ? error.message : String(error);
}

/** Prefer the higher CRL number; without numbers, the later thisUpdate (as the trust store does). */
function olderCrl(candidate: Crl, current: Crl): boolean {
  if (candidate.crlNumber !== undefined && current.crlNumber !== undefined) return candidate.crlNumber < current.crlNumber;
  return candidate.thisUpdate.getTime() < current.thisUpdate.getTime();
}

export function loadHubTrust(files: HubTrustFiles): HubTrust {
  const keyPem = readFileSync(files.keyFile, 'utf8');
  const key: KeyObject = createPrivateKey(files.keyPassphrase === undefined ? keyPem : { key: keyPem, passphrase: files.keyPassphrase });
  const chainPems = splitPemCertificates(readFileSync(files.certificateFile, 'utf8'));
  const read = (list: string[] | undefined) => (list ?? []).map((file) => readFileSync(file, 'utf8'));
  const pinned = read(files.pinnedFiles);
  const anchors = read(files.anchorFiles);
  const intermediates = read(files.intermediateFiles);
  const now = files.now ?? Date.now;
  const interval = Math.max(0, files.crlCheckIntervalMs ?? CRL_CHECK_INTERVAL_MS);
  const crlFiles: CrlFileState[] = (files.crlFiles ?? []).map((file) => {
    const seen = statKey(file);
    const bytes = readFileSync(file);
    return { file, seen, bytes, crl: parseCrl(bytes) };
  });
  // A pinned certificate is trusted as given: it is its own anchor.
  const storeWith = (crls: CrlFileState[]) => createTrustStore({ anchors: [...anchors, ...pinned], intermediates, crls: crls.map((entry) => entry.bytes), pinned: [...pinned, ...chainPems.slice(0, 1)] });
  let store = storeWith(crlFiles);
  let generation = 0;
  let lastLook = now();
  // The CAs a CRL may come from: the store's anchors and intermediates (pinned leaves sign no CRLs).
  const issuers = [...anchors, ...intermediates].flatMap((text) => splitPemCertificates(text).map((pem) => loadCertificate(pem)));
  const report = files.onCrlReload ?? ((result: CrlReloadReport) => {
    for (const refused of result.refused) process.emitWarning(`CRL ${refused.file} not taken, the previous one stays in force: ${refused.reason}`, 'LienthongCrlWarning');
  });

  /** Why `candidate`, newly read from `entry.file`, may not replace `entry.crl`; undefined when it may. */
  const replacementProblem = (entry: CrlFileState, candidate: Crl): string | undefined => {
    if (candidate.issuerKey !== entry.crl.issuerKey) {
      return `it is a CRL of "${candidate.issuer}", but the file held the CRL of "${entry.crl.issuer}"; restart the hub to change which CAs have CRLs`;
    }
    const named = issuers.filter((issuer) => nameKey(subjectNameOf(issuer)) === candidate.issuerKey);
    if (named.length === 0) return `no CA of the trust store is named "${candidate.issuer}"`;
    const problems = named.map((issuer) => crlSignatureProblem(candidate, issuer));
    if (!problems.includes(undefined)) return problems[0]!;
    if (olderCrl(candidate, entry.crl)) {
      const number = (crl: Crl) => (crl.crlNumber === undefined ? `of ${crl.thisUpdate.toISOString()}` : `number ${crl.crlNumber}`);
      return `it is older (${number(candidate)}) than the CRL in force (${number(entry.crl)})`;
    }
    return undefined;
  };

  const reloadCrls = (): CrlReloadReport => {
    lastLook = now();
    const result: CrlReloadReport = { loaded: [], refused: [] };
    let changed = false;
    for (const entry of crlFiles) {
      const seen = statKey(entry.file);
      if (seen === entry.seen) continue;
      entry.seen = seen; // a refused version is reported once, not at every look
      if (seen.startsWith('error:')) {
        result.refused.push({ file: entry.file, reason: `cannot read the file (${seen.slice(6)})` });
        continue;
      }
      let bytes: Buffer;
      let candidate: Crl;
      try {
        bytes = readFileSync(entry.file);
        if (bytes.equals(entry.bytes)) continue;
        candidate = parseCrl(bytes);
      } catch (error) {
        result.refused.push({ file: entry.file, reason: reasonOf(error) });
        continue;
      }
      const problem = replacementProblem(entry, candidate);
      if (problem) {
        result.refused.push({ file: entry.file, reason: problem });
        continue;
      }
      entry.bytes = bytes;
      entry.crl = candidate;
      changed = true;
      result.loaded.push({
        file: entry.file, issuer: candidate.issuer, thisUpdate: candidate.thisUpdate.toISOString(), revoked: candidate.revoked.size,
        ...(candidate.crlNumber === undefined ? {} : { crlNumber: candidate.crlNumber.toString() }),
        ...(candidate.nextUpdate === undefined ? {} : { nextUpdate: candidate.nextUpdate.toISOString() }),
      });
    }
    if (changed) {
      try {
        store = storeWith(crlFiles);
        generation++;
      } catch (error) {
        // cannot happen for CRLs that parsed; keep the store in force rather than fail open
        result.refused.push(...result.loaded.map((loaded) => ({ file: loaded.file, reason: reasonOf(error) })));
        result.loaded = [];
      }
    }
    if (result.loaded.length > 0 || result.refused.length > 0) {
      try {
        report(result);
      } catch {
        // a failing listener must not fail the check that looked at the files
      }
    }
    return result;
  };

  /** The store in force, after a look at the CRL files when the last one is older than the interval. */
  const current = (): TrustStore => {
    if (crlFiles.length > 0 && now() - lastLook >= interval) reloadCrls();
    return store;
  };

  // One key operation at a time, batches at most every 4 ms under load: RSA-2048 signing then costs at most a quarter of
  // a core however busy the hub is, for up to 4 ms of added latency per signed message (none for a lone one).
  const signer = batchSigner(localKeySigner(key, chainPems), { parallel: 1, minIntervalMs: 4 });

  // The same few certificates sign every message, and the signature reader hands out one x5c list per distinct header
  // (bounded): each list's certificates are parsed once, and forgotten with it.
  const parsed = new WeakMap<string[], { certificate: X509Certificate; chain: X509Certificate[] }>();
  const certificatesOf = (x5c: string[]) => {
    let entry = parsed.get(x5c);
    if (!entry) {
      const [leaf, ...rest] = x5c.map((der) => new X509Certificate(Buffer.from(der, 'base64')));
      entry = { certificate: leaf!, chain: rest };
      parsed.set(x5c, entry);
    }
    return entry;
  };
  const verify = (headers: IncomingHeaders, body: Buffer, response?: { requestHash: string; signer: string; status: number }) => {
    const trustStore = current();
    return verifyMessage(headers, body, {
      resolveCertificate: ({ kid, x5c }) => {
        if (x5c?.length) {
          const entry = certificatesOf(x5c);
          if (kid && kidOf(entry.certificate) !== kid) return undefined;
          return entry;
        }
        const known = kid ? trustStore.certificateByKid(kid) : undefined;
        return known && { certificate: known, chain: [] };
      },
      checkChain: (certificate, chain, at) => {
        const verdict = trustStore.validate(certificate, chain, at, 'signing');
        return verdict.ok ? { ok: true } : { ok: false, code: verdict.code, reason: verdict.reason };
      },
      maxSkewMs: files.replayWindowMs,
      expectRequestHash: response?.requestHash,
      expectSigner: response?.signer,
      expectStatus: response?.status,
    });
  };

  return {
    participant: files.participant,
    signer,
    get store() {
      return current();
    },
    tls: { key: keyPem, cert: chainPems.join(''), ca: anchors },
    key,
    certificatePem: chainPems[0] ?? '',
    replayWindowMs: files.replayWindowMs,
    sign: (body, fields) => signMessage(signer, body, fields),
    verify,
    identify(certificate, presented, purpose) {
      const verdict = current().validate(certificate, presented, new Date(), purpose);
      if (!verdict.ok) {
        throw new HubError('trust.certificate-invalid', `chứng thư số của bên gọi không hợp lệ / the caller's certificate is not valid: ${verdict.code}`, { status: 401, detail: [{ reason: verdict.reason, code: verdict.code }] });
      }
      const participant = participantOf(certificate);
      if (!participant) {
        throw new HubError('trust.wrong-participant', 'chứng thư số của bên gọi không ghi mã thành viên / the caller\'s certificate names no participant', { status: 403, detail: [{ reason: 'the certificate has no urn:lienthong:participant: URI in its subjectAltName', code: 'no-participant' }] });
      }
      return participant;
    },
    reloadCrls,
    revision() {
      current();
      return generation;
    },
    close: () => signer.close(),
  };
}
