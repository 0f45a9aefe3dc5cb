import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { keysCa, keysCrl, keysCsr, keysImportP12, keysIssue, keysRevoke, keysShow, keysVerify, registerKeysCommand } from '../../src/cli/keys.js';
import { parseCrl, revocationOf } from '../../src/trust/crl.js';
import { describeCertificate, loadCertificate } from '../../src/trust/pki.js';
import { forgeCertificate, pkcs12Of, validateChain } from './helpers.js';

const PARTICIPANT = 'VN/GOV/000.00.00.H56/LIENTHONG';
let dir: string;
let out: string[];
let err: string[];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lienthong-keys-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function capture(): void {
  out = [];
  err = [];
  vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void out.push(args.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void err.push(args.join(' ')));
}
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  delete process.env.TEST_P12_PASSWORD;
});

const mode = (path: string) => statSync(path).mode & 0o777;

describe('lienthong keys (handlers)', () => {
  it('creates a CA, refuses to overwrite it, and overwrites with --force', () => {
    capture();
    const keysDir = join(dir, 'keys');
    expect(keysCa({ out: keysDir, cn: 'Lienthong Dev CA' })).toBe(0);
    expect(mode(join(keysDir, 'ca.key'))).toBe(0o600);
    expect(describeCertificate(readFileSync(join(keysDir, 'ca.crt'), 'utf8')).isCa).toBe(true);
    const first = readFileSync(join(keysDir, 'ca.crt'), 'utf8');
    expect(keysCa({ out: keysDir, cn: 'Lienthong Dev CA' })).toBe(2);
    expect(err.at(-1)).toMatch(/refusing to overwrite .*ca\.crt.*\(use --force\)/);
    expect(readFileSync(join(keysDir, 'ca.crt'), 'utf8')).toBe(first);
    writeFileSync(join(keysDir, 'ca.key'), readFileSync(join(keysDir, 'ca.key')), { mode: 0o644 }); // loosen, --force must tighten
    expect(keysCa({ out: keysDir, cn: 'Lienthong Dev CA', force: true })).toBe(0);
    expect(readFileSync(join(keysDir, 'ca.crt'), 'utf8')).not.toBe(first);
    expect(mode(join(keysDir, 'ca.key'))).toBe(0o600);
    expect(keysCa({ out: join(dir, 'dsa'), cn: 'DSA', keyType: 'dsa' })).toBe(2);
    expect(err.at(-1)).toMatch(/--key-type must be rsa \(RSA-2048\) or ec \(ECDSA P-256\); got "dsa"/);
    expect(existsSync(join(dir, 'dsa'))).toBe(false);
  });

  it('makes an ECDSA P-256 CA, EC and RSA certificates under it, and an EC CSR', () => {
    capture();
    const ecDir = join(dir, 'ec');
    expect(keysCa({ out: ecDir, cn: 'Lienthong EC CA', keyType: 'ec' })).toBe(0);
    expect(mode(join(ecDir, 'ca.key'))).toBe(0o600);
    expect(describeCertificate(readFileSync(join(ecDir, 'ca.crt'), 'utf8')).keyAlgorithm).toBe('EC P-256');
    expect(keysIssue({ out: ecDir, participant: PARTICIPANT, cn: 'hub-ec', keyType: 'ec', name: 'hub-ec' })).toBe(0);
    expect(keysIssue({ out: ecDir, participant: PARTICIPANT, cn: 'hub-rsa', name: 'hub-rsa' })).toBe(0);
    expect(describeCertificate(readFileSync(join(ecDir, 'hub-ec.crt'), 'utf8')).keyAlgorithm).toBe('EC P-256');
    expect(describeCertificate(readFileSync(join(ecDir, 'hub-rsa.crt'), 'utf8')).keyAlgorithm).toBe('RSA-2048');
    expect(mode(join(ecDir, 'hub-ec.key'))).toBe(0o600);
    for (const name of ['hub-ec', 'hub-rsa']) {
      expect(keysVerify(join(ecDir, `${name}.crt`), { ca: [join(ecDir, 'ca.crt')], purpose: 'tls-server' })).toBe(0);
    }
    expect(keysShow(join(ecDir, 'hub-ec.crt'))).toBe(0);
    expect(out).toContain('key:          EC P-256');
    expect(keysCsr({ out: ecDir, participant: PARTICIPANT, cn: 'hub-ec', keyType: 'ec', name: 'hub-ec-req' })).toBe(0);
    expect(readFileSync(join(ecDir, 'hub-ec-req.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(keysIssue({ out: ecDir, participant: PARTICIPANT, cn: 'x', keyType: 'dsa' })).toBe(2);
    expect(keysCsr({ out: ecDir, participant: PARTICIPANT, cn: 'x', keyType: 'rsa-4096' })).toBe(2);
  });

  it('issues, shows and verifies a certificate', () => {
    capture();
    const keysDir = join(dir, 'keys');
    expect(keysIssue({ out: keysDir, caDir: keysDir, participant: PARTICIPANT, cn: 'hub-h56', usage: 'hub', dns: ['localhost'], ip: ['127.0.0.1'], name: 'hub' })).toBe(0);
    expect(mode(join(keysDir, 'hub.key'))).toBe(0o600);
    const certPem = readFileSync(join(keysDir, 'hub.crt'), 'utf8');
    expect(validateChain(certPem, [], [readFileSync(join(keysDir, 'ca.crt'), 'utf8')], new Date(), 'signing')).toMatchObject({ ok: true });

    expect(keysShow(join(keysDir, 'hub.crt'))).toBe(0);
    expect(out.join('\n')).toContain(`participant:  ${PARTICIPANT}`);
    expect(keysShow(join(keysDir, 'hub.crt'), { json: true })).toBe(0);
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ participant: PARTICIPANT, isCa: false });

    expect(keysVerify(join(keysDir, 'hub.crt'), { ca: [join(keysDir, 'ca.crt')] })).toBe(0);
    expect(out.at(-2)).toMatch(/^valid:/);
    expect(keysVerify(join(keysDir, 'hub.crt'), { ca: [join(keysDir, 'ca.crt')], at: '2100-01-01T00:00:00Z' })).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: expired: certificate "hub-h56" has expired/);
  });

  it('verifies with a purpose, reports key-usage problems with their code, and notes unchecked revocation', () => {
    capture();
    const keysDir = join(dir, 'keys');
    expect(keysIssue({ out: keysDir, participant: PARTICIPANT, cn: 'srv-only', usage: 'server', name: 'srv-only' })).toBe(0);
    expect(keysVerify(join(keysDir, 'srv-only.crt'), { ca: [join(keysDir, 'ca.crt')], purpose: 'tls-server' })).toBe(0);
    expect(out.at(-2)).toMatch(/^valid: .*srv-only\.crt chains to a trusted CA at .* for tls-server: "srv-only" < "Lienthong Dev CA"$/);
    expect(out.at(-1)).toBe('note: revocation not checked for "srv-only" (no CRL of the issuer given; add --crl)');
    expect(keysVerify(join(keysDir, 'srv-only.crt'), { ca: [join(keysDir, 'ca.crt')], purpose: 'tls-client' })).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: bad-extended-key-usage: certificate "srv-only" may not be used for tls-client/);
    const ca = { certPem: readFileSync(join(keysDir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(keysDir, 'ca.key'), 'utf8') };
    writeFileSync(join(keysDir, 'no-sig.crt'), forgeCertificate({ cn: 'no-sig', issuer: ca, ca: false, keyUsage: { keyEncipherment: true } }).certPem);
    expect(keysVerify(join(keysDir, 'no-sig.crt'), { ca: [join(keysDir, 'ca.crt')] })).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: bad-key-usage: .*lacks digitalSignature/);
    expect(keysVerify(join(keysDir, 'srv-only.crt'), { ca: [join(keysDir, 'ca.crt')], purpose: 'mail' })).toBe(2);
    expect(err.at(-1)).toMatch(/--purpose must be signing, tls-client, tls-server/);
    expect(keysVerify(join(keysDir, 'srv-only.crt'), { ca: [join(dir, 'nowhere.crt')] })).toBe(2);
    expect(err.at(-1)).toMatch(/cannot read .*nowhere\.crt/);
    expect(keysVerify(join(keysDir, 'srv-only.crt'), { ca: [join(keysDir, 'ca.crt')], crl: [join(keysDir, 'ca.crt')] })).toBe(1);
    expect(err.at(-1)).toMatch(/ca\.crt: .*invalid CRL/);
  });

  it('explains a bad participant, usage or name in one line', () => {
    capture();
    const keysDir = join(dir, 'keys');
    expect(keysIssue({ out: keysDir, participant: 'VN/GOV/H56/X', cn: 'x' })).toBe(2);
    expect(err.at(-1)).toMatch(/--participant "VN\/GOV\/H56\/X" is not a participant identifier; expected VN\/GOV\/<agency code like 000.00.00.H56>/);
    expect(keysIssue({ out: keysDir, participant: PARTICIPANT, cn: 'x', usage: 'admin' })).toBe(2);
    expect(err.at(-1)).toMatch(/--usage must be hub, client or server/);
    expect(keysIssue({ out: keysDir, participant: PARTICIPANT, cn: 'x', name: '../evil' })).toBe(2);
    expect(err.at(-1)).toMatch(/--name must be a file stem/);
    expect(keysIssue({ out: keysDir, caDir: join(dir, 'nowhere'), participant: PARTICIPANT, cn: 'x' })).toBe(2);
    expect(err.at(-1)).toMatch(/cannot read the CA certificate/);
    for (const line of err) expect(line).not.toContain('\n');
  });

  it('writes a CSR', () => {
    capture();
    const csrDir = join(dir, 'csr');
    expect(keysCsr({ out: csrDir, participant: PARTICIPANT, cn: 'hub-h56', name: 'hub-h56' })).toBe(0);
    expect(readFileSync(join(csrDir, 'hub-h56.csr'), 'utf8')).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----/);
    expect(mode(join(csrDir, 'hub-h56.key'))).toBe(0o600);
  });

  it('imports a PKCS#12 file with the password from the environment', () => {
    capture();
    const keysDir = join(dir, 'keys');
    const pair = { certPem: readFileSync(join(keysDir, 'hub.crt'), 'utf8'), keyPem: readFileSync(join(keysDir, 'hub.key'), 'utf8') };
    const p12Path = join(dir, 'hub.p12');
    writeFileSync(p12Path, pkcs12Of(pair, [readFileSync(join(keysDir, 'ca.crt'), 'utf8')], 'bí mật'));
    const importDir = join(dir, 'imported');

    expect(keysImportP12(p12Path, { out: importDir, passwordEnv: 'TEST_P12_PASSWORD', name: 'peer' })).toBe(2);
    expect(err.at(-1)).toMatch(/environment variable TEST_P12_PASSWORD/);
    process.env.TEST_P12_PASSWORD = 'sai';
    expect(keysImportP12(p12Path, { out: importDir, passwordEnv: 'TEST_P12_PASSWORD', name: 'peer' })).toBe(1);
    expect(err.at(-1)).toMatch(/wrong password/);
    process.env.TEST_P12_PASSWORD = 'bí mật';
    expect(keysImportP12(p12Path, { out: importDir, passwordEnv: 'TEST_P12_PASSWORD', name: 'peer' })).toBe(0);
    expect(readFileSync(join(importDir, 'peer.crt'), 'utf8')).toBe(pair.certPem.replace(/\r\n/g, '\n'));
    expect(mode(join(importDir, 'peer.key'))).toBe(0o600);
    expect(keysVerify(join(importDir, 'peer.crt'), { ca: [join(importDir, 'peer-chain.crt')] })).toBe(0);
  });
});

