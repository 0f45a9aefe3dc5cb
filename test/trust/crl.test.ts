import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCrl, crlFreshness, crlSignatureProblem, crlToPem, parseCrl, revocationOf, type Crl } from '../../src/trust/crl.js';
import { asn1ToDer, childrenOf, createDevCa, der, derToAsn1, issueCertificate, keyIdOf, loadCertificate, type PemPair } from '../../src/trust/pki.js';
import { requireCommand } from '../support/services.js';
import { forgeCertificate, openssl, thrown } from './helpers.js';

const hasOpenssl = requireCommand('openssl', ['version']);

const PARTICIPANT = 'VN/GOV/000.00.00.H56/LIENTHONG';
const DAY = 86_400_000;

let ca: PemPair;
let ecCa: PemPair;
let leaf: PemPair;
let serial: string;

beforeAll(() => {
  ca = createDevCa({ commonName: 'Lienthong Dev CA', organization: 'Văn phòng Chính phủ' });
  ecCa = createDevCa({ commonName: 'Lienthong EC CA', keyType: 'ec' });
  leaf = issueCertificate({ ca, commonName: 'hub-h56', participant: PARTICIPANT, usage: 'hub' });
  serial = loadCertificate(leaf.certPem).serialNumber;
});

const seconds = (date: Date) => Math.floor(date.getTime() / 1000) * 1000;

describe('createCrl and parseCrl', () => {
  it('round-trips issuer, dates, number, authority key id and revoked entries with reasons', () => {
    const thisUpdate = new Date('2026-03-01T08:00:00.750Z');
    const nextUpdate = new Date('2026-03-08T08:00:00Z');
    const revokedAt = new Date('2026-02-28T23:59:59Z');
    const { der: bytes, pem } = createCrl({
      ca,
      crlNumber: 4242n,
      thisUpdate,
      nextUpdate,
      revoked: [
        { serialNumber: serial, revokedAt, reason: 'keyCompromise' },
        { serialNumber: '00ab', revokedAt, reason: 'unspecified' },
        { serialNumber: 'ff', revokedAt },
        { serialNumber: '000a12', revokedAt },
      ],
    });
    expect(pem).toMatch(/^-----BEGIN X509 CRL-----\n/);
    for (const input of [pem, bytes, Buffer.from(pem)]) {
      const crl = parseCrl(input);
      expect(crl.issuer).toBe('C=VN, O=Văn phòng Chính phủ, CN=Lienthong Dev CA');
      expect(crl.thisUpdate.getTime()).toBe(seconds(thisUpdate));
      expect(crl.nextUpdate?.toISOString()).toBe('2026-03-08T08:00:00.000Z');
      expect(crl.crlNumber).toBe(4242n);
      expect(crl.authorityKeyId).toBe(keyIdOf(loadCertificate(ca.certPem).publicKey).toString('hex'));
      expect(crl.signatureAlgorithm).toBe('1.2.840.113549.1.1.11');
      expect([...crl.revoked.values()]).toEqual([
        { serialNumber: serial, revokedAt, reason: 'keyCompromise' },
        { serialNumber: 'AB', revokedAt }, // "unspecified" is written as no reason code (RFC 5280 §5.3.1)
        { serialNumber: 'FF', revokedAt },
        { serialNumber: '0A12', revokedAt }, // whole bytes, as X509Certificate.serialNumber prints it
      ]);
      expect(revocationOf(crl, 'a12')).toBeDefined();
      expect(revocationOf(crl, serial.toLowerCase())?.reason).toBe('keyCompromise');
      expect(revocationOf(crl, '0000AB')).toBeDefined();
      expect(revocationOf(crl, 'AC')).toBeUndefined();
    }
  });

  it('leaves revokedCertificates out when nothing is revoked, and uses GeneralizedTime from 2050', () => {
    const { der: bytes } = createCrl({ ca, crlNumber: 1, revoked: [], thisUpdate: new Date('2049-12-31T00:00:00Z'), nextUpdate: new Date('2050-01-02T00:00:00Z') });
    const tbs = childrenOf(childrenOf(derToAsn1(bytes))[0]);
    // version, signature, issuer, thisUpdate, nextUpdate, [0] extensions
    expect(tbs).toHaveLength(6);
    expect(tbs[3]!.type).toBe(forge.asn1.Type.UTCTIME);
    expect(tbs[4]!.type).toBe(forge.asn1.Type.GENERALIZEDTIME);
    const crl = parseCrl(bytes);
    expect(crl.revoked.size).toBe(0);
    expect(crl.nextUpdate?.toISOString()).toBe('2050-01-02T00:00:00.000Z');
  });

  it('signs with ECDSA for an EC CA', () => {
    const crl = parseCrl(createCrl({ ca: ecCa, crlNumber: 7, revoked: [{ serialNumber: '01', revokedAt: new Date() }] }).der);
    expect(crl.signatureAlgorithm).toBe('1.2.840.10045.4.3.2');
    expect(crlSignatureProblem(crl, loadCertificate(ecCa.certPem))).toBeUndefined();
    expect(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime()).toBe(7 * DAY);
  });

  it('refuses what is not a CA, a CA that may not sign CRLs, a wrong key and bad dates', () => {
    expect(thrown(() => createCrl({ ca: leaf, crlNumber: 1, revoked: [] })).type).toBe('trust.bad-crl');
    const noCrlSign = forgeCertificate({ cn: 'No CRL Sign', issuer: ca, ca: true, keyUsage: { keyCertSign: true } });
    expect(thrown(() => createCrl({ ca: noCrlSign, crlNumber: 1, revoked: [] })).message).toMatch(/lacks cRLSign/);
    expect(thrown(() => createCrl({ ca: { certPem: ca.certPem, keyPem: ecCa.keyPem }, crlNumber: 1, revoked: [] })).type).toBe('trust.bad-key');
    const now = new Date();
    expect(thrown(() => createCrl({ ca, crlNumber: 1, revoked: [], thisUpdate: now, nextUpdate: now })).message).toMatch(/nextUpdate must be after thisUpdate/);
    expect(thrown(() => createCrl({ ca, crlNumber: -1, revoked: [] })).message).toMatch(/crlNumber/);
    expect(thrown(() => createCrl({ ca, crlNumber: 1, revoked: [{ serialNumber: 'xyz', revokedAt: now }] })).message).toMatch(/not a serial number/);
    expect(thrown(() => createCrl({ ca, crlNumber: 1, revoked: [{ serialNumber: '01', revokedAt: now, reason: 'bored' as never }] })).message).toMatch(/unknown revocation reason/);
  });

  it('refuses what is not a CRL', () => {
    expect(thrown(() => parseCrl('hello')).type).toBe('trust.bad-crl');
    expect(thrown(() => parseCrl(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))).type).toBe('trust.bad-crl');
    expect(thrown(() => parseCrl(loadCertificate(ca.certPem).raw)).type).toBe('trust.bad-crl');
    expect(thrown(() => parseCrl(ca.certPem)).message).toMatch(/BEGIN X509 CRL/);
  });

  it('refuses a CRL with a critical extension it does not process (a delta CRL)', () => {
    const { der: bytes } = createCrl({ ca, crlNumber: 2, revoked: [] });
    const root = derToAsn1(bytes);
    const tbs = childrenOf(root)[0]!;
    const extensions = childrenOf(childrenOf(childrenOf(tbs).at(-1))[0]);
    const deltaCrlIndicator = der.sequence([der.oid('2.5.29.27'), der.boolean(true), der.octets(asn1ToDer(der.integer(1)))]);
    extensions.push(deltaCrlIndicator);
    const error = thrown(() => parseCrl(asn1ToDer(root)));
    expect(error.type).toBe('trust.bad-crl');
    expect(error.message).toMatch(/critical extension 2\.5\.29\.27 is not supported/);
  });
});

