import { execFileSync } from 'node:child_process';
import { KeyObject, X509Certificate, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  asn1ToDer,
  basicConstraintsOf,
  childrenOf,
  createCsr,
  createDevCa,
  derToAsn1,
  describeCertificate,
  importPkcs12,
  issueCertificate,
  keyIdOf,
  keyUsageOf,
  loadCertificate,
  loadPrivateKey,
  nameText,
  participantOf,
  subjectKeyIdOf,
  type PemPair,
} from '../../src/trust/pki.js';
import { requireCommand } from '../support/services.js';
import { forgeCertificate, openssl, pkcs12Of, thrown, validateChain } from './helpers.js';

const hasOpenssl = requireCommand('openssl', ['version']);
const PARTICIPANT = 'VN/GOV/000.00.00.H56/LIENTHONG';
const DAY = 86_400_000;

let ca: PemPair;
let leaf: PemPair;

beforeAll(() => {
  ca = createDevCa({ commonName: 'Lienthong Dev CA', organization: 'Lienthong' });
  leaf = issueCertificate({ ca, commonName: 'hub-h56', participant: PARTICIPANT, usage: 'hub', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
});

/** The OID of a signed structure's outer signatureAlgorithm (certificate, CSR or CRL). */
function signatureOidOf(der: Buffer): string {
  const algorithm = childrenOf(derToAsn1(der))[1]!;
  return forge.asn1.derToOid(childrenOf(algorithm)[0]!.value as string);
}

const pemBody = (pem: string) => Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
const SHA256_RSA = '1.2.840.113549.1.1.11';
const ECDSA_SHA256 = '1.2.840.10045.4.3.2';

describe('createDevCa', () => {
  it('makes a self-signed RSA CA with the CA extensions', () => {
    const cert = loadCertificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    expect(keyUsageOf(cert)).toEqual(['keyCertSign', 'cRLSign']);
    const parsed = forge.pki.certificateFromPem(ca.certPem);
    expect(parsed.getExtension('basicConstraints')).toMatchObject({ cA: true, critical: true });
    expect(parsed.getExtension('keyUsage')).toMatchObject({ critical: true });
    expect(parsed.getExtension('subjectKeyIdentifier')).toBeTruthy();
    expect(parsed.siginfo.algorithmOid).toBe(forge.pki.oids.sha256WithRSAEncryption);
    const d = describeCertificate(ca.certPem);
    expect(d.subject).toBe('C=VN, O=Lienthong, CN=Lienthong Dev CA');
    expect(d.validTo.getTime() - d.validFrom.getTime()).toBeGreaterThan(3649 * DAY);
  });

  it('refuses an unknown key type with a clear error', () => {
    const error = thrown(() => createDevCa({ commonName: 'DSA CA', keyType: 'dsa' as never }));
    expect(error.type).toBe('trust.unsupported-key-type');
    expect(error.message).toMatch(/unsupported key type "dsa": use "rsa" .* or "ec" \(ECDSA P-256\)/);
  });

  it('writes a subject key identifier computed from the key (RFC 5280 method 1)', () => {
    const cert = loadCertificate(ca.certPem);
    expect(subjectKeyIdOf(cert)?.toString('hex')).toBe(keyIdOf(cert.publicKey).toString('hex'));
    const forgeSki = (forge.pki.certificateFromPem(ca.certPem).getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string }).subjectKeyIdentifier;
    expect(forgeSki).toBe(keyIdOf(cert.publicKey).toString('hex'));
  });
});

describe('ECDSA P-256', () => {
  let ecCa: PemPair;

  beforeAll(() => {
    ecCa = createDevCa({ commonName: 'Lienthong EC CA', organization: 'Lienthong', keyType: 'ec' });
  });

  it('makes a self-signed EC CA that Node parses and verifies', () => {
    const cert = loadCertificate(ecCa.certPem);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkIssued(cert)).toBe(true);
    expect(keyUsageOf(cert)).toEqual(['keyCertSign', 'cRLSign']);
    expect(signatureOidOf(cert.raw)).toBe(ECDSA_SHA256);
    expect(loadPrivateKey(ecCa.keyPem).asymmetricKeyType).toBe('ec');
    expect(cert.checkPrivateKey(loadPrivateKey(ecCa.keyPem))).toBe(true);
    const d = describeCertificate(ecCa.certPem);
    expect(d.subject).toBe('C=VN, O=Lienthong, CN=Lienthong EC CA');
    expect(d.keyAlgorithm).toBe('EC P-256');
    expect(describeCertificate(ca.certPem).keyAlgorithm).toBe('RSA-2048');
  });

  it('issues an EC leaf from the EC CA, with the participant and no keyEncipherment', () => {
    const ecLeaf = issueCertificate({ ca: ecCa, commonName: 'hub-ec', participant: PARTICIPANT, usage: 'hub', keyType: 'ec', dnsNames: ['localhost'] });
    const cert = loadCertificate(ecLeaf.certPem);
    const issuer = loadCertificate(ecCa.certPem);
    expect(cert.verify(issuer.publicKey)).toBe(true);
    expect(cert.verify(loadCertificate(ca.certPem).publicKey)).toBe(false);
    expect(cert.checkIssued(issuer)).toBe(true);
    expect(cert.checkPrivateKey(loadPrivateKey(ecLeaf.keyPem))).toBe(true);
    expect(signatureOidOf(cert.raw)).toBe(ECDSA_SHA256);
    const d = describeCertificate(ecLeaf.certPem);
    expect(d.participant).toBe(PARTICIPANT);
    expect(d.keyUsage).toEqual(['digitalSignature']);
    expect(d.extKeyUsage.sort()).toEqual(['clientAuth', 'serverAuth']);
    expect(d.isCa).toBe(false);
    expect(d.issuer).toBe('C=VN, O=Lienthong, CN=Lienthong EC CA');
    expect(validateChain(ecLeaf.certPem, [], [ecCa.certPem])).toMatchObject({ ok: true });
    // the issuer name is the CA's subject byte for byte
    expect(asn1ToDer(childrenOf(childrenOf(derToAsn1(cert.raw))[0])[3]!).equals(asn1ToDer(childrenOf(childrenOf(derToAsn1(issuer.raw))[0])[5]!))).toBe(true);
  });

  it('mixes key types: an RSA CA signs an EC leaf, an EC CA signs an RSA leaf', () => {
    const ecUnderRsa = issueCertificate({ ca, commonName: 'ec-under-rsa', participant: PARTICIPANT, usage: 'client', keyType: 'ec' });
    const cert = loadCertificate(ecUnderRsa.certPem);
    expect(cert.publicKey.asymmetricKeyType).toBe('ec');
    expect(signatureOidOf(cert.raw)).toBe(SHA256_RSA);
    expect(cert.verify(loadCertificate(ca.certPem).publicKey)).toBe(true);

    const rsaUnderEc = issueCertificate({ ca: ecCa, commonName: 'rsa-under-ec', participant: PARTICIPANT, usage: 'server' });
    const rsaCert = loadCertificate(rsaUnderEc.certPem);
    expect(rsaCert.publicKey.asymmetricKeyType).toBe('rsa');
    expect(signatureOidOf(rsaCert.raw)).toBe(ECDSA_SHA256);
    expect(rsaCert.verify(loadCertificate(ecCa.certPem).publicKey)).toBe(true);
    expect(describeCertificate(rsaUnderEc.certPem).keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
  });

  it('makes intermediate CAs of either key type, with a path length', () => {
    const ecIssuing = createDevCa({ commonName: 'EC Issuing CA', keyType: 'ec', issuer: ca, pathLength: 0, validDays: 30 });
    const cert = loadCertificate(ecIssuing.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.issuer).toBe(loadCertificate(ca.certPem).subject);
    expect(cert.verify(loadCertificate(ca.certPem).publicKey)).toBe(true);
    expect(cert.checkIssued(loadCertificate(ca.certPem))).toBe(true);
    expect(basicConstraintsOf(cert)).toEqual({ cA: true, pathLength: 0 });
    expect(basicConstraintsOf(loadCertificate(ca.certPem))).toEqual({ cA: true });
    expect(basicConstraintsOf(loadCertificate(leaf.certPem))).toEqual({ cA: false });
    const rsaLeaf = issueCertificate({ ca: ecIssuing, commonName: 'svc', participant: PARTICIPANT, usage: 'server', validDays: 365 });
    expect(validateChain(rsaLeaf.certPem, [ecIssuing.certPem], [ca.certPem])).toMatchObject({ ok: true });
    // never outlives the issuer
    expect(describeCertificate(rsaLeaf.certPem).validTo.getTime()).toBe(describeCertificate(ecIssuing.certPem).validTo.getTime());
    expect(thrown(() => createDevCa({ commonName: 'x', issuer: ca, pathLength: -1 })).type).toBe('trust.bad-request');
    expect(thrown(() => createDevCa({ commonName: 'x', issuer: leaf })).type).toBe('trust.not-a-ca');
  });

  it('refuses an EC CA key that does not belong to the CA certificate', () => {
    const other = createDevCa({ commonName: 'Other EC', keyType: 'ec' });
    expect(thrown(() => issueCertificate({ ca: { certPem: ecCa.certPem, keyPem: other.keyPem }, commonName: 'x', participant: PARTICIPANT, usage: 'hub' })).type).toBe('trust.bad-key');
  });

  it('makes an EC CSR whose signature verifies with the key it carries', () => {
    const { csrPem, keyPem } = createCsr({ commonName: 'hub-h56', participant: PARTICIPANT, organization: 'Văn phòng Chính phủ', keyType: 'ec' });
    expect(csrPem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n/);
    const der = pemBody(csrPem);
    expect(signatureOidOf(der)).toBe(ECDSA_SHA256);
    const [info, , signature] = childrenOf(derToAsn1(der));
    const [version, subject, spki, attributes] = childrenOf(info);
    expect(forge.asn1.derToInteger(version!.value as string)).toBe(0);
    expect(nameText(subject!)).toBe(`C=VN, O=Văn phòng Chính phủ, serialNumber=${PARTICIPANT}, CN=hub-h56`);
    const publicKey = createPublicKey({ key: asn1ToDer(spki!), format: 'der', type: 'spki' });
    expect(publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(publicKey.export({ format: 'jwk' })).toEqual(createPublicKey(createPrivateKey(keyPem)).export({ format: 'jwk' }));
    const signatureBytes = Buffer.from((signature!.value as string).slice(1), 'binary');
    expect(verify('sha256', asn1ToDer(info!), publicKey, signatureBytes)).toBe(true);
    expect(verify('sha256', Buffer.concat([asn1ToDer(info!), Buffer.from([0])]), publicKey, signatureBytes)).toBe(false);
    expect(asn1ToDer(attributes!).includes(Buffer.from(`urn:lienthong:participant:${PARTICIPANT}`))).toBe(true);
  });

  describe.runIf(hasOpenssl)('checked by OpenSSL', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'lienthong-ec-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('verifies an RSA root → EC intermediate → RSA leaf chain and an EC leaf under an EC root, strictly', () => {
      const ecIssuing = createDevCa({ commonName: 'EC Issuing CA', keyType: 'ec', issuer: ca, pathLength: 0 });
      const rsaLeaf = issueCertificate({ ca: ecIssuing, commonName: 'svc-rsa', participant: PARTICIPANT, usage: 'server', dnsNames: ['localhost'] });
      const ecLeaf = issueCertificate({ ca: ecCa, commonName: 'svc-ec', participant: PARTICIPANT, usage: 'client', keyType: 'ec' });
      const files = { root: ca.certPem, issuing: ecIssuing.certPem, rsaLeaf: rsaLeaf.certPem, ecRoot: ecCa.certPem, ecLeaf: ecLeaf.certPem };
      for (const [name, pem] of Object.entries(files)) writeFileSync(join(dir, `${name}.crt`), pem);
      const chain = openssl(['verify', '-x509_strict', '-purpose', 'sslserver', '-CAfile', join(dir, 'root.crt'), '-untrusted', join(dir, 'issuing.crt'), join(dir, 'rsaLeaf.crt')]);
      expect(chain.output).toContain('rsaLeaf.crt: OK');
      const ec = openssl(['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', join(dir, 'ecRoot.crt'), join(dir, 'ecLeaf.crt')]);
      expect(ec.output).toContain('ecLeaf.crt: OK');
      const wrong = openssl(['verify', '-CAfile', join(dir, 'ecRoot.crt'), join(dir, 'rsaLeaf.crt')]);
      expect(wrong.ok).toBe(false);
      const text = openssl(['x509', '-in', join(dir, 'issuing.crt'), '-noout', '-text']).output;
      expect(text).toContain('CA:TRUE, pathlen:0');
      expect(text).toContain('Signature Algorithm: sha256WithRSAEncryption');
      expect(text).toContain('NIST CURVE: P-256');
    });

    it('verifies the EC CSR self-signature', () => {
      const { csrPem } = createCsr({ commonName: 'hub-h56', participant: PARTICIPANT, keyType: 'ec' });
      writeFileSync(join(dir, 'ec.csr'), csrPem);
      const result = openssl(['req', '-in', join(dir, 'ec.csr'), '-noout', '-verify', '-text']);
      expect(result.ok).toBe(true);
      expect(result.output).toMatch(/verify OK/);
      expect(result.output).toContain(`URI:urn:lienthong:participant:${PARTICIPANT}`);
      expect(result.output).toContain('ecdsa-with-SHA256');
    });
  });
});

