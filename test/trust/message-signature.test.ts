import { rejection } from '../support/errors.js';
import { createHash, type X509Certificate } from 'node:crypto';
import { flattenedVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import { decodeProof, foldProof, leafHash } from '../../src/trust/hash-tree.js';
import {
  MESSAGE_HEADERS,
  contentDigestOf,
  requestHashOf,
  signMessage,
  verifyMessage,
  type ChainCheck,
  type IncomingHeaders,
  type MessageFields,
  type VerifyOptions,
} from '../../src/trust/message-signature.js';
import { createCrl } from '../../src/trust/crl.js';
import { createDevCa, issueCertificate, loadCertificate, loadPrivateKey, type PemPair } from '../../src/trust/pki.js';
import { batchSigner, kidOf, localKeySigner, type Signer } from '../../src/trust/signer.js';
import { createTrustStore, type TrustStore } from '../../src/trust/trust-store.js';
import { forgeCertificate } from './helpers.js';

const H56 = 'VN/GOV/000.00.00.H56/LIENTHONG';
const G22 = 'VN/GOV/000.00.00.G22/NGSP';
const SERVICE = `${G22}/citizen-lookup/v1`;
/** The tests' clock: now (certificates are issued for the real now), to the second. */
const NOW = new Date(Math.floor(Date.now() / 1000) * 1000);
/** NOW in Vietnam's offset, as a peer would write it. */
const NOW_VN = new Date(NOW.getTime() + 7 * 3_600_000).toISOString().replace(/\.000Z$/, '+07:00');
const DAY = 86_400_000;

let ca: PemPair;
let trustStore: TrustStore;
let h56: { pair: PemPair; cert: X509Certificate; signer: Signer };
let g22: { pair: PemPair; cert: X509Certificate; signer: Signer };
const known = new Map<string, X509Certificate>();

function party(participant: string, commonName: string, validDays?: number) {
  const pair = issueCertificate({ ca, commonName, participant, usage: 'hub', validDays });
  const cert = loadCertificate(pair.certPem);
  known.set(kidOf(cert), cert);
  return { pair, cert, signer: batchSigner(localKeySigner(loadPrivateKey(pair.keyPem), [pair.certPem])) };
}

/** The chain check a hub gives verifyMessage: a real trust store's validation for signing. */
const chainCheckOf = (store: TrustStore) => (certificate: X509Certificate, chain: X509Certificate[], at: Date): ChainCheck => store.validate(certificate, chain, at, 'signing');
const checkChain = (certificate: X509Certificate, chain: X509Certificate[], at: Date): ChainCheck => chainCheckOf(trustStore)(certificate, chain, at);

const options = (extra: Partial<VerifyOptions> = {}): VerifyOptions => ({
  resolveCertificate: ({ kid }) => {
    const certificate = kid === undefined ? undefined : known.get(kid);
    return certificate ? { certificate, chain: [] } : undefined;
  },
  checkChain,
  now: () => NOW,
  ...extra,
});

const body = Buffer.from(JSON.stringify({ soDinhDanh: '001099999999', mucDich: 'Kiểm thử' }));
const fields = (extra: Partial<MessageFields> = {}): MessageFields => ({
  messageId: '7f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e2f',
  client: H56,
  service: SERVICE,
  time: NOW_VN,
  ...extra,
});

/** The HubError a verification throws, checked for the repo's error shape. */
async function failureOf(headers: IncomingHeaders, payload: Buffer, extra: Partial<VerifyOptions> = {}): Promise<HubError> {
  const error = await rejection(verifyMessage(headers, payload, options(extra)));
  expect(error.message).toMatch(/^\S.* \/ .+: .+/); // "Vietnamese / English: reason"
  expect(error.detail).toHaveLength(1);
  expect(error.detail[0]!.code).toBeTruthy();
  return error;
}

beforeAll(() => {
  ca = createDevCa({ commonName: 'Lienthong Test CA' });
  trustStore = createTrustStore({ anchors: [ca.certPem] });
  h56 = party(H56, 'hub-h56');
  g22 = party(G22, 'ngsp-g22');
});

afterAll(async () => {
  await Promise.all([h56.signer.close(), g22.signer.close()]);
});

describe('signMessage', () => {
  it('writes the signed headers, content-digest and a lone signature without proof', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    expect(Object.keys(headers)).toEqual([
      'x-lienthong-message-id',
      'x-lienthong-client',
      'x-lienthong-service',
      'x-lienthong-time',
      'content-digest',
      'x-lienthong-signature',
    ]);
    expect(headers['content-digest']).toBe(`sha-256=:${createHash('sha256').update(body).digest('base64')}:`);
    expect(headers['x-lienthong-signature']).toMatch(/^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/);
  });

  it('signs exactly the documented signing input, and the request hash is its SHA-256', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    const signingInput = [
      'lienthong-message-signature/1',
      `x-lienthong-message-id:${fields().messageId}`,
      `x-lienthong-client:${H56}`,
      `x-lienthong-service:${SERVICE}`,
      `x-lienthong-time:${NOW_VN}`,
      `content-digest:${contentDigestOf(body)}`,
      '',
    ].join('\n');
    const digest = createHash('sha256').update(signingInput).digest();
    expect(requestHashOf(headers)).toBe(digest.toString('base64url'));
    // jose alone, given only the documented construction, accepts the signature.
    const [protectedHeader, , signature] = headers['x-lienthong-signature']!.split('.');
    const payload = foldProof(leafHash(digest), decodeProof(headers['x-lienthong-signature-proof'] ?? '')).toString('base64url');
    await flattenedVerify({ protected: protectedHeader!, payload, signature: signature! }, h56.cert.publicKey);
  });

  it('writes a Date in UTC and refuses fields it cannot sign unambiguously', async () => {
    const headers = await signMessage(h56.signer, body, fields({ time: NOW }));
    expect(headers['x-lienthong-time']).toBe(NOW.toISOString());
    expect(headers['x-lienthong-time']).toMatch(/Z$/);
    const bad: Array<[Partial<MessageFields>, string]> = [
      [{ messageId: 'id\r\nx-lienthong-client:VN/GOV/000.00.00.G22/NGSP' }, 'x-lienthong-message-id'],
      [{ messageId: '' }, 'x-lienthong-message-id'],
      [{ client: 'VN/GOV/not-an-agency/X' }, 'x-lienthong-client'],
      [{ service: G22 }, 'x-lienthong-service'],
      [{ time: '2026-03-07 08:00:00' }, 'x-lienthong-time'],
      [{ time: '2026-03-07T08:00:00' }, 'x-lienthong-time'],
      [{ requestHash: 'short' }, 'x-lienthong-request-hash'],
    ];
    for (const [change, field] of bad) {
      const error = await rejection(signMessage(h56.signer, body, fields(change)));
      expect(error.type).toBe('trust.bad-message-field');
      expect(error.detail[0]!.field).toBe(field);
    }
  });
});

