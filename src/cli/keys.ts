import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isHubError } from '../core/errors.js';
import { REVOCATION_REASONS, createCrl, type RevocationReason, type RevokedCertificate } from '../trust/crl.js';
import { PARTICIPANT_FORM, isParticipant } from '../trust/identity.js';
import {
  createCsr,
  createDevCa,
  describeCertificate,
  importPkcs12,
  issueCertificate,
  loadCertificate,
  nameOf,
  normalizeSerial,
  splitPemCertificates,
  type CertificateUsage,
  type KeyType,
} from '../trust/pki.js';
import { loadTrustStore, type TrustPurpose } from '../trust/trust-store.js';

/**
 * `lienthong keys ca|issue|csr|import-p12|show|verify|revoke|crl`: development CA, certificates, CSRs for a licensed CA,
 * PKCS#12 import, revocation, and checks. Writes PEM files into --out (private keys with mode 0600) and never
 * overwrites them without --force. Each handler returns the exit code (0 ok, 1 invalid/failed, 2 bad usage) and
 * prints one-line errors.
 *
 * Revocation state lives beside the CA: `<ca>.revoked.json` (what is revoked, and the last CRL number) and
 * `<ca>.crl.pem` (the CRL to hand to relying parties). `revoke` and `crl` replace these two files on purpose, atomically
 * and without --force: they are the CA's running state, not outputs to protect.
 */

interface OutputOptions {
  out?: string;
  force?: boolean;
}

const DEFAULT_OUT = './keys';
const STEM = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

class UsageError extends Error {}

function stemOf(name: string | undefined, fallback: string): string {
  const stem = name ?? fallback;
  if (!STEM.test(stem)) throw new UsageError(`--name must be a file stem of letters, digits, ".", "_" or "-" (no "/"); got ${JSON.stringify(stem.slice(0, 64))}`);
  return stem;
}

function checkParticipant(participant: string | undefined): string {
  if (!participant) throw new UsageError(`--participant is required, e.g. VN/GOV/000.00.00.H56/LIENTHONG (form: ${PARTICIPANT_FORM})`);
  if (!isParticipant(participant)) {
    throw new UsageError(`--participant ${JSON.stringify(participant.slice(0, 120))} is not a participant identifier; expected ${PARTICIPANT_FORM}`);
  }
  return participant;
}

function days(text: string | undefined, option = '--days'): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${option} must be a positive whole number of days; got ${JSON.stringify(text)}`);
  return value;
}

function keyTypeOf(text: string | undefined): KeyType {
  const keyType = text ?? 'rsa';
  if (keyType !== 'rsa' && keyType !== 'ec') throw new UsageError(`--key-type must be rsa (RSA-2048) or ec (ECDSA P-256); got ${JSON.stringify(keyType.slice(0, 32))}`);
  return keyType;
}

/** Writes files into the folder, all or none: refuses when any exists (unless force). Keys get mode 0600. */
function writeOutputs(options: OutputOptions, files: Array<{ name: string; content: string; secret?: boolean }>): string[] {
  const dir = resolve(options.out ?? DEFAULT_OUT);
  const paths = files.map((file) => join(dir, file.name));
  if (!options.force) {
    const existing = paths.filter((path) => existsSync(path));
    if (existing.length > 0) throw new UsageError(`refusing to overwrite ${existing.join(', ')} (use --force)`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  files.forEach((file, index) => {
    const path = paths[index]!;
    const mode = file.secret ? 0o600 : 0o644;
    writeFileSync(path, file.content, { mode, flag: options.force ? 'w' : 'wx' });
    chmodSync(path, mode); // an overwritten file keeps its old mode otherwise
  });
  return paths;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${what} ${path}`);
  }
}

function readCertificates(paths: string[], what: string): string[] {
  return paths.flatMap((path) => {
    const pems = splitPemCertificates(readText(path, what));
    if (pems.length === 0) throw new UsageError(`${path} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`);
    return pems;
  });
}

