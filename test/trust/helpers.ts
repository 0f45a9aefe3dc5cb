import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { loadCertificate, type PemPair } from '../../src/trust/pki.js';
import { createTrustStore, type TrustPurpose, type TrustResult } from '../../src/trust/trust-store.js';

/** A chain checked as the hub checks one: a trust store of `anchors` (no cache), with `intermediates` presented. */
export function validateChain(leafPem: string, intermediates: string[], anchors: string[], at = new Date(), purpose: TrustPurpose = 'tls-server'): TrustResult {
  return createTrustStore({ anchors, cacheTtlMs: 0 }).validate(loadCertificate(leafPem), intermediates.map((pem) => loadCertificate(pem)), at, purpose);
}

/** A fast RSA key (node:crypto) as PKCS#8 PEM. */
export function rsaKeyPem(): string {
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

export interface ForgeCertificateOptions {
  cn: string;
  /** An RSA CA (forge cannot sign with EC keys). */
  issuer: PemPair;
  /** basicConstraints cA; with the default key usages keyCertSign + cRLSign (CA) or digitalSignature (leaf). */
  ca: boolean;
  keyPem?: string;
  /** Validity from a minute ago; ignored when notBefore/notAfter are given. */
  days?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** false: leave basicConstraints out altogether (the GHSA-2328-f5f3-gj25 intermediate). */
  basicConstraints?: boolean;
  pathLength?: number;
  /** forge keyUsage flags replacing the defaults, or false for no keyUsage extension. */
  keyUsage?: Record<string, boolean> | false;
  /** forge extKeyUsage flags, e.g. `{ serverAuth: true }`. */
  extKeyUsage?: Record<string, boolean>;
  /** Extra extensions, e.g. a critical one the validator does not process. */
  extraExtensions?: Array<Record<string, unknown>>;
  /** Hex serial number. */
  serial?: string;
}

/**
 * A certificate built by hand with forge, for cases issueCertificate refuses to make (bad CAs, odd usages, past or
 * future validity, certificates "issued" by a leaf).
 */
export function forgeCertificate(options: ForgeCertificateOptions): PemPair {
  const keyPem = options.keyPem ?? rsaKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const issuerCert = forge.pki.certificateFromPem(options.issuer.certPem);
  const issuerKey = forge.pki.privateKeyFromPem(options.issuer.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = options.serial ?? `01${randomBytes(8).toString('hex')}`;
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  cert.validity.notAfter = options.notAfter ?? new Date(Date.now() + (options.days ?? 30) * 86_400_000);
  cert.setSubject([{ name: 'countryName', value: 'VN' }, { name: 'commonName', value: options.cn }]);
  cert.setIssuer(issuerCert.subject.attributes);
  const ski = issuerCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier: string };
  const extensions: Array<Record<string, unknown>> = [];
  if (options.basicConstraints !== false) {
    extensions.push(options.pathLength === undefined ? { name: 'basicConstraints', cA: options.ca, critical: true } : { name: 'basicConstraints', cA: options.ca, critical: true, pathLenConstraint: options.pathLength });
  }
  if (options.keyUsage !== false) {
    const usage = options.keyUsage ?? (options.ca ? { keyCertSign: true, cRLSign: true } : { digitalSignature: true });
    extensions.push({ name: 'keyUsage', critical: true, ...usage });
  }
  if (options.extKeyUsage) extensions.push({ name: 'extKeyUsage', ...options.extKeyUsage });
  extensions.push({ name: 'subjectKeyIdentifier' }, { name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(ski.subjectKeyIdentifier) });
  extensions.push(...(options.extraExtensions ?? []));
  cert.setExtensions(extensions);
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

export { thrown } from '../support/errors.js';

/** Runs openssl: whether it exited 0, and stdout and stderr together (openssl verify reports on either). */
export function openssl(args: string[]): { ok: boolean; output: string } {
  const run = spawnSync('openssl', args, { encoding: 'utf8' });
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}
