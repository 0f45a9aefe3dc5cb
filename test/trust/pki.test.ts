import { execFileSync } from 'node:child_process';
import { KeyObject, X509Certificate, createPrivateKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import {
  createCsr,
  createDevCa,
  describeCertificate,
  importPkcs12,
  issueCertificate,
  keyUsageOf,
  loadCertificate,
  loadPrivateKey,
  verifyChain,
  type PemPair,
} from '../../src/trust/pki.js';
import { forgeCertificate, pkcs12Of } from './helpers.js';

const PARTICIPANT = 'VN/GOV/000.00.00.H56/LIENTHONG';
const DAY = 86_400_000;

let ca: PemPair;
let leaf: PemPair;

beforeAll(() => {
  ca = createDevCa({ commonName: 'Lienthong Dev CA', organization: 'Lienthong' });
  leaf = issueCertificate({ ca, commonName: 'hub-h56', participant: PARTICIPANT, usage: 'hub', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
});

function thrown(action: () => unknown): HubError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  throw new Error('expected a HubError');
}

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

  it('refuses ECDSA with a clear error', () => {
    const error = thrown(() => createDevCa({ commonName: 'EC CA', keyType: 'ec' }));
    expect(error.type).toBe('trust.unsupported-key-type');
    expect(error.message).toMatch(/ECDSA.*not supported yet/);
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

describe('verifyChain', () => {
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
    expect(verifyChain(leaf.certPem, [], [ca.certPem])).toEqual({ ok: true });
    expect(verifyChain(leaf.certPem, [], [otherCa.certPem, ca.certPem])).toEqual({ ok: true });
  });

  it('follows intermediates', () => {
    expect(verifyChain(viaIntermediate.certPem, [intermediate.certPem], [ca.certPem])).toEqual({ ok: true });
    const missing = verifyChain(viaIntermediate.certPem, [], [ca.certPem]);
    expect(missing.ok).toBe(false);
    if (!missing.ok) expect(missing.reason).toMatch(/untrusted issuer.*Lienthong Issuing CA/);
  });

  it('reports expired and not yet valid certificates', () => {
    const d = describeCertificate(leaf.certPem);
    const expired = verifyChain(leaf.certPem, [], [ca.certPem], new Date(d.validTo.getTime() + DAY));
    expect(expired).toEqual({ ok: false, reason: expect.stringMatching(/"hub-h56" has expired/) });
    const early = verifyChain(leaf.certPem, [], [ca.certPem], new Date(d.validFrom.getTime() - DAY));
    expect(early).toEqual({ ok: false, reason: expect.stringMatching(/"hub-h56" is not yet valid/) });
  });

  it('reports an expired issuer, and never issues past the issuer', () => {
    expect(describeCertificate(viaIntermediate.certPem).validTo.getTime()).toBeLessThanOrEqual(describeCertificate(intermediate.certPem).validTo.getTime());
    const outliving = forgeCertificate({ cn: 'outliving', issuer: intermediate, ca: false, keyPem: leaf.keyPem, days: 90 });
    const after = new Date(describeCertificate(intermediate.certPem).validTo.getTime() + DAY);
    expect(verifyChain(outliving.certPem, [intermediate.certPem], [ca.certPem])).toEqual({ ok: true });
    expect(verifyChain(outliving.certPem, [intermediate.certPem], [ca.certPem], after)).toEqual({
      ok: false,
      reason: expect.stringMatching(/intermediate "Lienthong Issuing CA" has expired/),
    });
  });

  it('rejects a wrong anchor', () => {
    const result = verifyChain(leaf.certPem, [], [otherCa.certPem]);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^untrusted issuer/) });
    expect(verifyChain(leaf.certPem, [], [])).toEqual({ ok: false, reason: expect.stringMatching(/untrusted issuer/) });
  });

  it('rejects a leaf used as an issuer', () => {
    const result = verifyChain(childOfLeaf.certPem, [leaf.certPem], [ca.certPem]);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/"hub-h56" is not a CA/) });
  });

  it('rejects a tampered certificate', () => {
    const der = Buffer.from(loadCertificate(leaf.certPem).raw);
    const at = der.indexOf('hub-h56');
    expect(at).toBeGreaterThan(0);
    der.write('hub-h57', at);
    const tampered = new X509Certificate(der).toString();
    const result = verifyChain(tampered, [], [ca.certPem]);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^signature mismatch/) });
  });

  it('rejects an impostor CA with the same name', () => {
    const impostor = createDevCa({ commonName: 'Lienthong Dev CA', organization: 'Lienthong' });
    const result = verifyChain(leaf.certPem, [], [impostor.certPem]);
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^signature mismatch/) });
  });

  it('reports unreadable input as a reason', () => {
    expect(verifyChain('not a certificate', [], [ca.certPem])).toEqual({ ok: false, reason: expect.stringMatching(/cannot read the certificate/) });
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

  const openssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  describe.skipIf(!openssl)('files made by OpenSSL', () => {
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
