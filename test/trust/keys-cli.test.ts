import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { keysCa, keysCsr, keysImportP12, keysIssue, keysShow, keysVerify, registerKeysCommand } from '../../src/cli/keys.js';
import { describeCertificate, verifyChain } from '../../src/trust/pki.js';
import { pkcs12Of } from './helpers.js';

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
    expect(keysCa({ out: join(dir, 'ec'), cn: 'EC', keyType: 'ec' })).toBe(1);
    expect(err.at(-1)).toMatch(/ECDSA .* not supported yet/);
  });

  it('issues, shows and verifies a certificate', () => {
    capture();
    const keysDir = join(dir, 'keys');
    expect(keysIssue({ out: keysDir, caDir: keysDir, participant: PARTICIPANT, cn: 'hub-h56', usage: 'hub', dns: ['localhost'], ip: ['127.0.0.1'], name: 'hub' })).toBe(0);
    expect(mode(join(keysDir, 'hub.key'))).toBe(0o600);
    const certPem = readFileSync(join(keysDir, 'hub.crt'), 'utf8');
    expect(verifyChain(certPem, [], [readFileSync(join(keysDir, 'ca.crt'), 'utf8')])).toEqual({ ok: true });

    expect(keysShow(join(keysDir, 'hub.crt'))).toBe(0);
    expect(out.join('\n')).toContain(`participant:  ${PARTICIPANT}`);
    expect(keysShow(join(keysDir, 'hub.crt'), { json: true })).toBe(0);
    expect(JSON.parse(out.at(-1)!)).toMatchObject({ participant: PARTICIPANT, isCa: false });

    expect(keysVerify(join(keysDir, 'hub.crt'), { ca: [join(keysDir, 'ca.crt')] })).toBe(0);
    expect(out.at(-1)).toMatch(/^valid:/);
    expect(keysVerify(join(keysDir, 'hub.crt'), { ca: [join(keysDir, 'ca.crt')], at: '2100-01-01T00:00:00Z' })).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: certificate "hub-h56" has expired/);
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
    await program().parseAsync(['keys', 'verify', join(cliDir, 'srv.crt'), '--ca', join(cliDir, 'ca.crt')], { from: 'user' });
    expect(process.exitCode).toBe(0);
    await program().parseAsync(['keys', 'verify', join(cliDir, 'srv.crt'), '--ca', join(dir, 'keys', 'ca.crt')], { from: 'user' });
    expect(process.exitCode).toBe(1);
    expect(out.at(-1)).toMatch(/^invalid: /);
  });
});