describe('issueCertificate and describeCertificate', () => {
  it('issues a leaf with the participant, usages and SANs', () => {
    const d = describeCertificate(leaf.certPem);
    expect(d.participant).toBe(PARTICIPANT);
    expect(d.subject).toContain(`serialNumber=${PARTICIPANT}`);
    expect(d.subject).toContain('CN=hub-h56');
    expect(d.issuer).toBe('C=VN, O=Lienthong, CN=Lienthong Dev CA');
    expect(d.isCa).toBe(false);
    expect(d.keyUsage).toEqual(['digitalSignature', 'keyEncipherment']);
    expect(d.extKeyUsage.sort()).toEqual(['clientAuth', 'serverAuth']);
    expect(d.subjectAltName).toContain('DNS:localhost');
    expect(d.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(d.fingerprint256).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(d.serialNumber).toMatch(/^[0-9A-F]{32}$/);
    const parsed = forge.pki.certificateFromPem(leaf.certPem);
    const caParsed = forge.pki.certificateFromPem(ca.certPem);
    expect(parsed.getExtension('basicConstraints')).toMatchObject({ cA: false });
    const aki = parsed.getExtension('authorityKeyIdentifier') as { value: string };
    const caSki = (caParsed.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string }).subjectKeyIdentifier;
    expect(forge.util.bytesToHex(aki.value)).toContain(caSki);
  });

  it('sets extKeyUsage per usage', () => {
    const client = issueCertificate({ ca, commonName: 'client-1', participant: 'VN/COM/0101234567/erp', usage: 'client' });
    expect(describeCertificate(client.certPem).extKeyUsage).toEqual(['clientAuth']);
    expect(describeCertificate(client.certPem).participant).toBe('VN/COM/0101234567/erp');
  });

  it('keeps Vietnamese names (UTF8String) and leaves a non-printable participant to the SAN', () => {
    const cert = issueCertificate({ ca, commonName: 'Cổng dịch vụ công', organization: 'Văn phòng Chính phủ', participant: 'VN/GOV/000.00.00.H56/mot_cua', usage: 'server' });
    const d = describeCertificate(cert.certPem);
    expect(d.subject).toBe('C=VN, O=Văn phòng Chính phủ, CN=Cổng dịch vụ công');
    expect(d.participant).toBe('VN/GOV/000.00.00.H56/mot_cua');
  });

  it('rejects a bad participant, a non-CA issuer and a key that does not match', () => {
    expect(thrown(() => issueCertificate({ ca, commonName: 'x', participant: 'VN/GOV/H56/X', usage: 'hub' })).type).toBe('trust.bad-identity');
    expect(thrown(() => issueCertificate({ ca: leaf, commonName: 'x', participant: PARTICIPANT, usage: 'hub' })).type).toBe('trust.not-a-ca');
    expect(thrown(() => issueCertificate({ ca: { certPem: ca.certPem, keyPem: leaf.keyPem }, commonName: 'x', participant: PARTICIPANT, usage: 'hub' })).type).toBe('trust.bad-key');
    expect(thrown(() => issueCertificate({ ca, commonName: 'x', participant: PARTICIPANT, usage: 'hub', dnsNames: ['bad name'] })).type).toBe('trust.bad-request');
  });
});

