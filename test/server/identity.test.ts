import { describe, expect, it } from 'vitest';
import forge from 'node-forge';
import { HubError } from '../../src/core/errors.js';
import { callerIdentity } from '../../src/server/identity.js';

/** A throwaway self-signed certificate: the identity comes from the stand-in trust below, not from it. */
function certificateDer(): Buffer {
  const keys = forge.pki.rsa.generateKeyPair(1024);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 3_600_000);
  cert.setSubject([{ name: 'commonName', value: 'mot-cua (kiểm thử)' }]);
  cert.setIssuer([{ name: 'commonName', value: 'mot-cua (kiểm thử)' }]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
}

describe('the caller named by a TLS client certificate', () => {
  it('is checked again on a kept-alive connection once a new CRL is in force', () => {
    const raw = certificateDer();
    let revision = 1;
    let revoked = false;
    let identified = 0;
    const trust = {
      revision: () => revision,
      identify: () => {
        identified++;
        if (revoked) throw new HubError('trust.certificate-invalid', 'revoked', { status: 401, detail: [{ reason: 'revoked', code: 'revoked' }] });
        return 'VN/GOV/000.00.00.H56/MOTCUA';
      },
    };
    const registry = { hub: { server: { tls: { clientCertificates: 'optional' } } } };
    const identify = callerIdentity(registry as never, trust as never);
    const socket = { getPeerCertificate: () => ({ raw, issuerCertificate: undefined }) };
    const request = { raw: { socket }, headers: {} } as never;

    expect(identify(request)?.participant).toBe('VN/GOV/000.00.00.H56/MOTCUA');
    expect(identify(request)?.participant).toBe('VN/GOV/000.00.00.H56/MOTCUA');
    expect(identified).toBe(1); // once per connection while nothing changed

    revoked = true;
    revision = 2; // the trust took a CRL that revokes the certificate
    expect(() => identify(request)).toThrow(/revoked/);
    expect(identified).toBe(2);
  });
});
