import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import type { PemPair } from '../../src/trust/pki.js';

/** A fast RSA key (node:crypto) as PKCS#8 PEM. */
export function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/**
 * A certificate built by hand with forge, for cases issueCertificate refuses to make (intermediate CAs, certificates
 * "issued" by a leaf). `ca` sets basicConstraints cA and keyCertSign.
 */
export function forgeCertificate(options: { cn: string; issuer: PemPair; ca: boolean; keyPem?: string; days?: number }): PemPair {
  const keyPem = options.keyPem ?? rsaKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const issuerCert = forge.pki.certificateFromPem(options.issuer.certPem);
  const issuerKey = forge.pki.privateKeyFromPem(options.issuer.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + (options.days ?? 30) * 86_400_000);
  cert.setSubject([{ name: 'countryName', value: 'VN' }, { name: 'commonName', value: options.cn }]);
  cert.setIssuer(issuerCert.subject.attributes);
  const ski = issuerCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
  cert.setExtensions([
    { name: 'basicConstraints', cA: options.ca, critical: true },
    options.ca ? { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true } : { name: 'keyUsage', digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(ski.subjectKeyIdentifier) },
  ]);
  cert.sign(issuerKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A PKCS#12 file made with forge. */
export function pkcs12Of(pair: PemPair, chain: string[], password: string): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(
    forge.pki.privateKeyFromPem(pair.keyPem),
    [pair.certPem, ...chain].map((pem) => forge.pki.certificateFromPem(pem)),
    password,
    { algorithm: 'aes256', friendlyName: 'test' },
  );
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}
