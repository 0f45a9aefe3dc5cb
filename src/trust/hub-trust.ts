import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HubError } from '../core/errors.js';
import { signMessage, verifyMessage, type IncomingHeaders, type MessageFields, type VerifiedMessage } from './message-signature.js';
import { participantOf, splitPemCertificates } from './pki.js';
import { batchSigner, kidOf, localKeySigner, type Signer } from './signer.js';
import { createTrustStore, type TrustPurpose, type TrustStore } from './trust-store.js';

/**
 * This hub's identity and what it trusts, loaded once at start: its key (a KeyObject, never re-read),
 * its certificate chain, the batch signer over that key, and the trust store (anchors, intermediates,
 * CRLs, and the pinned certificates of federated hubs). Signing and verifying hub-to-hub messages and
 * checking client certificates all go through here, so every check uses the same store and clock.
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
}

export interface HubTrust {
  readonly participant: string;
  readonly signer: Signer;
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
  close(): Promise<void>;
}

export function loadHubTrust(files: HubTrustFiles): HubTrust {
  const keyPem = readFileSync(files.keyFile, 'utf8');
  const key: KeyObject = createPrivateKey(files.keyPassphrase === undefined ? keyPem : { key: keyPem, passphrase: files.keyPassphrase });
  const chainPems = splitPemCertificates(readFileSync(files.certificateFile, 'utf8'));
  const read = (list: string[] | undefined) => (list ?? []).map((file) => readFileSync(file, 'utf8'));
  const pinned = read(files.pinnedFiles);
  const anchors = read(files.anchorFiles);
  // A pinned certificate is trusted as given: it is its own anchor.
  const store = createTrustStore({ anchors: [...anchors, ...pinned], intermediates: read(files.intermediateFiles), crls: (files.crlFiles ?? []).map((file) => readFileSync(file)), pinned: [...pinned, ...chainPems.slice(0, 1)] });
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
  const verify = (headers: IncomingHeaders, body: Buffer, response?: { requestHash: string; signer: string; status: number }) => verifyMessage(headers, body, {
    resolveCertificate: ({ kid, x5c }) => {
      if (x5c?.length) {
        const entry = certificatesOf(x5c);
        if (kid && kidOf(entry.certificate) !== kid) return undefined;
        return entry;
      }
      const known = kid ? store.certificateByKid(kid) : undefined;
      return known && { certificate: known, chain: [] };
    },
    checkChain: (certificate, chain, at) => {
      const verdict = store.validate(certificate, chain, at, 'signing');
      return verdict.ok ? { ok: true } : { ok: false, code: verdict.code, reason: verdict.reason };
    },
    maxSkewMs: files.replayWindowMs,
    expectRequestHash: response?.requestHash,
    expectSigner: response?.signer,
    expectStatus: response?.status,
  });

  return {
    participant: files.participant,
    signer,
    store,
    tls: { key: keyPem, cert: chainPems.join(''), ca: anchors },
    key,
    certificatePem: chainPems[0] ?? '',
    replayWindowMs: files.replayWindowMs,
    sign: (body, fields) => signMessage(signer, body, fields),
    verify,
    identify(certificate, presented, purpose) {
      const verdict = store.validate(certificate, presented, new Date(), purpose);
      if (!verdict.ok) {
        throw new HubError('trust.certificate-invalid', `chứng thư số của bên gọi không hợp lệ / the caller's certificate is not valid: ${verdict.code}`, { status: 401, detail: [{ reason: verdict.reason, code: verdict.code }] });
      }
      const participant = participantOf(certificate);
      if (!participant) {
        throw new HubError('trust.wrong-participant', 'chứng thư số của bên gọi không ghi mã thành viên / the caller\'s certificate names no participant', { status: 403, detail: [{ reason: 'the certificate has no urn:lienthong:participant: URI in its subjectAltName', code: 'no-participant' }] });
      }
      return participant;
    },
    close: () => signer.close(),
  };
}