describe('participantOf', () => {
  const VICTIM = 'VN/GOV/000.00.00.H56/MOTCUA';
  const OWN = 'VN/GOV/000.00.00.G01/KHAC';
  const withNames = (altNames: Array<{ type: number; value: string }>) => new X509Certificate(forgeCertificate({ issuer: ca, cn: 'san-test', ca: false, extraExtensions: [{ name: 'subjectAltName', altNames }] }).certPem);

  it('reads the participant from a URI entry of the SAN only, never from text inside another entry', () => {
    expect(participantOf(withNames([{ type: 6, value: `urn:lienthong:participant:${OWN}` }]))).toBe(OWN);
    // An email address and a DNS name that read like the URI entry when Node prints the SAN as text.
    expect(participantOf(withNames([{ type: 1, value: `URI:urn:lienthong:participant:${VICTIM}` }, { type: 6, value: `urn:lienthong:participant:${OWN}` }]))).toBe(OWN);
    expect(participantOf(withNames([{ type: 2, value: `x, URI:urn:lienthong:participant:${VICTIM}` }]))).toBeUndefined();
  });

  it('names no participant when the certificate names two, or an invalid one', () => {
    expect(participantOf(withNames([{ type: 6, value: `urn:lienthong:participant:${OWN}` }, { type: 6, value: `urn:lienthong:participant:${VICTIM}` }]))).toBeUndefined();
    expect(participantOf(withNames([{ type: 6, value: 'urn:lienthong:participant:VN/GOV/H56/X' }]))).toBeUndefined();
    expect(participantOf(withNames([{ type: 2, value: 'localhost' }]))).toBeUndefined();
  });
});