describe('lienthong keys revoke and crl', () => {
  let caDir: string;

  beforeAll(() => {
    caDir = join(dir, 'revocation');
    const quiet = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    expect(keysCa({ out: caDir, cn: 'Revoking CA' })).toBe(0);
    expect(keysIssue({ out: caDir, participant: PARTICIPANT, cn: 'hub-h56', name: 'hub' })).toBe(0);
    expect(keysIssue({ out: caDir, participant: PARTICIPANT, cn: 'other', name: 'other' })).toBe(0);
    quiet.mockRestore();
  });

  it('revokes, re-issues the CRL, and verify reports revoked', () => {
    capture();
    const verify = (at?: string) => keysVerify(join(caDir, 'hub.crt'), { ca: [join(caDir, 'ca.crt')], crl: [join(caDir, 'ca.crl.pem')], ...(at ? { at } : {}) });
    expect(keysCrl({ ca: caDir, nextUpdateDays: '10' })).toBe(0);
    expect(parseCrl(readFileSync(join(caDir, 'ca.crl.pem'), 'utf8')).crlNumber).toBe(1n);
    expect(verify()).toBe(0);
    expect(out.at(-1)).toMatch(/^valid: /);

    expect(keysRevoke({ ca: join(caDir, 'ca'), cert: join(caDir, 'hub.crt'), reason: 'keyCompromise' })).toBe(0);
    expect(out.join('\n')).toMatch(/revoked serial [0-9A-F]+ \(C=VN, serialNumber=VN\/GOV\/000\.00\.00\.H56\/LIENTHONG, CN=hub-h56\): keyCompromise/);
    const state = JSON.parse(readFileSync(join(caDir, 'ca.revoked.json'), 'utf8'));
    const serial = loadCertificate(readFileSync(join(caDir, 'hub.crt'), 'utf8')).serialNumber;
    expect(state).toMatchObject({ crlNumber: 2, revoked: [{ serialNumber: serial, reason: 'keyCompromise' }] });
    const crl = parseCrl(readFileSync(join(caDir, 'ca.crl.pem')));
    expect(crl.crlNumber).toBe(2n);
    expect(revocationOf(crl, serial)?.reason).toBe('keyCompromise');
    expect(crl.nextUpdate!.getTime() - crl.thisUpdate.getTime()).toBe(30 * 86_400_000);
    expect(mode(join(caDir, 'ca.crl.pem'))).toBe(0o644);

    expect(verify()).toBe(1);
    expect(out.at(-1)).toMatch(new RegExp(`^invalid: revoked: certificate "hub-h56" \\(serial ${serial}\\) was revoked by "Revoking CA" on .* \\(keyCompromise\\)$`));
    // the other certificate of the CA is still fine, and now checked
    expect(keysVerify(join(caDir, 'other.crt'), { ca: [join(caDir, 'ca.crt')], crl: [join(caDir, 'ca.crl.pem')] })).toBe(0);
    expect(out.at(-1)).toMatch(/^valid: /);

    expect(keysRevoke({ ca: caDir, cert: join(caDir, 'hub.crt') })).toBe(0);
    expect(out.at(-1)).toMatch(/^already revoked: serial /);
    expect(JSON.parse(readFileSync(join(caDir, 'ca.revoked.json'), 'utf8')).crlNumber).toBe(2);

    expect(keysCrl({ ca: join(caDir, 'ca.crt'), nextUpdateDays: '1' })).toBe(0);
    const reissued = parseCrl(readFileSync(join(caDir, 'ca.crl.pem')));
    expect(reissued.crlNumber).toBe(3n);
    expect(revocationOf(reissued, serial)).toBeDefined();
    expect(keysVerify(join(caDir, 'other.crt'), { ca: [join(caDir, 'ca.crt')], crl: [join(caDir, 'ca.crl.pem')], at: new Date(Date.now() + 2 * 86_400_000).toISOString() })).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: crl-stale: the CRL of "C=VN, CN=Revoking CA" is stale/);
  });

  it('revokes by serial number', () => {
    capture();
    const serial = loadCertificate(readFileSync(join(caDir, 'other.crt'), 'utf8')).serialNumber;
    expect(keysRevoke({ ca: caDir, serial: serial.toLowerCase(), reason: 'superseded' })).toBe(0);
    expect(revocationOf(parseCrl(readFileSync(join(caDir, 'ca.crl.pem'))), serial)?.reason).toBe('superseded');
  });

  it('refuses a certificate of another CA and bad options, in one line', () => {
    capture();
    const before = readFileSync(join(caDir, 'ca.revoked.json'), 'utf8');
    expect(keysRevoke({ ca: caDir, cert: join(dir, 'keys', 'hub.crt') })).toBe(1);
    expect(err.at(-1)).toMatch(/hub\.crt \("hub-h56"\) was not issued by the CA "Revoking CA"/);
    expect(keysRevoke({ ca: caDir, cert: join(caDir, 'hub.crt'), reason: 'bored' })).toBe(2);
    expect(err.at(-1)).toMatch(/--reason must be one of unspecified, keyCompromise, cACompromise/);
    expect(keysRevoke({ ca: caDir })).toBe(2);
    expect(err.at(-1)).toMatch(/--cert <file> or --serial <hex>/);
    expect(keysRevoke({ ca: caDir, serial: 'xyz' })).toBe(2);
    expect(keysRevoke({ ca: join(dir, 'nowhere'), serial: '01' })).toBe(2);
    expect(err.at(-1)).toMatch(/cannot read the CA certificate .*nowhere\.crt/); // not a folder: a file stem
    expect(keysCrl({ ca: caDir, nextUpdateDays: '0' })).toBe(2);
    expect(err.at(-1)).toMatch(/--next-update-days must be a positive whole number/);
    expect(readFileSync(join(caDir, 'ca.revoked.json'), 'utf8')).toBe(before);
    writeFileSync(join(dir, 'broken.revoked.json'), '{"crlNumber": "x"}');
    writeFileSync(join(dir, 'broken.crt'), readFileSync(join(caDir, 'ca.crt')));
    writeFileSync(join(dir, 'broken.key'), readFileSync(join(caDir, 'ca.key')));
    expect(keysCrl({ ca: join(dir, 'broken') })).toBe(2);
    expect(err.at(-1)).toMatch(/broken\.revoked\.json is not a revocation list/);
    for (const line of err) expect(line).not.toContain('\n');
  });
});

