import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isHubError } from '../core/errors.js';
import { PARTICIPANT_FORM, isParticipant } from '../trust/identity.js';
import {
  createCsr,
  createDevCa,
  describeCertificate,
  importPkcs12,
  issueCertificate,
  splitPemCertificates,
  verifyChain,
  type CertificateUsage,
  type KeyType,
} from '../trust/pki.js';

/**
 * `lienthong keys ca|issue|csr|import-p12|show|verify`: development CA, certificates, CSRs for a licensed CA, PKCS#12
 * import, and checks. Writes PEM files into --out (private keys with mode 0600) and never overwrites without --force.
 * Each handler returns the exit code (0 ok, 1 invalid/failed, 2 bad usage) and prints one-line errors.
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

function days(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`--days must be a positive whole number of days; got ${JSON.stringify(text)}`);
  return value;
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
    const { certPem, keyPem } = createDevCa({ commonName: options.cn, organization: options.org, validDays: days(options.days) ?? 3650, keyType: (options.keyType ?? 'rsa') as KeyType });
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
}): number {
  return guarded(() => {
    const participant = checkParticipant(options.participant);
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
    });
    wrote(writeOutputs(options, [{ name: `${name}.crt`, content: certPem }, { name: `${name}.key`, content: keyPem, secret: true }]));
    return 0;
  });
}

export function keysCsr(options: OutputOptions & { participant?: string; cn: string; org?: string; name?: string }): number {
  return guarded(() => {
    const participant = checkParticipant(options.participant);
    const name = stemOf(options.name, options.cn);
    const { csrPem, keyPem } = createCsr({ commonName: options.cn, participant, organization: options.org, country: 'VN' });
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
      console.log(`CA:           ${d.isCa ? 'yes' : 'no'}`);
      console.log(`key usage:    ${[...d.keyUsage, ...d.extKeyUsage].join(', ') || '-'}`);
      if (d.subjectAltName) console.log(`alt names:    ${d.subjectAltName}`);
      console.log(`SHA-256:      ${d.fingerprint256}`);
    });
    return 0;
  });
}

export function keysVerify(file: string, options: { ca?: string[]; intermediate?: string[]; at?: string }): number {
  return guarded(() => {
    if (!options.ca || options.ca.length === 0) throw new UsageError('--ca <file> is required: the trusted CA certificate(s)');
    const at = options.at === undefined ? new Date() : new Date(options.at);
    if (Number.isNaN(at.getTime())) throw new UsageError(`--at must be an ISO 8601 time; got ${JSON.stringify(options.at)}`);
    const [leaf] = readCertificates([file], 'the certificate');
    const anchors = readCertificates(options.ca, 'the CA certificate');
    const intermediates = readCertificates(options.intermediate ?? [], 'the intermediate certificate');
    const result = verifyChain(leaf!, intermediates, anchors, at);
    if (result.ok) {
      console.log(`valid: ${file} chains to a trusted CA at ${at.toISOString()}`);
      return 0;
    }
    console.log(`invalid: ${result.reason}`);
    return 1;
  });
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** Adds `lienthong keys …` to the program. */
export function registerKeysCommand(program: Command): void {
  const keys = program.command('keys').description('development CA, certificates, CSRs, PKCS#12 import and checks (PEM files; keys mode 0600)');
  const output = (command: Command) => command
    .option('-o, --out <dir>', 'folder for the files written', DEFAULT_OUT)
    .option('-f, --force', 'overwrite existing files');
  const exit = (code: number) => {
    process.exitCode = code;
  };

  output(keys.command('ca'))
    .description('create a self-signed development CA: ca.crt and ca.key (RSA-2048, SHA-256)')
    .requiredOption('--cn <name>', 'common name, e.g. "Lienthong Dev CA"')
    .option('--org <name>', 'organization name')
    .option('--days <n>', 'validity in days (default 3650)')
    .option('--key-type <type>', 'rsa (ec is not supported yet)', 'rsa')
    .action((options) => exit(keysCa(options)));

  output(keys.command('issue'))
    .description('issue a certificate from the CA in --ca-dir: <name>.crt and <name>.key')
    .option('--ca-dir <dir>', 'folder holding ca.crt and ca.key (default: --out)')
    .requiredOption('--participant <id>', 'participant, e.g. VN/GOV/000.00.00.H56/LIENTHONG')
    .requiredOption('--cn <name>', 'common name, e.g. hub-h56')
    .option('--usage <usage>', 'hub (server and client TLS), client or server', 'hub')
    .option('--dns <name>', 'DNS subject alternative name (repeatable)', collect)
    .option('--ip <address>', 'IP subject alternative name (repeatable)', collect)
    .option('--org <name>', 'organization name')
    .option('--days <n>', 'validity in days (default 365)')
    .option('--name <stem>', 'file stem (default: the common name)')
    .action((options) => exit(keysIssue(options)));

  output(keys.command('csr'))
    .description('create a key and a certificate signing request for a licensed CA: <name>.csr and <name>.key')
    .requiredOption('--participant <id>', 'participant, e.g. VN/GOV/000.00.00.H56/LIENTHONG')
    .requiredOption('--cn <name>', 'common name')
    .option('--org <name>', 'organization name')
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
    .description('check that a certificate chains to a trusted CA; exit 1 with the reason when it does not')
    .argument('<cert>', 'PEM certificate file')
    .requiredOption('--ca <file>', 'trusted CA certificate(s) (repeatable; a file may hold several)', collect)
    .option('--intermediate <file>', 'intermediate certificate(s) (repeatable)', collect)
    .option('--at <time>', 'check at this time instead of now (ISO 8601)')
    .action((file, options) => exit(keysVerify(file, options)));
}