describe('chains, as the trust store checks certificates made here', () => {
  let otherCa: PemPair;
  let intermediate: PemPair;
  let viaIntermediate: PemPair;
  let childOfLeaf: PemPair;

  beforeAll(() => {
    otherCa = createDevCa({ commonName: 'Other CA' });
    intermediate = forgeCertificate({ cn: 'Lienthong Issuing CA', issuer: ca, ca: true });
    viaIntermediate = issueCertificate({ ca: intermediate, commonName: 'svc-1', participant: 'VN/GOV/000.00.14.H56/MOTCUA', usage: 'server' });
    childOfLeaf = forgeCertificate({ cn: 'child', issuer: leaf, ca: false });
  });

  it('accepts a leaf issued by the anchor', () => {
    expect(validateChain(leaf.certPem, [], [ca.certPem])).toMatchObject({ ok: true });
    expect(validateChain(leaf.certPem, [], [otherCa.certPem, ca.certPem])).toMatchObject({ ok: true });
  });

  it('follows intermediates', () => {
    expect(validateChain(viaIntermediate.certPem, [intermediate.certPem], [ca.certPem])).toMatchObject({ ok: true });
    expect(validateChain(viaIntermediate.certPem, [], [ca.certPem])).toEqual({ ok: false, code: 'untrusted', reason: expect.stringMatching(/untrusted issuer.*Lienthong Issuing CA/) });
  });

  it('reports expired and not yet valid certificates', () => {
    const d = describeCertificate(leaf.certPem);
    const expired = validateChain(leaf.certPem, [], [ca.certPem], new Date(d.validTo.getTime() + DAY));
    expect(expired).toEqual({ ok: false, code: 'expired', reason: expect.stringMatching(/"hub-h56" has expired/) });
    const early = validateChain(leaf.certPem, [], [ca.certPem], new Date(d.validFrom.getTime() - DAY));
    expect(early).toEqual({ ok: false, code: 'not-yet-valid', reason: expect.stringMatching(/"hub-h56" is not yet valid/) });
  });

  it('reports an expired issuer, and never issues past the issuer', () => {
    expect(describeCertificate(viaIntermediate.certPem).validTo.getTime()).toBeLessThanOrEqual(describeCertificate(intermediate.certPem).validTo.getTime());
    const outliving = forgeCertificate({ cn: 'outliving', issuer: intermediate, ca: false, keyPem: leaf.keyPem, days: 90 });
    const after = new Date(describeCertificate(intermediate.certPem).validTo.getTime() + DAY);
    expect(validateChain(outliving.certPem, [intermediate.certPem], [ca.certPem])).toMatchObject({ ok: true });
    expect(validateChain(outliving.certPem, [intermediate.certPem], [ca.certPem], after)).toEqual({
      ok: false,
      code: 'expired',
      reason: expect.stringMatching(/intermediate "Lienthong Issuing CA" has expired/),
    });
  });

  it('rejects a wrong anchor, and a store with none', () => {
    expect(validateChain(leaf.certPem, [], [otherCa.certPem])).toEqual({ ok: false, code: 'untrusted', reason: expect.stringMatching(/^untrusted issuer/) });
    expect(thrown(() => validateChain(leaf.certPem, [], [])).type).toBe('trust.bad-trust-store');
  });

  it('rejects a leaf used as an issuer', () => {
    expect(validateChain(childOfLeaf.certPem, [leaf.certPem], [ca.certPem])).toEqual({ ok: false, code: 'not-a-ca', reason: expect.stringMatching(/"hub-h56" is not a CA/) });
  });

  it('rejects a tampered certificate', () => {
    const der = Buffer.from(loadCertificate(leaf.certPem).raw);
    const at = der.indexOf('hub-h56');
    expect(at).toBeGreaterThan(0);
    der.write('hub-h57', at);
    const tampered = new X509Certificate(der).toString();
    expect(validateChain(tampered, [], [ca.certPem])).toEqual({ ok: false, code: 'bad-signature', reason: expect.stringMatching(/does not verify with the public key of trust anchor/) });
  });

  it('rejects an impostor CA with the same name', () => {
    const impostor = createDevCa({ commonName: 'Lienthong Dev CA', organization: 'Lienthong' });
    expect(validateChain(leaf.certPem, [], [impostor.certPem])).toEqual({ ok: false, code: 'bad-signature', reason: expect.stringMatching(/does not verify/) });
  });

  it('refuses unreadable input with trust.bad-certificate', () => {
    const error = thrown(() => validateChain('not a certificate', [], [ca.certPem]));
    expect(error.type).toBe('trust.bad-certificate');
    expect(error.message).toMatch(/cannot read the certificate/);
  });
});

