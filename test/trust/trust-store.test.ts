import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCrl, type RevokedCertificate } from '../../src/trust/crl.js';
import { createDevCa, issueCertificate, loadCertificate, type PemPair } from '../../src/trust/pki.js';
import { createTrustStore, loadTrustStore, type TrustStoreOptions } from '../../src/trust/trust-store.js';
import { kidOf } from '../../src/trust/signer.js';
import { forgeCertificate, thrown } from './helpers.js';

const PARTICIPANT = 'VN/GOV/000.00.00.H56/LIENTHONG';
const DAY = 86_400_000;
const days = (n: number) => new Date(Date.now() + n * DAY);

let root: PemPair;
let issuing: PemPair;
let leaf: PemPair;
let direct: PemPair;

beforeAll(() => {
  root = createDevCa({ commonName: 'Lienthong Root CA', organization: 'Lienthong' });
  issuing = createDevCa({ commonName: 'Lienthong Issuing CA', organization: 'Lienthong', issuer: root });
  leaf = issueCertificate({ ca: issuing, commonName: 'hub-h56', participant: PARTICIPANT, usage: 'hub' });
  direct = issueCertificate({ ca: root, commonName: 'hub-direct', participant: 'VN/GOV/000.00.14.H56/MOTCUA', usage: 'hub' });
});
afterEach(() => vi.restoreAllMocks());

const cert = (pair: PemPair) => loadCertificate(pair.certPem);
const subjects = (chain: X509Certificate[]) => chain.map((c) => c.subject.split('\n').find((line) => line.startsWith('CN='))!.slice(3));
const serialOf = (pair: PemPair) => cert(pair).serialNumber;
const revokedEntry = (pair: PemPair, reason?: RevokedCertificate['reason']): RevokedCertificate => ({ serialNumber: serialOf(pair), revokedAt: new Date(), ...(reason ? { reason } : {}) });
function crlOf(ca: PemPair, revoked: RevokedCertificate[], options: { thisUpdate?: Date; nextUpdate?: Date; crlNumber?: number } = {}): string {
  return createCrl({ ca, revoked, crlNumber: options.crlNumber ?? 1, thisUpdate: options.thisUpdate, nextUpdate: options.nextUpdate }).pem;
}
/** The DER of an extKeyUsage extension value holding only anyExtendedKeyUsage (2.5.29.37.0), as forge wants it. */
function anyExtendedKeyUsageValue(): string {
  return forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.SEQUENCE, true, [
    forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.OID, false, forge.asn1.oidToDer('2.5.29.37.0').getBytes()),
  ])).getBytes();
}
function store(options: Partial<TrustStoreOptions> = {}) {
  return createTrustStore({ anchors: [root.certPem], cacheTtlMs: 0, ...options });
}

