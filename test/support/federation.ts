import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './hub.js';

/**
 * Two hubs side by side on 127.0.0.1, set up the way an operator would: certificates made with
 * `lienthong keys` (a development CA, one certificate per hub, a CRL), and one configuration root per
 * hub whose config/hub.yaml names its key, its trust anchors and the other hub. The province hub routes a
 * citizen lookup and dossier progress events to services the national hub serves; the national hub
 * serves them from its own connectors (the population database and DVCQG, simulated).
 */
export const PROVINCE = 'VN/GOV/000.00.00.H56/LIENTHONG';
export const NATIONAL = 'VN/GOV/000.00.00.G22/NGSP';
export const ONE_STOP = 'VN/GOV/000.00.00.H56/MOTCUA';
export const LOOKUP_SERVICE = 'VN/GOV/000.00.00.G01/CSDLDC/TraCuuThongTinCongDan';
export const PROGRESS_SERVICE = 'VN/GOV/000.00.00.G22/DVCQG/CapNhatTienDoHoSoMC';

export interface Federation {
  keys: string;
  caPem: string;
  province: { root: string; port: number };
  national: { root: string; port: number };
  /** Runs `lienthong keys …` with the given arguments (output in the keys folder). */
  keysCli(args: string[]): string;
}

export function lienthong(args: string[], options: { cwd?: string } = {}): string {
  return execFileSync(process.execPath, [join(REPO, 'bin', 'lienthong.js'), ...args], { cwd: options.cwd ?? REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export function makeFederation(ports: { province: number; national: number }, extra: { nationalGrants?: string } = {}): Federation {
  const keys = mkdtempSync(join(tmpdir(), 'lienthong-keys-'));
  const keysCli = (args: string[]) => lienthong(['keys', ...args, '--out', keys]);
  keysCli(['ca', '--cn', 'Lienthong Dev CA (kiểm thử)']);
  keysCli(['issue', '--ca-dir', keys, '--participant', PROVINCE, '--cn', 'hub-tinh', '--ip', '127.0.0.1', '--name', 'province']);
  keysCli(['issue', '--ca-dir', keys, '--participant', NATIONAL, '--cn', 'hub-quoc-gia', '--ip', '127.0.0.1', '--name', 'national']);
  lienthong(['keys', 'crl', '--ca', join(keys, 'ca')]);

  const root = (name: string, hubYaml: string) => {
    const dir = mkdtempSync(join(tmpdir(), `lienthong-${name}-`));
    for (const part of ['connectors', 'schemas', 'mappings']) symlinkSync(join(REPO, part), join(dir, part));
    mkdirSync(join(dir, 'config'));
    writeFileSync(join(dir, 'config', 'hub.yaml'), hubYaml);
    return dir;
  };
  const trust = (name: string) => `trust:
  key: ${join(keys, `${name}.key`)}
  certificate: ${join(keys, `${name}.crt`)}
  anchors: [${join(keys, 'ca.crt')}]
  crls: [${join(keys, 'ca.crl.pem')}]
`;

  const province = root('province', `hub:
  id: ${PROVINCE}
  name: Hub liên thông tỉnh (kiểm thử)
server:
  host: 127.0.0.1
  port: ${ports.province}
  docs: false
${trust('province')}federation:
  hubs:
    - id: ${NATIONAL}
      url: https://127.0.0.1:${ports.national}
      participants: [VN/GOV/000.00.00.G01/*, VN/GOV/000.00.00.G22/*]
routes:
  - id: citizen-lookup
    mode: sync
    from: onegate-h56.citizen-lookup
    to: ${LOOKUP_SERVICE}
  - id: dossier-status
    mode: async
    from: onegate-h56.dossier-status
    to: [${PROGRESS_SERVICE}]
access:
  grants:
    - { service: ${LOOKUP_SERVICE}, to: { participant: ${ONE_STOP} } }
    - { service: ${PROGRESS_SERVICE}, to: { participant: ${ONE_STOP} } }
delivery:
  retry: { maxAttempts: 20, initialDelay: 200ms, maxDelay: 1s }
store:
  dataDir: ${mkdtempSync(join(tmpdir(), 'lienthong-province-data-'))}
`);

  const national = root('national', `hub:
  id: ${NATIONAL}
  name: Hub liên thông quốc gia (kiểm thử)
server:
  host: 127.0.0.1
  port: ${ports.national}
  docs: false
  tls:
    clientCertificates: required
${trust('national')}routes: []
access:
  grants:
    - { service: ${LOOKUP_SERVICE}, to: { participant: ${PROVINCE} } }
    - { service: ${PROGRESS_SERVICE}, to: { participant: ${PROVINCE} } }
${extra.nationalGrants ?? ''}store:
  dataDir: ${mkdtempSync(join(tmpdir(), 'lienthong-national-data-'))}
`);

  return { keys, caPem: readFileSync(join(keys, 'ca.crt'), 'utf8'), province: { root: province, port: ports.province }, national: { root: national, port: ports.national }, keysCli };
}