describe('keys as KeyObjects', () => {
  it('signs with the loaded key and verifies with the certificate key', () => {
    const key = loadPrivateKey(leaf.keyPem);
    expect(key).toBeInstanceOf(KeyObject);
    expect(key.type).toBe('private');
    const data = Buffer.from('{"hoSo":"000.00.14.H56-250304-0007"}');
    const signature = sign('sha256', data, key);
    const publicKey = loadCertificate(leaf.certPem).publicKey;
    expect(verify('sha256', data, publicKey, signature)).toBe(true);
    expect(verify('sha256', Buffer.from('tampered'), publicKey, signature)).toBe(false);
    expect(loadCertificate(leaf.certPem).checkPrivateKey(key)).toBe(true);
  });

  it('explains unreadable keys and certificates', () => {
    expect(thrown(() => loadPrivateKey('nope')).type).toBe('trust.bad-key');
    expect(thrown(() => loadCertificate('nope')).type).toBe('trust.bad-certificate');
  });
});

describe('createCsr', () => {
  it('makes a signed request with the participant', () => {
    const { csrPem, keyPem } = createCsr({ commonName: 'hub-h56', participant: PARTICIPANT, organization: 'Văn phòng Chính phủ', country: 'VN' });
    const csr = forge.pki.certificationRequestFromPem(csrPem);
    expect(csr.verify()).toBe(true);
    expect(csr.subject.getField('CN').value).toBe('hub-h56');
    expect(csr.subject.getField('C').value).toBe('VN');
    expect(csr.subject.getField({ name: 'serialNumber' }).value).toBe(PARTICIPANT);
    const request = csr.getAttribute({ name: 'extensionRequest' }) as unknown as { extensions: Array<{ name: string; altNames: Array<{ type: number; value: string }> }> };
    expect(request.extensions[0]!.altNames[0]).toMatchObject({ type: 6, value: `urn:lienthong:participant:${PARTICIPANT}` });
    expect(signatureOidOf(pemBody(csrPem))).toBe(SHA256_RSA);
    const publicPem = forge.pki.publicKeyToPem(csr.publicKey!);
    expect(createPrivateKey(keyPem).asymmetricKeyType).toBe('rsa');
    expect(forge.pki.publicKeyToPem(forge.pki.setRsaPublicKey(forge.pki.privateKeyFromPem(keyPem).n, forge.pki.privateKeyFromPem(keyPem).e))).toBe(publicPem);
  });

  it('rejects a bad participant', () => {
    expect(thrown(() => createCsr({ commonName: 'x', participant: 'VN/GOV/000.00.00.H56' })).type).toBe('trust.bad-identity');
  });
});