/** Runs a handler body, turning usage and HubErrors into one line on stderr and an exit code. */
function guarded(body: () => number): number {
  try {
    return body();
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`lienthong keys: ${error.message}`);
      return 2;
    }
    if (isHubError(error)) {
      console.error(`lienthong keys: ${error.message}`);
      return 1;
    }
    throw error;
  }
}

function wrote(paths: string[]): void {
  for (const path of paths) console.log(`wrote ${path}`);
}

export function keysCa(options: OutputOptions & { cn: string; org?: string; days?: string; keyType?: string }): number {
  return guarded(() => {
    const { certPem, keyPem } = createDevCa({ commonName: options.cn, organization: options.org, validDays: days(options.days) ?? 3650, keyType: keyTypeOf(options.keyType) });
    wrote(writeOutputs(options, [{ name: 'ca.crt', content: certPem }, { name: 'ca.key', content: keyPem, secret: true }]));
    return 0;
  });
}

export function keysIssue(options: OutputOptions & {
  caDir?: string;
  participant?: string;
  cn: string;
  usage?: string;
  dns?: string[];
  ip?: string[];
  name?: string;
  org?: string;
  days?: string;
  keyType?: string;
}): number {
  return guarded(() => {
    const participant = checkParticipant(options.participant);
    const keyType = keyTypeOf(options.keyType);
    const usage = options.usage ?? 'hub';
    if (!['hub', 'client', 'server'].includes(usage)) throw new UsageError(`--usage must be hub, client or server; got ${JSON.stringify(usage.slice(0, 32))}`);
    const name = stemOf(options.name, options.cn);
    const caDir = resolve(options.caDir ?? options.out ?? DEFAULT_OUT);
    const ca = { certPem: readText(join(caDir, 'ca.crt'), 'the CA certificate'), keyPem: readText(join(caDir, 'ca.key'), 'the CA key') };
    const { certPem, keyPem } = issueCertificate({
      ca,
      commonName: options.cn,
      participant,
      usage: usage as CertificateUsage,
      dnsNames: options.dns ?? [],
      ipAddresses: options.ip ?? [],
      organization: options.org,
      validDays: days(options.days),
      keyType,
    });
    wrote(writeOutputs(options, [{ name: `${name}.crt`, content: certPem }, { name: `${name}.key`, content: keyPem, secret: true }]));
    return 0;
  });
}

export function keysCsr(options: OutputOptions & { participant?: string; cn: string; org?: string; name?: string; keyType?: string }): number {
  return guarded(() => {
    const participant = checkParticipant(options.participant);
    const keyType = keyTypeOf(options.keyType);
    const name = stemOf(options.name, options.cn);
    const { csrPem, keyPem } = createCsr({ commonName: options.cn, participant, organization: options.org, country: 'VN', keyType });
    wrote(writeOutputs(options, [{ name: `${name}.csr`, content: csrPem }, { name: `${name}.key`, content: keyPem, secret: true }]));
    return 0;
  });
}

export function keysImportP12(file: string, options: OutputOptions & { passwordEnv?: string; name: string }): number {
  return guarded(() => {
    const variable = options.passwordEnv ?? 'P12_PASSWORD';
    const password = process.env[variable];
    if (password === undefined) throw new UsageError(`set the PKCS#12 password in the environment variable ${variable} (it is never taken as an argument)`);
    const name = stemOf(options.name, '');
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
    const { keyPem, certPem, chainPems } = importPkcs12(bytes, password);
    const files = [{ name: `${name}.crt`, content: certPem }, { name: `${name}.key`, content: keyPem, secret: true }];
    if (chainPems.length > 0) files.push({ name: `${name}-chain.crt`, content: chainPems.join('') });
    wrote(writeOutputs(options, files));
    return 0;
  });
}