describe('lienthong keys (commander)', () => {
  function program(): Command {
    const root = new Command('lienthong').exitOverride();
    registerKeysCommand(root);
    return root;
  }

  it('runs ca, issue and verify through the command line', async () => {
    capture();
    const cliDir = join(dir, 'cli');
    await program().parseAsync(['keys', 'ca', '--cn', 'CLI CA', '--out', cliDir], { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(['keys', 'issue', '--out', cliDir, '--participant', PARTICIPANT, '--cn', 'hub-h56', '--usage', 'server', '--dns', 'localhost', '--dns', 'hub.local', '--name', 'srv'], { from: 'user' });
    expect(process.exitCode).toBe(0);
    expect(describeCertificate(readFileSync(join(cliDir, 'srv.crt'), 'utf8')).subjectAltName).toContain('DNS:hub.local');
    await program().parseAsync(['keys', 'verify', join(cliDir, 'srv.crt'), '--ca', join(cliDir, 'ca.crt'), '--purpose', 'tls-server'], { from: 'user' });
    expect(process.exitCode).toBe(0);
    // A TLS server certificate may not sign hub-to-hub messages (the default purpose); the default hub certificate may.
    await program().parseAsync(['keys', 'verify', join(cliDir, 'srv.crt'), '--ca', join(cliDir, 'ca.crt')], { from: 'user' });
    expect(process.exitCode).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: bad-extended-key-usage: certificate "hub-h56" may not sign hub-to-hub messages/);
    await program().parseAsync(['keys', 'issue', '--out', cliDir, '--participant', PARTICIPANT, '--cn', 'hub-h56', '--name', 'hub'], { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(['keys', 'verify', join(cliDir, 'hub.crt'), '--ca', join(cliDir, 'ca.crt')], { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(['keys', 'verify', join(cliDir, 'srv.crt'), '--ca', join(dir, 'keys', 'ca.crt'), '--purpose', 'tls-server'], { from: 'user' });
    expect(process.exitCode).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: /);
  });

  it('runs an EC CA, revoke, crl and verify --crl --purpose through the command line', async () => {
    capture();
    const cliDir = join(dir, 'cli-ec');
    await program().parseAsync(['keys', 'ca', '--cn', 'CLI EC CA', '--key-type', 'ec', '--out', cliDir], { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(['keys', 'issue', '--out', cliDir, '--participant', PARTICIPANT, '--cn', 'peer', '--usage', 'client', '--key-type', 'ec', '--name', 'peer'], { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(['keys', 'crl', '--ca', cliDir, '--next-update-days', '3'], { from: 'user' });
    expect(process.exitCode).toBe(0);
    const verifyArgs = ['keys', 'verify', join(cliDir, 'peer.crt'), '--ca', join(cliDir, 'ca.crt'), '--crl', join(cliDir, 'ca.crl.pem'), '--purpose', 'tls-client'];
    await program().parseAsync(verifyArgs, { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(['keys', 'revoke', '--ca', cliDir, '--cert', join(cliDir, 'peer.crt'), '--reason', 'cessationOfOperation'], { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(verifyArgs, { from: 'user' });
    expect(process.exitCode).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: revoked: .*\(cessationOfOperation\)$/);
  });
});