describe('importPkcs12', () => {
  it('round-trips key, certificate and chain', () => {
    const p12 = pkcs12Of(leaf, [ca.certPem], 'mật-khẩu');
    const imported = importPkcs12(p12, 'mật-khẩu');
    expect(loadCertificate(imported.certPem).fingerprint256).toBe(loadCertificate(leaf.certPem).fingerprint256);
    expect(imported.chainPems.map((pem) => loadCertificate(pem).fingerprint256)).toEqual([loadCertificate(ca.certPem).fingerprint256]);
    expect(imported.keyPem).toBe(createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem' }));
    expect(loadCertificate(imported.certPem).checkPrivateKey(loadPrivateKey(imported.keyPem))).toBe(true);
  });

  it('says so when the password is wrong or the file is not PKCS#12', () => {
    const p12 = pkcs12Of(leaf, [], 'right');
    const error = thrown(() => importPkcs12(p12, 'wrong'));
    expect(error.type).toBe('trust.wrong-password');
    expect(error.message).toMatch(/wrong password/);
    expect(thrown(() => importPkcs12(Buffer.from('not a p12'), 'x')).type).toBe('trust.bad-pkcs12');
  });

  describe.runIf(hasOpenssl)('files made by OpenSSL', () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'lienthong-p12-'));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('reads an OpenSSL default (PBES2/AES-256, SHA-256 MAC) RSA file', () => {
      writeFileSync(join(dir, 'leaf.crt'), leaf.certPem);
      writeFileSync(join(dir, 'leaf.key'), leaf.keyPem);
      writeFileSync(join(dir, 'ca.crt'), ca.certPem);
      execFileSync('openssl', ['pkcs12', '-export', '-in', join(dir, 'leaf.crt'), '-inkey', join(dir, 'leaf.key'), '-certfile', join(dir, 'ca.crt'), '-out', join(dir, 'leaf.p12'), '-passout', 'pass:secret'], { stdio: 'ignore' });
      const imported = importPkcs12(readFileSync(join(dir, 'leaf.p12')), 'secret');
      expect(loadCertificate(imported.certPem).fingerprint256).toBe(loadCertificate(leaf.certPem).fingerprint256);
      expect(imported.chainPems).toHaveLength(1);
      expect(thrown(() => importPkcs12(readFileSync(join(dir, 'leaf.p12')), 'nope')).type).toBe('trust.wrong-password');
    });

    it('reads an EC key and certificate through node:crypto', () => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=ec-peer', '-days', '30', '-keyout', join(dir, 'ec.key'), '-out', join(dir, 'ec.crt')], { stdio: 'ignore' });
      execFileSync('openssl', ['pkcs12', '-export', '-in', join(dir, 'ec.crt'), '-inkey', join(dir, 'ec.key'), '-out', join(dir, 'ec.p12'), '-passout', 'pass:secret'], { stdio: 'ignore' });
      const imported = importPkcs12(readFileSync(join(dir, 'ec.p12')), 'secret');
      expect(loadPrivateKey(imported.keyPem).asymmetricKeyType).toBe('ec');
      expect(describeCertificate(imported.certPem).subject).toBe('CN=ec-peer');
      expect(keyUsageOf(loadCertificate(imported.certPem))).toBeUndefined();
    });
  });
});