export function keysShow(file: string, options: { json?: boolean } = {}): number {
  return guarded(() => {
    const pems = readCertificates([file], 'the certificate');
    const descriptions = pems.map((pem) => describeCertificate(pem));
    if (options.json) {
      console.log(JSON.stringify(descriptions.length === 1 ? descriptions[0] : descriptions, null, 2));
      return 0;
    }
    descriptions.forEach((d, index) => {
      if (index > 0) console.log('');
      console.log(`subject:      ${d.subject}`);
      console.log(`issuer:       ${d.issuer}`);
      if (d.participant) console.log(`participant:  ${d.participant}`);
      console.log(`serial:       ${d.serialNumber}`);
      console.log(`valid:        ${d.validFrom.toISOString()} .. ${d.validTo.toISOString()}`);
      console.log(`key:          ${d.keyAlgorithm}`);
      console.log(`CA:           ${d.isCa ? 'yes' : 'no'}`);
      console.log(`key usage:    ${[...d.keyUsage, ...d.extKeyUsage].join(', ') || '-'}`);
      if (d.subjectAltName) console.log(`alt names:    ${d.subjectAltName}`);
      console.log(`SHA-256:      ${d.fingerprint256}`);
    });
    return 0;
  });
}

const PURPOSES: TrustPurpose[] = ['signing', 'tls-client', 'tls-server'];