describe('paths', () => {
  it('accepts a leaf issued by an anchor, leaf first and anchor last', () => {
    const result = store().validate(cert(direct), [], new Date(), 'signing');
    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(subjects(result.chain)).toEqual(['hub-direct', 'Lienthong Root CA']);
      expect(subjects(result.revocationUnchecked)).toEqual(['hub-direct']);
    }
  });

  it('builds the path through a presented or a configured intermediate, and says untrusted without one', () => {
    const presented = store().validate(cert(leaf), [cert(issuing)], new Date(), 'tls-client');
    expect(presented.ok && subjects(presented.chain)).toEqual(['hub-h56', 'Lienthong Issuing CA', 'Lienthong Root CA']);
    const configured = store({ intermediates: [issuing.certPem] }).validate(cert(leaf), [], new Date(), 'tls-server');
    expect(configured.ok).toBe(true);
    const missing = store().validate(cert(leaf), [], new Date(), 'signing');
    expect(missing).toEqual({ ok: false, code: 'untrusted', reason: expect.stringMatching(/^untrusted issuer: "hub-h56" was issued by ".*CN=Lienthong Issuing CA"/) });
  });

  it('accepts mixed RSA/EC chains in both directions', () => {
    const ecRoot = createDevCa({ commonName: 'Lienthong EC Root', keyType: 'ec' });
    const rsaUnderEc = createDevCa({ commonName: 'RSA Issuing under EC', issuer: ecRoot });
    const ecLeaf = issueCertificate({ ca: rsaUnderEc, commonName: 'ec-leaf', participant: PARTICIPANT, usage: 'client', keyType: 'ec' });
    const ecUnderRsa = createDevCa({ commonName: 'EC Issuing under RSA', keyType: 'ec', issuer: root });
    const rsaLeaf = issueCertificate({ ca: ecUnderRsa, commonName: 'rsa-leaf', participant: PARTICIPANT, usage: 'server' });
    const both = store({ anchors: [root.certPem, ecRoot.certPem] });
    const first = both.validate(cert(ecLeaf), [cert(rsaUnderEc)], new Date(), 'tls-client');
    expect(first.ok && subjects(first.chain)).toEqual(['ec-leaf', 'RSA Issuing under EC', 'Lienthong EC Root']);
    const second = both.validate(cert(rsaLeaf), [cert(ecUnderRsa)], new Date(), 'tls-server');
    expect(second.ok && subjects(second.chain)).toEqual(['rsa-leaf', 'EC Issuing under RSA', 'Lienthong Root CA']);
    // the EC root does not vouch for the RSA root's chain
    expect(store({ anchors: [ecRoot.certPem] }).validate(cert(rsaLeaf), [cert(ecUnderRsa)], new Date(), 'tls-server')).toMatchObject({ ok: false, code: 'untrusted' });
  });

  it('trusts a leaf that is itself an anchor (pinning), still checking its dates and usage', () => {
    const pinnedStore = store({ anchors: [direct.certPem] });
    const result = pinnedStore.validate(cert(direct), [], new Date(), 'tls-client');
    expect(result.ok && subjects(result.chain)).toEqual(['hub-direct']);
    expect(pinnedStore.validate(cert(direct), [], days(400), 'signing')).toMatchObject({ ok: false, code: 'expired' });
  });

  it('rejects an untrusted root and an impostor root with the same name', () => {
    const otherRoot = createDevCa({ commonName: 'Other Root CA' });
    expect(store({ anchors: [otherRoot.certPem] }).validate(cert(direct), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'untrusted' });
    // a chain presented up to its own root does not make that root trusted
    expect(store({ anchors: [otherRoot.certPem] }).validate(cert(direct), [cert(root)], new Date(), 'signing')).toMatchObject({ ok: false, code: 'untrusted' });
    const impostor = createDevCa({ commonName: 'Lienthong Root CA', organization: 'Lienthong' });
    expect(store({ anchors: [impostor.certPem] }).validate(cert(direct), [], new Date(), 'signing')).toEqual({
      ok: false,
      code: 'bad-signature',
      reason: expect.stringMatching(/does not verify with the public key of trust anchor "Lienthong Root CA"/),
    });
  });

  it('finds the good path when a same-named impostor intermediate is presented first', () => {
    const impostor = createDevCa({ commonName: 'Lienthong Issuing CA', organization: 'Lienthong', issuer: root });
    const result = store().validate(cert(leaf), [cert(impostor), cert(issuing)], new Date(), 'signing');
    expect(result.ok && result.chain[1]!.fingerprint256).toBe(cert(issuing).fingerprint256);
  });

  it('enforces pathLenConstraint', () => {
    const zero = createDevCa({ commonName: 'PathLen 0 CA', issuer: root, pathLength: 0 });
    const sub = createDevCa({ commonName: 'Sub CA', issuer: zero });
    const deep = issueCertificate({ ca: sub, commonName: 'deep', participant: PARTICIPANT, usage: 'hub' });
    expect(store().validate(cert(deep), [cert(sub), cert(zero)], new Date(), 'signing')).toEqual({
      ok: false,
      code: 'path-too-long',
      reason: '"PathLen 0 CA" allows 0 intermediate CA(s) below it (pathLenConstraint), but the path has 1',
    });
    const shallow = issueCertificate({ ca: zero, commonName: 'shallow', participant: PARTICIPANT, usage: 'hub' });
    expect(store().validate(cert(shallow), [cert(zero)], new Date(), 'signing').ok).toBe(true);
    const one = createDevCa({ commonName: 'PathLen 1 CA', issuer: root, pathLength: 1 });
    const subOfOne = createDevCa({ commonName: 'Sub of 1', issuer: one });
    const deepOfOne = issueCertificate({ ca: subOfOne, commonName: 'deep-1', participant: PARTICIPANT, usage: 'hub' });
    expect(store().validate(cert(deepOfOne), [cert(subOfOne), cert(one)], new Date(), 'signing').ok).toBe(true);
  });

  it('accepts 8 certificates in a path and gives up beyond', () => {
    let ca = root;
    const presented: X509Certificate[] = [];
    const leafUnder = (issuer: PemPair) => cert(issueCertificate({ ca: issuer, commonName: 'far', participant: PARTICIPANT, usage: 'hub', keyType: 'ec' }));
    for (let level = 1; level <= 6; level++) {
      ca = createDevCa({ commonName: `Level ${level} CA`, issuer: ca, keyType: 'ec' });
      presented.unshift(cert(ca));
    }
    const eight = store().validate(leafUnder(ca), presented, new Date(), 'signing');
    expect(eight.ok && eight.chain).toHaveLength(8);
    ca = createDevCa({ commonName: 'Level 7 CA', issuer: ca, keyType: 'ec' });
    presented.unshift(cert(ca));
    expect(store().validate(leafUnder(ca), presented, new Date(), 'signing')).toMatchObject({ ok: false, code: 'path-too-long', reason: expect.stringMatching(/within 8 certificates/) });
    expect(store().validate(leafUnder(ca), presented.slice(0, 6), new Date(), 'signing')).toMatchObject({ ok: false, code: 'untrusted' });
  });
});