describe('checking a CRL: crlSignatureProblem and crlFreshness', () => {
  let crl: Crl;
  let caCert: ReturnType<typeof loadCertificate>;

  beforeAll(() => {
    crl = parseCrl(createCrl({ ca, crlNumber: 3, revoked: [{ serialNumber: serial, revokedAt: new Date() }], nextUpdate: new Date(Date.now() + DAY) }).pem);
    caCert = loadCertificate(ca.certPem);
  });

  it('accepts the CA’s own current CRL', () => {
    expect(crlSignatureProblem(crl, caCert)).toBeUndefined();
    expect(crlFreshness(crl, new Date())).toEqual({ ok: true });
  });

  it('calls a CRL past its nextUpdate stale', () => {
    const result = crlFreshness(crl, new Date(Date.now() + 2 * DAY));
    expect(result).toEqual({ ok: false, code: 'crl-stale', reason: expect.stringMatching(/is stale: its nextUpdate was/) });
  });

  it('rejects a CRL signed by another key under the same name', () => {
    const impostor = createDevCa({ commonName: 'Lienthong Dev CA', organization: 'Văn phòng Chính phủ' });
    const forged = parseCrl(createCrl({ ca: impostor, crlNumber: 99, revoked: [] }).der);
    expect(forged.issuer).toBe(crl.issuer);
    expect(crlSignatureProblem(forged, caCert)).toMatch(/does not verify with the public key of "Lienthong Dev CA"/);
  });

  it('rejects a CRL of another issuer and a tampered CRL', () => {
    const other = parseCrl(createCrl({ ca: ecCa, crlNumber: 1, revoked: [] }).der);
    expect(crlSignatureProblem(other, caCert)).toMatch(/issued by "C=VN, CN=Lienthong EC CA", not by "Lienthong Dev CA"/);
    const bytes = Buffer.from(crl.der);
    const at = bytes.indexOf(Buffer.from(serial, 'hex'));
    expect(at).toBeGreaterThan(0);
    bytes[at + 3]! ^= 0x01;
    const tampered = parseCrl(bytes);
    expect(revocationOf(tampered, serial)).toBeUndefined();
    expect(crlSignatureProblem(tampered, caCert)).toMatch(/does not verify/);
  });

  it('rejects a CRL whose issuer may not sign CRLs', () => {
    // the same name and key as a CA that signed a CRL, but a keyUsage without cRLSign: only the key usage is wrong
    const plain = createDevCa({ commonName: 'Lienthong Plain CA' });
    const plainCrl = parseCrl(createCrl({ ca: plain, crlNumber: 1, revoked: [] }).der);
    const noCrlSign = forgeCertificate({ cn: 'Lienthong Plain CA', issuer: ca, ca: true, keyUsage: { keyCertSign: true }, keyPem: plain.keyPem });
    expect(crlSignatureProblem(plainCrl, loadCertificate(plain.certPem))).toBeUndefined();
    expect(crlSignatureProblem(plainCrl, loadCertificate(noCrlSign.certPem))).toMatch(/may not sign CRLs \(its keyUsage lacks cRLSign\)/);
  });

  it('writes PEM that reads back', () => {
    expect(parseCrl(crlToPem(crl.der)).der.equals(crl.der)).toBe(true);
  });
});