export function keysVerify(file: string, options: { ca?: string[]; intermediate?: string[]; crl?: string[]; purpose?: string; at?: string }): number {
  return guarded(() => {
    if (!options.ca || options.ca.length === 0) throw new UsageError('--ca <file> is required: the trusted CA certificate(s)');
    const at = options.at === undefined ? new Date() : new Date(options.at);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--at must be an ISO 8601 time; got ${JSON.stringify(options.at)}`);
    const purpose = (options.purpose ?? 'signing') as TrustPurpose;
    if (!PURPOSES.includes(purpose)) throw new UsageError(`--purpose must be ${PURPOSES.join(', ')}; got ${JSON.stringify(String(options.purpose).slice(0, 32))}`);
    // a file may carry the chain after the leaf (e.g. <name>-chain.crt appended): it counts as presented by the peer
    const [leafPem, ...presentedPems] = readCertificates([file], 'the certificate');
    const store = usageOnUnreadable(() => loadTrustStore({ anchors: options.ca!, intermediates: options.intermediate ?? [], crls: options.crl ?? [] }, { cacheTtlMs: 0 }));
    const result = store.validate(loadCertificate(leafPem!), presentedPems.map((pem) => loadCertificate(pem)), at, purpose);
    if (!result.ok) {
      console.log(`invalid: ${result.code}: ${result.reason}`);
      return 1;
    }
    console.log(`valid: ${file} chains to a trusted CA at ${at.toISOString()} for ${purpose}: ${result.chain.map((cert) => nameOf(cert)).join(' < ')}`);
    if (result.revocationUnchecked.length > 0) {
      console.log(`note: revocation not checked for ${result.revocationUnchecked.map((cert) => nameOf(cert)).join(', ')} (no CRL of the issuer given; add --crl)`);
    }
    return 0;
  });
}

/** A file named on the command line that cannot be read is a usage error (exit 2), as elsewhere in this file. */
function usageOnUnreadable<T>(body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (isHubError(error) && error.type === 'trust.unreadable-file') throw new UsageError(error.message);
    throw error;
  }
}

// ------------------------------------------------------------------------------------------------
// revocation
// ------------------------------------------------------------------------------------------------

/** Development CRLs stay current for 30 days unless told otherwise; licensed CAs publish daily, valid about a week. */
const DEFAULT_CRL_DAYS = 30;
/** Reasons an operator may give; certificateHold and removeFromCRL are left out: nothing here un-revokes. */
const REVOKE_REASONS = Object.keys(REVOCATION_REASONS).filter((reason) => reason !== 'certificateHold' && reason !== 'removeFromCRL') as RevocationReason[];

interface CaFiles {
  certPath: string;
  keyPath: string;
  /** `<ca>.revoked.json`: the revocations and the number of the last CRL issued. */
  statePath: string;
  /** `<ca>.crl.pem`: the current CRL. */
  crlPath: string;
}

interface RevocationState {
  crlNumber: number;
  revoked: Array<{ serialNumber: string; revokedAt: string; reason?: RevocationReason; subject?: string }>;
}

/** `--ca keys` (a folder holding ca.crt and ca.key), `--ca keys/issuing` or `--ca keys/issuing.crt` (a file stem). */
function caFiles(text: string | undefined): CaFiles {
  if (!text) throw new UsageError('--ca <dir or dir/name> is required: the CA folder (with ca.crt and ca.key) or the CA file stem');
  let stem = resolve(text).replace(/\.(crt|key)$/, '');
  if (existsSync(stem) && statSync(stem).isDirectory()) stem = join(stem, 'ca');
  return { certPath: `${stem}.crt`, keyPath: `${stem}.key`, statePath: `${stem}.revoked.json`, crlPath: `${stem}.crl.pem` };
}

function readCa(files: CaFiles): { certPem: string; keyPem: string } {
  return { certPem: readText(files.certPath, 'the CA certificate'), keyPem: readText(files.keyPath, 'the CA key') };
}

function readState(path: string): RevocationState {
  if (!existsSync(path)) return { crlNumber: 0, revoked: [] };
  let state: RevocationState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as RevocationState;
  } catch {
    throw new UsageError(`${path} is not JSON; it should be the revocation list written by "lienthong keys revoke"`);
  }
  const entriesOk = Array.isArray(state?.revoked) && state.revoked.every((entry) => typeof entry?.serialNumber === 'string' && !Number.isNaN(new Date(entry.revokedAt).getTime()));
  if (!Number.isInteger(state?.crlNumber) || state.crlNumber < 0 || !entriesOk) {
    throw new UsageError(`${path} is not a revocation list written by "lienthong keys revoke" (expected crlNumber and revoked[] with serialNumber and revokedAt)`);
  }
  return state;
}

/** Writes beside and renames, so a running hub, which looks at its CRL files again every 30 s, never sees half a file. */
function replaceFile(path: string, content: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, content, { mode: 0o644 });
  renameSync(temporary, path);
}

/** Signs a CRL for `state` (already carrying its new number), then writes the state and the CRL, state first. */
function publish(files: CaFiles, ca: { certPem: string; keyPem: string }, state: RevocationState, nextUpdateDays: number): { pem: string; nextUpdate: Date } {
  const thisUpdate = new Date();
  const nextUpdate = new Date(thisUpdate.getTime() + nextUpdateDays * 86_400_000);
  const revoked: RevokedCertificate[] = state.revoked.map((entry) => ({ serialNumber: entry.serialNumber, revokedAt: new Date(entry.revokedAt), ...(entry.reason ? { reason: entry.reason } : {}) }));
  const { pem } = createCrl({ ca, crlNumber: state.crlNumber, revoked, thisUpdate, nextUpdate }); // fails before anything is written
  // the state is the source of truth: if writing the CRL fails, "keys crl" re-issues it from the state
  replaceFile(files.statePath, `${JSON.stringify(state, null, 2)}\n`);
  replaceFile(files.crlPath, pem);
  return { pem, nextUpdate };
}

function reasonOf(text: string | undefined): RevocationReason | undefined {
  if (text === undefined) return undefined;
  if (!(REVOKE_REASONS as string[]).includes(text)) throw new UsageError(`--reason must be one of ${REVOKE_REASONS.join(', ')}; got ${JSON.stringify(text.slice(0, 32))}`);
  return text === 'unspecified' ? undefined : (text as RevocationReason);
}

export function keysRevoke(options: { ca?: string; cert?: string; serial?: string; reason?: string; nextUpdateDays?: string }): number {
  return guarded(() => {
    const files = caFiles(options.ca);
    const reason = reasonOf(options.reason);
    const nextUpdateDays = days(options.nextUpdateDays, '--next-update-days') ?? DEFAULT_CRL_DAYS;
    if (Boolean(options.cert) === Boolean(options.serial)) throw new UsageError('name the certificate to revoke with --cert <file> or --serial <hex> (one of them)');
    if (options.serial !== undefined && !/^[0-9A-Fa-f]{1,40}$/.test(options.serial.replace(/:/g, ''))) throw new UsageError(`--serial must be the certificate serial number in hex; got ${JSON.stringify(options.serial.slice(0, 64))}`);
    const ca = readCa(files);
    const caCert = loadCertificate(ca.certPem);
    let serial: string;
    let subject: string | undefined;
    if (options.cert) {
      const target = loadCertificate(readCertificates([options.cert], 'the certificate')[0]!);
      if (!target.checkIssued(caCert) || !target.verify(caCert.publicKey)) {
        console.error(`lienthong keys: ${options.cert} (${nameOf(target)}) was not issued by the CA ${nameOf(caCert)} in ${files.certPath}`);
        return 1;
      }
      serial = normalizeSerial(target.serialNumber);
      subject = target.subject.split('\n').join(', ');
    } else {
      serial = normalizeSerial(options.serial!.replace(/:/g, ''));
    }
    const state = readState(files.statePath);
    const existing = state.revoked.find((entry) => normalizeSerial(entry.serialNumber) === serial);
    if (existing) {
      console.log(`already revoked: serial ${serial} on ${existing.revokedAt}${existing.reason ? ` (${existing.reason})` : ''}; "lienthong keys crl --ca ${options.ca}" re-issues the CRL`);
      return 0;
    }
    const entry: RevocationState['revoked'][number] = { serialNumber: serial, revokedAt: new Date().toISOString() };
    if (reason) entry.reason = reason;
    if (subject) entry.subject = subject;
    const next: RevocationState = { crlNumber: state.crlNumber + 1, revoked: [...state.revoked, entry] };
    const { nextUpdate } = publish(files, ca, next, nextUpdateDays);
    console.log(`revoked serial ${serial}${subject ? ` (${subject})` : ''}${reason ? `: ${reason}` : ''}`);
    wrote([files.statePath, files.crlPath]);
    console.log(`CRL number ${next.crlNumber}, ${next.revoked.length} revoked, next update ${nextUpdate.toISOString()}: give ${files.crlPath} to every relying hub before then (a running hub takes a replaced CRL file within 30 s, no restart)`);
    return 0;
  });
}

export function keysCrl(options: { ca?: string; nextUpdateDays?: string }): number {
  return guarded(() => {
    const files = caFiles(options.ca);
    const nextUpdateDays = days(options.nextUpdateDays, '--next-update-days') ?? DEFAULT_CRL_DAYS;
    const ca = readCa(files);
    const state = readState(files.statePath);
    const next: RevocationState = { ...state, crlNumber: state.crlNumber + 1 };
    const { nextUpdate } = publish(files, ca, next, nextUpdateDays);
    wrote([files.statePath, files.crlPath]);
    console.log(`CRL number ${next.crlNumber}, ${next.revoked.length} revoked, next update ${nextUpdate.toISOString()}`);
    return 0;
  });
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds `lienthong keys …` to the program. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('development CA, certificates, CSRs, PKCS#12 import, revocation and checks (PEM files; keys mode 0600)');
  const output = (command: Command) => command
    .option('-o, --out <dir>', 'folder for the files written', DEFAULT_OUT)
    .option('-f, --force', 'overwrite existing files');
  const exit = (code: number) => {
    process.exitCode = code;
  };

  output(keys.command('ca'))
    .description('create a self-signed development CA: ca.crt and ca.key (RSA-2048 or ECDSA P-256, SHA-256)')
    .requiredOption('--cn <name>', 'common name, e.g. "Lienthong Dev CA"')
    .option('--org <name>', 'organization name')
    .option('--days <n>', 'validity in days (default 3650)')
    .option('--key-type <type>', 'rsa (RSA-2048) or ec (ECDSA P-256)', 'rsa')
    .action((options) => exit(keysCa(options)));

  output(keys.command('issue'))
    .description('issue a certificate from the CA in --ca-dir: <name>.crt and <name>.key')
    .option('--ca-dir <dir>', 'folder holding ca.crt and ca.key (default: --out)')
    .requiredOption('--participant <id>', 'participant, e.g. VN/GOV/000.00.00.H56/LIENTHONG')
    .requiredOption('--cn <name>', 'common name, e.g. hub-h56')
    .option('--usage <usage>', 'hub (server and client TLS, and the only kind that signs hub-to-hub messages), client (TLS client only) or server (TLS server only)', 'hub')
    .option('--dns <name>', 'DNS subject alternative name (repeatable)', collect)
    .option('--ip <address>', 'IP subject alternative name (repeatable)', collect)
    .option('--org <name>', 'organization name')
    .option('--days <n>', 'validity in days (default 365)')
    .option('--key-type <type>', 'rsa (RSA-2048) or ec (ECDSA P-256), whatever the CA key is', 'rsa')
    .option('--name <stem>', 'file stem (default: the common name)')
    .action((options) => exit(keysIssue(options)));

  output(keys.command('csr'))
    .description('create a key and a certificate signing request for a licensed CA: <name>.csr and <name>.key')
    .requiredOption('--participant <id>', 'participant, e.g. VN/GOV/000.00.00.H56/LIENTHONG')
    .requiredOption('--cn <name>', 'common name')
    .option('--org <name>', 'organization name')
    .option('--key-type <type>', 'rsa (RSA-2048, what licensed CAs expect) or ec (ECDSA P-256)', 'rsa')
    .option('--name <stem>', 'file stem (default: the common name)')
    .action((options) => exit(keysCsr(options)));

  output(keys.command('import-p12'))
    .description('split a .p12/.pfx into <name>.crt, <name>.key and <name>-chain.crt')
    .argument('<file>', 'the PKCS#12 file')
    .option('--password-env <var>', 'environment variable holding the password', 'P12_PASSWORD')
    .requiredOption('--name <stem>', 'file stem')
    .action((file, options) => exit(keysImportP12(file, options)));

  keys.command('show')
    .description('describe the certificate(s) in a PEM file')
    .argument('<cert>', 'PEM certificate file')
    .option('--json', 'JSON output')
    .action((file, options) => exit(keysShow(file, options)));

  keys.command('verify')
    .description('validate a certificate as the hub does (chain, dates, CA flags, key usage, CRLs); exit 1 with the code and reason when invalid')
    .argument('<cert>', 'PEM certificate file (certificates after the first count as the presented chain)')
    .requiredOption('--ca <file>', 'trusted CA certificate(s) (repeatable; a file may hold several)', collect)
    .option('--intermediate <file>', 'intermediate certificate(s) (repeatable)', collect)
    .option('--crl <file>', 'CRL, PEM or DER (repeatable); an issuer without one is not checked for revocation', collect)
    .option('--purpose <purpose>', 'signing, tls-client or tls-server', 'signing')
    .option('--at <time>', 'check at this time instead of now (ISO 8601)')
    .action((file, options) => exit(keysVerify(file, options)));

  keys.command('revoke')
    .description('revoke a certificate: records it in <ca>.revoked.json and writes a fresh CRL <ca>.crl.pem')
    .requiredOption('--ca <dir/name>', 'the CA: a folder holding ca.crt and ca.key, or a file stem like keys/ca')
    .option('--cert <file>', 'the certificate to revoke')
    .option('--serial <hex>', 'or its serial number, when the certificate file is lost')
    .option('--reason <reason>', REVOKE_REASONS.join(', '))
    .option('--next-update-days <n>', `days the CRL stays current (default ${DEFAULT_CRL_DAYS})`)
    .action((options) => exit(keysRevoke(options)));

  keys.command('crl')
    .description('re-issue the CRL <ca>.crl.pem from <ca>.revoked.json, with the next CRL number (run before the last one goes stale)')
    .requiredOption('--ca <dir/name>', 'the CA: a folder holding ca.crt and ca.key, or a file stem like keys/ca')
    .option('--next-update-days <n>', `days the CRL stays current (default ${DEFAULT_CRL_DAYS})`)
    .action((options) => exit(keysCrl(options)));
}