describe('dates', () => {
  it('reports an expired and a not-yet-valid leaf', () => {
    const expired = forgeCertificate({ cn: 'expired-leaf', issuer: root, ca: false, notBefore: days(-10), notAfter: days(-1) });
    expect(store().validate(cert(expired), [], new Date(), 'signing')).toEqual({ ok: false, code: 'expired', reason: expect.stringMatching(/^certificate "expired-leaf" has expired: it was valid until /) });
    const early = forgeCertificate({ cn: 'future-leaf', issuer: root, ca: false, notBefore: days(1), notAfter: days(30) });
    expect(store().validate(cert(early), [], new Date(), 'signing')).toEqual({ ok: false, code: 'not-yet-valid', reason: expect.stringMatching(/^certificate "future-leaf" is not yet valid/) });
    expect(store().validate(cert(early), [], days(2), 'signing').ok).toBe(true);
  });

  it('reports an expired and a not-yet-valid intermediate', () => {
    const old = forgeCertificate({ cn: 'Old Issuing CA', issuer: root, ca: true, notBefore: days(-30), notAfter: days(-1) });
    const underOld = forgeCertificate({ cn: 'under-old', issuer: old, ca: false });
    expect(store().validate(cert(underOld), [cert(old)], new Date(), 'signing')).toEqual({ ok: false, code: 'expired', reason: expect.stringMatching(/^intermediate "Old Issuing CA" has expired/) });
    const future = forgeCertificate({ cn: 'Future Issuing CA', issuer: root, ca: true, notBefore: days(5), notAfter: days(60) });
    const underFuture = forgeCertificate({ cn: 'under-future', issuer: future, ca: false });
    expect(store().validate(cert(underFuture), [cert(future)], new Date(), 'signing')).toEqual({ ok: false, code: 'not-yet-valid', reason: expect.stringMatching(/^intermediate "Future Issuing CA" is not yet valid/) });
  });

  it('reports an expired anchor', () => {
    const leafAfterRoot = forgeCertificate({ cn: 'outliving', issuer: root, ca: false, notBefore: days(3640), notAfter: days(3700) });
    expect(store().validate(cert(leafAfterRoot), [], days(3660), 'signing')).toMatchObject({ ok: false, code: 'expired', reason: expect.stringMatching(/^trust anchor "Lienthong Root CA" has expired/) });
  });
});