describe.runIf(hasOpenssl)('CRLs and OpenSSL', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lienthong-crl-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('OpenSSL verifies our CRLs (RSA and EC) and finds the revoked certificate', () => {
    for (const [name, issuer] of [['rsa', ca], ['ec', ecCa]] as const) {
      const issued = issueCertificate({ ca: issuer, commonName: `leaf-${name}`, participant: PARTICIPANT, usage: 'client' });
      const issuedSerial = loadCertificate(issued.certPem).serialNumber;
      writeFileSync(join(dir, `${name}-ca.crt`), issuer.certPem);
      writeFileSync(join(dir, `${name}-leaf.crt`), issued.certPem);
      writeFileSync(join(dir, `${name}.crl`), createCrl({ ca: issuer, crlNumber: 12, revoked: [{ serialNumber: issuedSerial, revokedAt: new Date(), reason: 'cessationOfOperation' }] }).pem);
      const text = openssl(['crl', '-in', join(dir, `${name}.crl`), '-CAfile', join(dir, `${name}-ca.crt`), '-noout', '-text']);
      expect(text.output).toMatch(/verify OK/);
      expect(text.output).toContain(`Serial Number: ${issuedSerial}`);
      expect(text.output).toContain('Cessation Of Operation');
      expect(text.output).toMatch(/X509v3 CRL Number: \n\s+12/);
      const check = openssl(['verify', '-crl_check', '-CAfile', join(dir, `${name}-ca.crt`), '-CRLfile', join(dir, `${name}.crl`), join(dir, `${name}-leaf.crt`)]);
      expect(check.ok).toBe(false);
      expect(check.output).toContain('certificate revoked');
    }
  });

  it('reads a CRL made by `openssl ca -gencrl`', () => {
    writeFileSync(join(dir, 'ca.crt'), ca.certPem);
    writeFileSync(join(dir, 'ca.key'), ca.keyPem);
    writeFileSync(join(dir, 'leaf.crt'), leaf.certPem);
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'crlnumber'), '1000\n');
    writeFileSync(
      join(dir, 'ca.cnf'),
      [
        '[ ca ]',
        'default_ca = dev',
        '[ dev ]',
        `database = ${join(dir, 'index.txt')}`,
        `crlnumber = ${join(dir, 'crlnumber')}`,
        `new_certs_dir = ${dir}`,
        `certificate = ${join(dir, 'ca.crt')}`,
        `private_key = ${join(dir, 'ca.key')}`,
        'default_md = sha256',
        'default_crl_days = 7',
        'crl_extensions = crl_ext',
        '[ crl_ext ]',
        'authorityKeyIdentifier = keyid:always',
        '',
      ].join('\n'),
    );
    const revoke = openssl(['ca', '-config', join(dir, 'ca.cnf'), '-revoke', join(dir, 'leaf.crt'), '-crl_reason', 'superseded']);
    expect(revoke.ok).toBe(true);
    expect(revoke.output).toMatch(/Revoking Certificate/);
    const gencrl = openssl(['ca', '-config', join(dir, 'ca.cnf'), '-gencrl', '-out', join(dir, 'openssl.crl')]);
    expect(gencrl.ok).toBe(true);
    const crl = parseCrl(openssl(['crl', '-in', join(dir, 'openssl.crl')]).output);
    expect(crl.crlNumber).toBe(0x1000n);
    expect(crl.authorityKeyId).toBe(keyIdOf(loadCertificate(ca.certPem).publicKey).toString('hex'));
    expect(revocationOf(crl, serial)).toMatchObject({ serialNumber: serial, reason: 'superseded' });
    expect(crlSignatureProblem(crl, loadCertificate(ca.certPem))).toBeUndefined();
    expect(crlFreshness(crl, new Date())).toEqual({ ok: true });
    expect(crlFreshness(crl, new Date(Date.now() + 8 * DAY))).toMatchObject({ ok: false, code: 'crl-stale' });
  });
});