describe('verifyMessage', () => {
  it('accepts a signed request and returns who, what and when', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    const verified = await verifyMessage(headers, body, options());
    expect(verified).toMatchObject({ messageId: fields().messageId, client: H56, service: SERVICE, participant: H56, requestHash: requestHashOf(headers) });
    expect(verified.time.getTime()).toBe(NOW.getTime());
    expect(verified.certificate.fingerprint256).toBe(h56.cert.fingerprint256);
  });

  it('reads header names in any case', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    const shouted = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    await expect(verifyMessage(shouted, body, options())).resolves.toMatchObject({ participant: H56 });
  });

  it('verifies every member of a batch (concurrent messages share one signature, each with its proof)', async () => {
    const signer = batchSigner(localKeySigner(loadPrivateKey(h56.pair.keyPem), [h56.pair.certPem]));
    const bodies = Array.from({ length: 60 }, (_, i) => Buffer.from(`{"n":${i}}`));
    const all = await Promise.all(bodies.map((b, i) => signMessage(signer, b, fields({ messageId: `msg-${i}` }))));
    expect(all.filter((h) => h['x-lienthong-signature-proof'] !== undefined).length).toBeGreaterThanOrEqual(50);
    expect(new Set(all.map((h) => h['x-lienthong-signature'])).size).toBeLessThan(10);
    for (let i = 0; i < all.length; i++) expect((await verifyMessage(all[i]!, bodies[i]!, options())).messageId).toBe(`msg-${i}`);
    // A proof moved to another message of the same batch does not verify.
    const [a, b] = all.filter((h) => h['x-lienthong-signature-proof'] !== undefined);
    const swapped = { ...a!, 'x-lienthong-signature-proof': b!['x-lienthong-signature-proof']! };
    expect((await failureOf(swapped, bodies[Number(a!['x-lienthong-message-id']!.slice(4))]!)).type).toBe('trust.signature-invalid');
    await signer.close();
  });

  it('no signature: trust.signature-missing (401)', async () => {
    const { 'x-lienthong-signature': _, ...unsigned } = await signMessage(h56.signer, body, fields());
    const error = await failureOf(unsigned, body);
    expect(error.type).toBe('trust.signature-missing');
    expect(error.status).toBe(401);
    expect((await failureOf({ ...unsigned, 'x-lienthong-signature': '' }, body)).type).toBe('trust.signature-missing');
  });

  it('missing, malformed, repeated or smuggling headers: trust.signature-malformed (401), naming the header, not its value', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    const secret = 'VALUE-THAT-MUST-NOT-LEAK';
    const cases: Array<[IncomingHeaders, string, string]> = [
      [{ ...headers, 'x-lienthong-time': undefined }, 'x-lienthong-time', 'missing-header'],
      [{ ...headers, 'x-lienthong-message-id': `${secret}\nx-lienthong-client:${G22}` }, 'x-lienthong-message-id', 'message-id'],
      [{ ...headers, 'x-lienthong-message-id': `${secret} ` }, 'x-lienthong-message-id', 'message-id'],
      [{ ...headers, 'x-lienthong-client': `${H56}, ${G22}` }, 'x-lienthong-client', 'participant'],
      [{ ...headers, 'x-lienthong-client': [H56, G22] }, 'x-lienthong-client', 'duplicate-header'],
      [{ ...headers, 'X-Lienthong-Client': H56 }, 'x-lienthong-client', 'duplicate-header'],
      [{ ...headers, 'x-lienthong-service': `${SERVICE}/${secret}` }, 'x-lienthong-service', 'service'],
      [{ ...headers, 'x-lienthong-time': '2026-02-30T08:00:00+07:00' }, 'x-lienthong-time', 'time'],
      [{ ...headers, 'x-lienthong-time': '2026-03-07T24:00:00Z' }, 'x-lienthong-time', 'time'],
      [{ ...headers, 'x-lienthong-time': '1772845200' }, 'x-lienthong-time', 'time'],
      [{ ...headers, 'content-digest': `sha-512=:${Buffer.alloc(64).toString('base64')}:` }, 'content-digest', 'content-digest'],
      [{ ...headers, 'content-digest': `${headers['content-digest']}, sha-512=:AA==:` }, 'content-digest', 'content-digest'],
      [{ ...headers, 'x-lienthong-message-id': secret.repeat(20) }, 'x-lienthong-message-id', 'too-long'],
      [{ ...headers, 'x-lienthong-signature': `${secret}.x.y` }, 'x-lienthong-signature', 'jws-form'],
      [{ ...headers, 'x-lienthong-signature-proof': `L${secret}` }, 'x-lienthong-signature-proof', 'proof-syntax'],
    ];
    for (const [changed, field, code] of cases) {
      const error = await failureOf(changed, body);
      expect(error.type, code).toBe('trust.signature-malformed');
      expect(error.status).toBe(401);
      expect(error.detail[0], code).toMatchObject({ field, code });
      expect(error.message).not.toContain(secret);
      expect(JSON.stringify(error.detail)).not.toContain(secret);
      expect(error.message).not.toContain(H56);
    }
  });

  it('catches tampering with each signed header: trust.signature-invalid', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    const changes: Record<string, string> = {
      'x-lienthong-message-id': '7f0c1d2e-3a4b-4c5d-8e6f-7a8b9c0d1e30',
      'x-lienthong-client': 'VN/GOV/000.00.00.H57/LIENTHONG',
      'x-lienthong-service': `${G22}/citizen-lookup/v2`,
      'x-lienthong-time': NOW_VN.replace(/:(\d\d)\+/, (_, s: string) => `:${String((Number(s) + 1) % 60).padStart(2, '0')}+`),
      'content-digest': contentDigestOf(Buffer.from('another body')),
    };
    for (const [name, value] of Object.entries(changes)) {
      const error = await failureOf({ ...headers, [name]: value }, body);
      expect(error.type, name).toBe('trust.signature-invalid');
      expect(error.status).toBe(401);
      expect(error.detail[0]!.code).toBe('bad-signature');
    }
    // The same instant written in another offset is another signed text.
    expect((await failureOf({ ...headers, 'x-lienthong-time': NOW.toISOString() }, body)).type).toBe('trust.signature-invalid');
  });

  it('a body changed after signing: trust.body-mismatch, distinct from a wrong signature', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    const changed = Buffer.from(body);
    changed[changed.length - 3]! ^= 0x01;
    const error = await failureOf(headers, changed);
    expect(error.type).toBe('trust.body-mismatch');
    expect(error.status).toBe(401);
    expect(error.detail[0]).toMatchObject({ field: 'content-digest', code: 'content-digest' });
    // Changing the body and its digest together breaks the signature instead.
    expect((await failureOf({ ...headers, 'content-digest': contentDigestOf(changed) }, changed)).type).toBe('trust.signature-invalid');
  });

  it('a signature from another key, or a forged alg: trust.signature-invalid', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    // Signed by G22's key but claiming H56's certificate: resolve H56's certificate for G22's kid.
    const byOther = await signMessage(g22.signer, body, fields());
    const error = await failureOf(byOther, body, {
      resolveCertificate: () => ({ certificate: h56.cert, chain: [] }),
    });
    expect(error.type).toBe('trust.certificate-unknown'); // kid names G22's certificate, not the one resolved
    const [protectedHeader, , signature] = byOther['x-lienthong-signature']!.split('.');
    const header = JSON.parse(Buffer.from(protectedHeader!, 'base64url').toString()) as Record<string, unknown>;
    const relabelled = `${Buffer.from(JSON.stringify({ ...header, kid: kidOf(h56.cert) })).toString('base64url')}..${signature}`;
    expect((await failureOf({ ...headers, 'x-lienthong-signature': relabelled }, body)).type).toBe('trust.signature-invalid');
    const es256 = `${Buffer.from(JSON.stringify({ ...header, alg: 'ES256', kid: kidOf(h56.cert) })).toString('base64url')}..${signature}`;
    const algError = await failureOf({ ...headers, 'x-lienthong-signature': es256 }, body);
    expect(algError.type).toBe('trust.signature-invalid');
    expect(algError.detail[0]!.code).toBe('alg-mismatch');
  });

  it('an unknown certificate: trust.certificate-unknown', async () => {
    const headers = await signMessage(h56.signer, body, fields());
    const error = await failureOf(headers, body, { resolveCertificate: () => undefined });
    expect(error.type).toBe('trust.certificate-unknown');
    expect(error.status).toBe(401);
    expect(error.detail[0]!.code).toBe('not-found');
  });

  it('an invalid certificate: trust.certificate-invalid with the chain code (expired, revoked, untrusted)', async () => {
    const shortLived = party(H56, 'hub-h56-short', 1);
    const later = new Date(Date.now() + 2 * DAY);
    const expiredHeaders = await signMessage(shortLived.signer, body, fields({ time: later }));
    const expired = await failureOf(expiredHeaders, body, { now: () => later });
    expect(expired.type).toBe('trust.certificate-invalid');
    expect(expired.status).toBe(401);
    expect(expired.detail[0]!.code).toBe('expired');
    await shortLived.signer.close();

    const headers = await signMessage(h56.signer, body, fields());
    const crl = createCrl({ ca, revoked: [{ serialNumber: h56.cert.serialNumber, revokedAt: NOW }], crlNumber: 1 });
    const revoking = createTrustStore({ anchors: [ca.certPem], crls: [crl.pem] });
    expect((await failureOf(headers, body, { checkChain: chainCheckOf(revoking) })).detail[0]!.code).toBe('revoked');

    const otherCa = createDevCa({ commonName: 'Unknown CA' });
    const stranger = issueCertificate({ ca: otherCa, commonName: 'stranger', participant: H56, usage: 'hub' });
    const strangerCert = loadCertificate(stranger.certPem);
    known.set(kidOf(strangerCert), strangerCert);
    const strangerSigner = batchSigner(localKeySigner(loadPrivateKey(stranger.keyPem), [stranger.certPem]));
    const untrusted = await failureOf(await signMessage(strangerSigner, body, fields()), body);
    expect(untrusted.type).toBe('trust.certificate-invalid');
    expect(untrusted.detail[0]!.code).toBe('untrusted');
    await strangerSigner.close();
  });

  it('outside the time window, past or future: trust.stale (401)', async () => {
    const at = (ms: number) => new Date(NOW.getTime() + ms);
    const old = await signMessage(h56.signer, body, fields({ time: at(-6 * 60_000) }));
    const future = await signMessage(h56.signer, body, fields({ time: at(6 * 60_000) }));
    const recent = await signMessage(h56.signer, body, fields({ time: at(-4 * 60_000) }));
    const tooOld = await failureOf(old, body);
    expect(tooOld.type).toBe('trust.stale');
    expect(tooOld.status).toBe(401);
    expect(tooOld.detail[0]!.code).toBe('too-old');
    const ahead = await failureOf(future, body);
    expect(ahead.type).toBe('trust.stale');
    expect(ahead.detail[0]!.code).toBe('in-future');
    await expect(verifyMessage(recent, body, options())).resolves.toBeTruthy();
    expect((await failureOf(recent, body, { maxSkewMs: 60_000 })).type).toBe('trust.stale');
  });

  it('a client header that is not the certificate\'s participant: trust.wrong-participant (403)', async () => {
    const claimsG22 = await signMessage(h56.signer, body, fields({ client: G22 }));
    const error = await failureOf(claimsG22, body);
    expect(error.type).toBe('trust.wrong-participant');
    expect(error.status).toBe(403);
    expect(error.detail[0]).toMatchObject({ field: 'x-lienthong-client', code: 'participant-mismatch' });

    // A certificate without a participant URI SAN names nobody.
    const bare = forgeCertificate({ cn: 'no-san', issuer: ca, ca: false });
    const bareCert = loadCertificate(bare.certPem);
    known.set(kidOf(bareCert), bareCert);
    const bareSigner = batchSigner(localKeySigner(loadPrivateKey(bare.keyPem), [bare.certPem]));
    const anonymous = await failureOf(await signMessage(bareSigner, body, fields()), body);
    expect(anonymous.type).toBe('trust.wrong-participant');
    expect(anonymous.detail[0]!.code).toBe('no-participant');
    await bareSigner.close();
  });
});