describe('CA flags and key usage', () => {
  it('rejects an intermediate without basicConstraints, even with keyCertSign (GHSA-2328-f5f3-gj25)', () => {
    const noBasicConstraints = forgeCertificate({ cn: 'No BC CA', issuer: root, ca: true, basicConstraints: false });
    expect(forge.pki.certificateFromPem(noBasicConstraints.certPem).getExtension('basicConstraints')).toBeNull();
    const child = forgeCertificate({ cn: 'child-of-no-bc', issuer: noBasicConstraints, ca: false });
    expect(store().validate(cert(child), [cert(noBasicConstraints)], new Date(), 'signing')).toEqual({ ok: false, code: 'not-a-ca', reason: expect.stringMatching(/^intermediate "No BC CA" is not a CA/) });
  });

  it('rejects an intermediate with cA false, and a leaf used as an issuer', () => {
    const notCa = forgeCertificate({ cn: 'Not a CA', issuer: root, ca: false, keyUsage: { keyCertSign: true, digitalSignature: true } });
    const child = forgeCertificate({ cn: 'child-of-not-ca', issuer: notCa, ca: false });
    expect(store().validate(cert(child), [cert(notCa)], new Date(), 'signing')).toMatchObject({ ok: false, code: 'not-a-ca' });
    const childOfLeaf = forgeCertificate({ cn: 'child-of-leaf', issuer: direct, ca: false });
    expect(store().validate(cert(childOfLeaf), [cert(direct)], new Date(), 'signing')).toMatchObject({ ok: false, code: 'not-a-ca', reason: expect.stringMatching(/"hub-direct" is not a CA/) });
  });

  it('rejects an intermediate whose keyUsage lacks keyCertSign', () => {
    const noCertSign = forgeCertificate({ cn: 'No CertSign CA', issuer: root, ca: true, keyUsage: { cRLSign: true, digitalSignature: true } });
    const child = forgeCertificate({ cn: 'child-of-no-certsign', issuer: noCertSign, ca: false });
    expect(store().validate(cert(child), [cert(noCertSign)], new Date(), 'signing')).toEqual({ ok: false, code: 'bad-key-usage', reason: expect.stringMatching(/"No CertSign CA" may not sign certificates/) });
  });

  it('rejects a leaf without digitalSignature for every purpose', () => {
    const encipherOnly = forgeCertificate({ cn: 'encipher-only', issuer: root, ca: false, keyUsage: { keyEncipherment: true } });
    for (const purpose of ['signing', 'tls-client', 'tls-server'] as const) {
      expect(store().validate(cert(encipherOnly), [], new Date(), purpose)).toEqual({ ok: false, code: 'bad-key-usage', reason: expect.stringMatching(/lacks digitalSignature/) });
    }
    const noKeyUsage = forgeCertificate({ cn: 'no-key-usage', issuer: root, ca: false, keyUsage: false });
    expect(store().validate(cert(noKeyUsage), [], new Date(), 'signing').ok).toBe(true); // absent keyUsage: any use
  });

  it('checks extKeyUsage: clientAuth for tls-client, serverAuth for tls-server', () => {
    const server = issueCertificate({ ca: root, commonName: 'server-only', participant: PARTICIPANT, usage: 'server' });
    expect(store().validate(cert(server), [], new Date(), 'tls-client')).toEqual({ ok: false, code: 'bad-extended-key-usage', reason: expect.stringMatching(/"server-only" may not be used for tls-client: its extKeyUsage lacks clientAuth/) });
    expect(store().validate(cert(server), [], new Date(), 'tls-server').ok).toBe(true);
    const client = issueCertificate({ ca: root, commonName: 'client-only', participant: PARTICIPANT, usage: 'client' });
    expect(store().validate(cert(client), [], new Date(), 'tls-server')).toMatchObject({ ok: false, code: 'bad-extended-key-usage' });
    expect(store().validate(cert(client), [], new Date(), 'tls-client').ok).toBe(true);
    const emailOnly = forgeCertificate({ cn: 'email-only', issuer: root, ca: false, extKeyUsage: { emailProtection: true } });
    expect(store().validate(cert(emailOnly), [], new Date(), 'tls-server')).toMatchObject({ ok: false, code: 'bad-extended-key-usage' });
  });

  it('signs only with a hub certificate: serverAuth and clientAuth, as `keys issue --usage hub` makes it', () => {
    // A TLS-only certificate naming the hub's participant (a web server's, a one-stop system's) may not sign for it.
    const server = issueCertificate({ ca: root, commonName: 'server-only', participant: PARTICIPANT, usage: 'server' });
    expect(store().validate(cert(server), [], new Date(), 'signing')).toEqual({ ok: false, code: 'bad-extended-key-usage', reason: expect.stringMatching(/"server-only" may not sign hub-to-hub messages: its extKeyUsage lacks clientAuth/) });
    const client = issueCertificate({ ca: root, commonName: 'client-only', participant: PARTICIPANT, usage: 'client' });
    expect(store().validate(cert(client), [], new Date(), 'signing')).toEqual({ ok: false, code: 'bad-extended-key-usage', reason: expect.stringMatching(/"client-only" may not sign hub-to-hub messages: its extKeyUsage lacks serverAuth/) });
    const emailOnly = forgeCertificate({ cn: 'email-only', issuer: root, ca: false, extKeyUsage: { emailProtection: true } });
    expect(store().validate(cert(emailOnly), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'bad-extended-key-usage', reason: expect.stringContaining('lacks serverAuth and clientAuth') });
    // The hub profile signs; so do certificates without extKeyUsage, or with anyExtendedKeyUsage.
    expect(store().validate(cert(direct), [], new Date(), 'signing').ok).toBe(true);
    expect(store().validate(cert(forgeCertificate({ cn: 'no-eku', issuer: root, ca: false })), [], new Date(), 'signing').ok).toBe(true);
    const both = forgeCertificate({ cn: 'both', issuer: root, ca: false, extKeyUsage: { serverAuth: true, clientAuth: true, emailProtection: true } });
    expect(store().validate(cert(both), [], new Date(), 'signing').ok).toBe(true);
    const any = forgeCertificate({ cn: 'any-eku', issuer: root, ca: false, extraExtensions: [{ id: '2.5.29.37', critical: false, value: anyExtendedKeyUsageValue() }] });
    expect(cert(any).keyUsage).toEqual(['2.5.29.37.0']);
    expect(store().validate(cert(any), [], new Date(), 'signing').ok).toBe(true);
  });

  it('rejects a certificate with a critical extension it does not process', () => {
    const odd = forgeCertificate({
      cn: 'odd-critical',
      issuer: root,
      ca: false,
      extraExtensions: [{ id: '1.3.6.1.4.1.55555.1', critical: true, value: forge.asn1.toDer(forge.asn1.create(forge.asn1.Class.UNIVERSAL, forge.asn1.Type.NULL, false, '')).getBytes() }],
    });
    expect(store().validate(cert(odd), [], new Date(), 'signing')).toEqual({ ok: false, code: 'unsupported-critical-extension', reason: expect.stringMatching(/critical extension 1\.3\.6\.1\.4\.1\.55555\.1/) });
  });

  it('rejects a tampered leaf', () => {
    const bytes = Buffer.from(cert(direct).raw);
    const at = bytes.indexOf('hub-direct');
    bytes.write('hub-dirECT', at);
    expect(store().validate(new X509Certificate(bytes), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'bad-signature' });
  });
});

describe('revocation', () => {
  it('reports a revoked leaf with its reason', () => {
    const s = store({ crls: [crlOf(issuing, [revokedEntry(leaf, 'keyCompromise')])] });
    expect(s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing')).toEqual({
      ok: false,
      code: 'revoked',
      reason: expect.stringMatching(new RegExp(`^certificate "hub-h56" \\(serial ${serialOf(leaf)}\\) was revoked by "Lienthong Issuing CA" on .*\\(keyCompromise\\)$`)),
    });
    // another certificate of the same CA is fine, and its revocation was checked
    const sibling = issueCertificate({ ca: issuing, commonName: 'sibling', participant: PARTICIPANT, usage: 'hub' });
    const result = s.validate(cert(sibling), [cert(issuing)], new Date(), 'signing');
    expect(result.ok && subjects(result.revocationUnchecked)).toEqual(['Lienthong Issuing CA']);
  });

  it('reports a revoked intermediate', () => {
    const s = store({ crls: [crlOf(root, [revokedEntry(issuing, 'cACompromise')]), crlOf(issuing, [])] });
    expect(s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing')).toMatchObject({ ok: false, code: 'revoked', reason: expect.stringMatching(/"Lienthong Issuing CA" .* was revoked by "Lienthong Root CA" .*\(cACompromise\)/) });
  });

  it('accepts a chain whose CRLs are current and list nothing of it', () => {
    const s = store({ crls: [crlOf(root, [revokedEntry(direct)]), crlOf(issuing, [])] });
    const result = s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing');
    expect(result.ok && result.revocationUnchecked).toEqual([]);
  });

  it('fails closed on a CRL with the issuer’s name signed by another key', () => {
    const impostor = createDevCa({ commonName: 'Lienthong Issuing CA', organization: 'Lienthong' });
    const s = store({ crls: [crlOf(impostor, [])] });
    expect(s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing')).toEqual({
      ok: false,
      code: 'crl-invalid',
      reason: expect.stringMatching(/^no usable CRL for "Lienthong Issuing CA": .*does not verify with the public key/),
    });
  });

  it('fails closed on a stale CRL, and uses the newest when several are configured', () => {
    const stale = crlOf(issuing, [], { thisUpdate: days(-10), nextUpdate: days(-1), crlNumber: 1 });
    expect(store({ crls: [stale] }).validate(cert(leaf), [cert(issuing)], new Date(), 'signing')).toMatchObject({ ok: false, code: 'crl-stale', reason: expect.stringMatching(/is stale: its nextUpdate was/) });
    const fresh = crlOf(issuing, [], { crlNumber: 2 });
    expect(store({ crls: [stale, fresh] }).validate(cert(leaf), [cert(issuing)], new Date(), 'signing').ok).toBe(true);
    // the newest decides: a fresh revocation wins over an older CRL without it
    const revokedLater = crlOf(issuing, [revokedEntry(leaf)], { crlNumber: 3 });
    expect(store({ crls: [fresh, revokedLater] }).validate(cert(leaf), [cert(issuing)], new Date(), 'signing')).toMatchObject({ ok: false, code: 'revoked' });
  });

  it('ignores a CRL of another issuer that lists the same serial number', () => {
    const otherCa = createDevCa({ commonName: 'Other CA', keyType: 'ec' });
    const s = store({ crls: [crlOf(otherCa, [revokedEntry(leaf, 'keyCompromise')])] });
    const result = s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing');
    expect(result.ok && subjects(result.revocationUnchecked)).toEqual(['hub-h56', 'Lienthong Issuing CA']);
  });

  it('matches serial numbers with a leading zero digit', () => {
    const zeroLed = forgeCertificate({ cn: 'zero-led', issuer: root, ca: false, serial: '0a1b2c3d' });
    expect(cert(zeroLed).serialNumber).toBe('0A1B2C3D');
    const s = store({ crls: [crlOf(root, [{ serialNumber: 'A1B2C3D', revokedAt: new Date() }])] });
    expect(s.validate(cert(zeroLed), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'revoked', reason: expect.stringContaining('(serial 0A1B2C3D)') });
  });

  it('still revokes a pinned certificate (an anchor itself) by the CRL of a CA it knows', () => {
    const pinnedStore = (crls: string[]) => store({ anchors: [direct.certPem, root.certPem], crls });
    expect(pinnedStore([crlOf(root, [revokedEntry(direct, 'keyCompromise')])]).validate(cert(direct), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'revoked', reason: expect.stringContaining('(keyCompromise)') });
    const good = pinnedStore([crlOf(root, [])]).validate(cert(direct), [], new Date(), 'tls-client');
    expect(good.ok && good.revocationUnchecked).toEqual([]);
    // Without a CRL of its CA, or without that CA in the store, it is trusted as given (its revocation unchecked, when it could be).
    const noCrl = pinnedStore([]).validate(cert(direct), [], new Date(), 'signing');
    expect(noCrl.ok && subjects(noCrl.revocationUnchecked)).toEqual(['hub-direct']);
    expect(store({ anchors: [direct.certPem], crls: [crlOf(root, [revokedEntry(direct)])] }).validate(cert(direct), [], new Date(), 'signing').ok).toBe(true);
  });

  it('lists a pinned certificate as revocation-unchecked when no CRL was consulted, also when its CA is unknown or expired', () => {
    // Its CA is not in the store: no CRL can be consulted, and the result must not read as "checked".
    const alone = store({ anchors: [direct.certPem], crls: [crlOf(root, [])] }).validate(cert(direct), [], new Date(), 'signing');
    expect(alone.ok && subjects(alone.revocationUnchecked)).toEqual(['hub-direct']);
    // Its CA is known but has expired (so it cannot vouch for the pinned certificate's revocation).
    const expiredCa = forgeCertificate({ cn: 'Expired Issuing CA', issuer: root, ca: true, notBefore: days(-30), notAfter: days(-1) });
    const pinnedLeaf = forgeCertificate({ cn: 'pinned-under-expired', issuer: expiredCa, ca: false, notBefore: days(-20), notAfter: days(300) });
    const withExpired = store({ anchors: [pinnedLeaf.certPem, expiredCa.certPem] }).validate(cert(pinnedLeaf), [], new Date(), 'signing');
    expect(withExpired.ok && subjects(withExpired.revocationUnchecked)).toEqual(['pinned-under-expired']);
  });

  it('does not check the anchor against CRLs', () => {
    const selfRevoked = crlOf(root, [revokedEntry(root)]);
    expect(store({ crls: [selfRevoked] }).validate(cert(direct), [], new Date(), 'signing').ok).toBe(true);
  });
});