describe('request hash: a response bound to its request', () => {
  const answer = Buffer.from('{"hoTen":"Trần Văn Thử"}');

  async function exchange() {
    const request = await signMessage(h56.signer, body, fields());
    const served = await verifyMessage(request, body, options()); // at the provider
    const response = await signMessage(g22.signer, answer, fields({ messageId: 'resp-1', requestHash: served.requestHash }));
    return { request, served, response };
  }

  it('the provider echoes the hash; the caller accepts the response signed by the service provider', async () => {
    const { request, served, response } = await exchange();
    expect(served.requestHash).toBe(requestHashOf(request));
    expect(response['x-lienthong-request-hash']).toBe(served.requestHash);
    const verified = await verifyMessage(response, answer, options({ expectRequestHash: requestHashOf(request) }));
    expect(verified.participant).toBe(G22);
    expect(verified.client).toBe(H56);
  });

  it('a response bound to another request: trust.request-hash-mismatch (502)', async () => {
    const { response } = await exchange();
    const otherRequest = await signMessage(h56.signer, body, fields({ messageId: 'another-request' }));
    const error = await failureOf(response, answer, { expectRequestHash: requestHashOf(otherRequest) });
    expect(error.type).toBe('trust.request-hash-mismatch');
    expect(error.status).toBe(502);
    expect(error.detail[0]!.code).toBe('request-hash-mismatch');
  });

  it('a response without a request hash: trust.request-hash-mismatch', async () => {
    const { request } = await exchange();
    const unbound = await signMessage(g22.signer, answer, fields({ messageId: 'resp-2' }));
    const error = await failureOf(unbound, answer, { expectRequestHash: requestHashOf(request) });
    expect(error.type).toBe('trust.request-hash-mismatch');
    expect(error.detail[0]!.code).toBe('request-hash-missing');
  });

  it('the request hash is signed: changing or dropping it breaks the signature', async () => {
    const { request, response } = await exchange();
    const otherRequest = await signMessage(h56.signer, body, fields({ messageId: 'another-request' }));
    const expectRequestHash = requestHashOf(request);
    const rebound = await failureOf({ ...response, 'x-lienthong-request-hash': requestHashOf(otherRequest) }, answer, { expectRequestHash: requestHashOf(otherRequest) });
    expect(rebound.type).toBe('trust.signature-invalid');
    const dropped = await failureOf({ ...response, 'x-lienthong-request-hash': undefined }, answer, { expectRequestHash });
    expect(dropped.type).toBe('trust.signature-invalid');
  });

  it('a response must be signed by the service provider, not the client', async () => {
    const { request, served } = await exchange();
    const byClient = await signMessage(h56.signer, answer, fields({ messageId: 'resp-3', requestHash: served.requestHash }));
    const error = await failureOf(byClient, answer, { expectRequestHash: requestHashOf(request) });
    expect(error.type).toBe('trust.wrong-participant');
    expect(error.detail[0]!.field).toBe('x-lienthong-service');
  });

  it('a response replayed as a request is refused', async () => {
    const { response } = await exchange();
    const error = await failureOf(response, answer);
    expect(error.type).toBe('trust.signature-malformed');
    expect(error.detail[0]).toMatchObject({ field: 'x-lienthong-request-hash', code: 'unexpected-request-hash' });
  });

  it('the HTTP status is signed: a response that came with another status than it signed is refused', async () => {
    const { request, served } = await exchange();
    const refusal = await signMessage(g22.signer, answer, fields({ messageId: 'resp-4', requestHash: served.requestHash, status: 403 }));
    expect(refusal['x-lienthong-status']).toBe('403');
    const expectRequestHash = requestHashOf(request);
    expect((await verifyMessage(refusal, answer, options({ expectRequestHash, expectStatus: 403 }))).participant).toBe(G22);
    // A refusal passed on as an acceptance (by a proxy on the way), with or without its status header changed.
    expect((await failureOf(refusal, answer, { expectRequestHash, expectStatus: 202 })).detail[0]).toMatchObject({ code: 'status-mismatch', field: 'x-lienthong-status' });
    expect((await failureOf({ ...refusal, 'x-lienthong-status': '202' }, answer, { expectRequestHash, expectStatus: 202 })).type).toBe('trust.signature-invalid');
    // A response that does not sign its status is refused when the caller knows the status.
    const { response } = await exchange();
    expect((await failureOf(response, answer, { expectRequestHash, expectStatus: 200 })).detail[0]!.code).toBe('status-mismatch');
    // A request has no status.
    const odd = await signMessage(h56.signer, body, fields({ messageId: 'req-status', status: 200 }));
    expect((await failureOf(odd, body)).detail[0]).toMatchObject({ code: 'unexpected-status', field: 'x-lienthong-status' });
  });

  it('the idempotency key is signed: adding, changing or dropping it breaks the signature', async () => {
    const keyed = await signMessage(h56.signer, body, fields({ messageId: 'req-keyed', idempotencyKey: 'delivery-0001' }));
    expect(keyed['x-lienthong-idempotency-key']).toBe('delivery-0001');
    expect((await verifyMessage(keyed, body, options())).idempotencyKey).toBe('delivery-0001');
    expect((await failureOf({ ...keyed, 'x-lienthong-idempotency-key': 'delivery-0002' }, body)).type).toBe('trust.signature-invalid');
    expect((await failureOf({ ...keyed, 'x-lienthong-idempotency-key': undefined }, body)).type).toBe('trust.signature-invalid');
    const unkeyed = await signMessage(h56.signer, body, fields({ messageId: 'req-unkeyed' }));
    expect((await verifyMessage(unkeyed, body, options())).idempotencyKey).toBeUndefined();
    expect((await failureOf({ ...unkeyed, 'x-lienthong-idempotency-key': 'delivery-0001' }, body)).type).toBe('trust.signature-invalid');
  });

  it('requestHashOf refuses headers it cannot read', () => {
    expect(() => requestHashOf({ 'x-lienthong-message-id': 'only' })).toThrow(HubError);
  });
});

it('exports the header names it documents', () => {
  expect(Object.values(MESSAGE_HEADERS)).toEqual([
    'x-lienthong-message-id',
    'x-lienthong-client',
    'x-lienthong-service',
    'x-lienthong-time',
    'content-digest',
    'x-lienthong-request-hash',
    'x-lienthong-status',
    'x-lienthong-idempotency-key',
    'x-lienthong-signature',
    'x-lienthong-signature-proof',
  ]);
});