describe('cache', () => {
  it('reuses a success for the same certificates and purpose without checking signatures again', () => {
    let clock = 1_000_000;
    const s = createTrustStore({ anchors: [root.certPem], cacheTtlMs: 60_000, now: () => clock });
    const verify = vi.spyOn(X509Certificate.prototype, 'verify');
    expect(s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing').ok).toBe(true);
    const firstRun = verify.mock.calls.length;
    expect(firstRun).toBeGreaterThanOrEqual(2);
    const again = s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing');
    expect(again.ok && subjects(again.chain)).toEqual(['hub-h56', 'Lienthong Issuing CA', 'Lienthong Root CA']);
    expect(verify.mock.calls.length).toBe(firstRun);
    clock += 60_001;
    expect(s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing').ok).toBe(true);
    expect(verify.mock.calls.length).toBe(2 * firstRun);
  });

  it('does not reuse a success for another purpose or outside the validity of the chain or its CRLs', () => {
    const server = issueCertificate({ ca: root, commonName: 'server-cached', participant: PARTICIPANT, usage: 'server' });
    const s = createTrustStore({ anchors: [root.certPem], crls: [crlOf(root, [], { nextUpdate: days(2) })] });
    expect(s.validate(cert(server), [], new Date(), 'tls-server').ok).toBe(true);
    expect(s.validate(cert(server), [], new Date(), 'tls-client')).toMatchObject({ ok: false, code: 'bad-extended-key-usage' });
    expect(s.validate(cert(server), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'bad-extended-key-usage' });
    expect(s.validate(cert(server), [], days(3), 'tls-server')).toMatchObject({ ok: false, code: 'crl-stale' });
    expect(s.validate(cert(server), [], days(400), 'tls-server')).toMatchObject({ ok: false, code: 'expired' });
  });

  it('does not cache failures', () => {
    const s = createTrustStore({ anchors: [root.certPem] });
    expect(s.validate(cert(leaf), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'untrusted' });
    expect(s.validate(cert(leaf), [cert(issuing)], new Date(), 'signing').ok).toBe(true);
  });
});

describe('pinned participant certificates', () => {
  it('finds pinned certificates by kid = base64url SHA-256 of the DER', () => {
    const s = store({ pinned: [leaf.certPem + direct.certPem, leaf.certPem] });
    const kid = Buffer.from(cert(leaf).fingerprint256.replace(/:/g, ''), 'hex').toString('base64url');
    expect(kidOf(cert(leaf))).toBe(kid);
    expect(kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.certificateByKid(kid)?.fingerprint256).toBe(cert(leaf).fingerprint256);
    expect(s.certificateByKid(kidOf(cert(root)))).toBeUndefined();
    expect(s.participantCertificates().map((entry) => [entry.kid, entry.participant])).toEqual([
      [kid, PARTICIPANT],
      [kidOf(cert(direct)), 'VN/GOV/000.00.14.H56/MOTCUA'],
    ]);
  });

  it('does not trust a pinned certificate by itself', () => {
    const s = store({ pinned: [leaf.certPem] });
    const pinned = s.certificateByKid(kidOf(cert(leaf)))!;
    expect(s.validate(pinned, [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'untrusted' });
  });
});

describe('configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lienthong-trust-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('needs at least one anchor, and readable certificates and CRLs', () => {
    expect(thrown(() => createTrustStore({ anchors: [] })).type).toBe('trust.bad-trust-store');
    expect(thrown(() => createTrustStore({ anchors: ['no pem here'] })).message).toMatch(/anchor #1 holds no PEM certificate/);
    expect(thrown(() => createTrustStore({ anchors: [root.certPem], crls: ['nope'] })).type).toBe('trust.bad-crl');
  });

  it('loads PEM bundles and PEM or DER CRLs from files', () => {
    writeFileSync(join(dir, 'bundle.pem'), root.certPem + issuing.certPem);
    writeFileSync(join(dir, 'issuing.crl'), createCrl({ ca: issuing, crlNumber: 1, revoked: [revokedEntry(leaf)] }).der);
    writeFileSync(join(dir, 'root.crl.pem'), crlOf(root, []));
    writeFileSync(join(dir, 'pinned.pem'), direct.certPem);
    const s = loadTrustStore({ anchors: [join(dir, 'bundle.pem')], crls: [join(dir, 'issuing.crl'), join(dir, 'root.crl.pem')], pinned: [join(dir, 'pinned.pem')] });
    expect(s.anchors).toHaveLength(2);
    expect(s.crls).toHaveLength(2);
    expect(s.validate(cert(leaf), [], new Date(), 'signing')).toMatchObject({ ok: false, code: 'revoked' });
    expect(s.certificateByKid(kidOf(cert(direct)))).toBeDefined();
  });

  it('names the file in its errors', () => {
    const missing = join(dir, 'missing.pem');
    const unreadable = thrown(() => loadTrustStore({ anchors: [missing] }));
    expect(unreadable.type).toBe('trust.unreadable-file');
    expect(unreadable.message).toContain(missing);
    writeFileSync(join(dir, 'empty.pem'), 'nothing here\n');
    const empty = thrown(() => loadTrustStore({ anchors: [join(dir, 'empty.pem')] }));
    expect(empty.type).toBe('trust.bad-trust-store');
    expect(empty.message).toMatch(new RegExp(`^${join(dir, 'empty.pem').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*holds no PEM certificate`));
    writeFileSync(join(dir, 'bad.crl'), 'garbage');
    const badCrl = thrown(() => loadTrustStore({ anchors: [join(dir, 'bundle.pem')], crls: [join(dir, 'bad.crl')] }));
    expect(badCrl.type).toBe('trust.bad-crl');
    expect(badCrl.message).toContain(join(dir, 'bad.crl'));
    writeFileSync(join(dir, 'broken.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    const broken = thrown(() => loadTrustStore({ anchors: [join(dir, 'bundle.pem')], intermediates: [join(dir, 'broken.pem')] }));
    expect(broken.type).toBe('trust.bad-certificate');
    expect(broken.message).toContain(join(dir, 'broken.pem'));
  });
});
