import { mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { keysCa, keysCrl, keysIssue, keysRevoke } from '../../src/cli/keys.js';
import { isHubError } from '../../src/core/errors.js';
import { createCrl } from '../../src/trust/crl.js';
import { loadHubTrust, type CrlReloadReport, type HubTrust } from '../../src/trust/hub-trust.js';
import { createDevCa, loadCertificate, type PemPair } from '../../src/trust/pki.js';

/**
 * The hub's trust as a running hub holds it: a certificate revoked (or a CRL refreshed) while the hub runs takes effect
 * at the next look at the CRL files, without a restart; a bad new CRL never replaces a good one. The clock of the CRL
 * checks is injected, so nothing here waits. Fictitious participants only.
 */

const PROVINCE = 'VN/GOV/000.00.00.H56/LIENTHONG';
const NATIONAL = 'VN/GOV/000.00.00.G22/NGSP';
const SERVICE = `${NATIONAL}/TraCuuThongTinCongDan`;
const INTERVAL = 30_000;
const DAY = 86_400_000;

let root: string;
let n = 0;
const opened: HubTrust[] = [];

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lienthong-hub-trust-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(async () => {
  vi.restoreAllMocks();
  while (opened.length > 0) await opened.pop()!.close();
});

/** A CA folder made as an operator makes it (`lienthong keys ca|issue|crl`), with a hub certificate per name. */
function keysFolder(names: Array<{ name: string; participant: string; usage?: string }>): string {
  const dir = join(root, `keys-${++n}`);
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  expect(keysCa({ out: dir, cn: 'Lienthong Test CA' })).toBe(0);
  for (const { name, participant, usage } of names) expect(keysIssue({ out: dir, caDir: dir, participant, cn: `hub-${name}`, name, ...(usage ? { usage } : {}) })).toBe(0);
  expect(keysCrl({ ca: join(dir, 'ca') })).toBe(0);
  return dir;
}

function hub(dir: string, name: string, participant: string, clock?: () => number, reports?: CrlReloadReport[]): HubTrust {
  const trust = loadHubTrust({
    participant,
    keyFile: join(dir, `${name}.key`),
    certificateFile: join(dir, `${name}.crt`),
    anchorFiles: [join(dir, 'ca.crt')],
    crlFiles: [join(dir, 'ca.crl.pem')],
    replayWindowMs: 300_000,
    crlCheckIntervalMs: INTERVAL,
    ...(clock ? { now: clock } : {}),
    ...(reports ? { onCrlReload: (report: CrlReloadReport) => void reports.push(report) } : {}),
  });
  opened.push(trust);
  return trust;
}

/** A request signed by `from`, verified by `to`: the participant it proves, or the code it is refused with. */
async function exchange(from: HubTrust, to: HubTrust): Promise<string> {
  const body = Buffer.from(JSON.stringify({ soDinhDanh: '038095999901', lan: ++n }));
  const headers = await from.sign(body, { messageId: `msg-${n}`, client: from.participant, service: SERVICE, time: new Date() });
  try {
    return (await to.verify(headers, body)).participant;
  } catch (error) {
    if (!isHubError(error)) throw error;
    return `${error.type}/${error.detail[0]?.code}`;
  }
}

function identifies(trust: HubTrust, certificateFile: string): string {
  try {
    return trust.identify(loadCertificate(readFileSync(certificateFile, 'utf8')), [], 'tls-client');
  } catch (error) {
    if (!isHubError(error)) throw error;
    return `${error.type}/${error.detail[0]?.code}`;
  }
}

/** Replaces a file as `keys revoke` does: written beside, then renamed over. */
function replace(path: string, content: string | Buffer): void {
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
}

describe('CRLs of a running hub', () => {
  it('refuses a certificate revoked with `keys revoke` while it runs, at the next look at the CRL file, without a restart', async () => {
    const dir = keysFolder([{ name: 'province', participant: PROVINCE }, { name: 'national', participant: NATIONAL }]);
    let clock = 1_000_000;
    const reports: CrlReloadReport[] = [];
    const national = hub(dir, 'national', NATIONAL, () => clock, reports);
    const province = hub(dir, 'province', PROVINCE);
    expect(await exchange(province, national)).toBe(PROVINCE);
    expect(identifies(national, join(dir, 'province.crt'))).toBe(PROVINCE);

    expect(keysRevoke({ ca: join(dir, 'ca'), cert: join(dir, 'province.crt'), reason: 'keyCompromise' })).toBe(0);
    // Until the next look (at most the interval), the CRL in force is the one read before.
    clock += INTERVAL - 1;
    expect(await exchange(province, national)).toBe(PROVINCE);
    clock += 1;
    expect(await exchange(province, national)).toBe('trust.certificate-invalid/revoked');
    expect(identifies(national, join(dir, 'province.crt'))).toBe('trust.certificate-invalid/revoked');
    expect(national.revision()).toBe(1); // a verdict cached before (an mTLS connection's identity) is now stale
    expect(reports).toEqual([{ loaded: [expect.objectContaining({ file: join(dir, 'ca.crl.pem'), crlNumber: '2', revoked: 1 })], refused: [] }]);
    // Nothing changed since: nothing is read again, nothing reported.
    clock += 5 * INTERVAL;
    expect(await exchange(province, national)).toBe('trust.certificate-invalid/revoked');
    expect(reports).toHaveLength(1);
    // The province hub's own store took the CRL too, on demand.
    expect(province.reloadCrls().loaded).toHaveLength(1);
  });

  it('takes a fresh CRL in place of a stale one (which fails closed until then), without a restart', async () => {
    const dir = keysFolder([{ name: 'province', participant: PROVINCE }, { name: 'national', participant: NATIONAL }]);
    const ca: PemPair = { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
    const now = Date.now();
    writeFileSync(join(dir, 'ca.crl.pem'), createCrl({ ca, revoked: [], crlNumber: 5, thisUpdate: new Date(now - 2 * DAY), nextUpdate: new Date(now - DAY) }).pem);
    let clock = 0;
    const national = hub(dir, 'national', NATIONAL, () => clock);
    const province = hub(dir, 'province', PROVINCE);
    expect(await exchange(province, national)).toBe('trust.certificate-invalid/crl-stale');
    replace(join(dir, 'ca.crl.pem'), createCrl({ ca, revoked: [], crlNumber: 6 }).pem);
    clock += INTERVAL;
    expect(await exchange(province, national)).toBe(PROVINCE);
  });

  it('keeps the CRL in force when the new file is unreadable, unsigned by the CA, another CA\'s, or older, and says why once', async () => {
    const dir = keysFolder([{ name: 'province', participant: PROVINCE }, { name: 'national', participant: NATIONAL }, { name: 'old', participant: 'VN/GOV/000.00.00.H22/LIENTHONG' }]);
    expect(keysRevoke({ ca: join(dir, 'ca'), cert: join(dir, 'old.crt') })).toBe(0); // CRL number 2, revoking "old"
    const ca: PemPair = { certPem: readFileSync(join(dir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(dir, 'ca.key'), 'utf8') };
    const crlFile = join(dir, 'ca.crl.pem');
    let clock = 0;
    const reports: CrlReloadReport[] = [];
    const national = hub(dir, 'national', NATIONAL, () => clock, reports);
    const revoked = join(dir, 'old.crt');
    expect(identifies(national, revoked)).toBe('trust.certificate-invalid/revoked');

    const attempts: Array<[string, string | Buffer | null, RegExp]> = [
      ['half a file', readFileSync(crlFile, 'utf8').slice(0, 200), /invalid CRL/],
      ['not a CRL', 'hello', /invalid CRL/],
      ['an impostor CA of the same name', createCrl({ ca: createDevCa({ commonName: 'Lienthong Test CA' }), revoked: [], crlNumber: 9 }).pem, /does not verify with the public key of "Lienthong Test CA"/],
      ['another CA', createCrl({ ca: createDevCa({ commonName: 'Some Other CA' }), revoked: [], crlNumber: 9 }).pem, /it is a CRL of ".*Some Other CA", but the file held the CRL of ".*Lienthong Test CA"/],
      ['an older CRL of the CA', createCrl({ ca, revoked: [], crlNumber: 1 }).pem, /older \(number 1\) than the CRL in force \(number 2\)/],
      ['no file', null, /cannot read the file \(ENOENT\)/],
    ];
    for (const [what, content, reason] of attempts) {
      if (content === null) unlinkSync(crlFile);
      else replace(crlFile, content);
      clock += INTERVAL;
      expect(identifies(national, revoked), what).toBe('trust.certificate-invalid/revoked');
      expect(reports.at(-1), what).toEqual({ loaded: [], refused: [{ file: crlFile, reason: expect.stringMatching(reason) }] });
    }
    const count = reports.length;
    clock += INTERVAL;
    expect(identifies(national, revoked)).toBe('trust.certificate-invalid/revoked');
    expect(reports).toHaveLength(count); // a refusal is reported once per version of the file
    // A genuine newer CRL is taken again.
    replace(crlFile, createCrl({ ca, revoked: [], crlNumber: 3 }).pem);
    clock += INTERVAL;
    expect(identifies(national, revoked)).toBe('VN/GOV/000.00.00.H22/LIENTHONG');
    // Without a listener, a refusal becomes a process warning.
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const quiet = loadHubTrust({ participant: NATIONAL, keyFile: join(dir, 'national.key'), certificateFile: join(dir, 'national.crt'), anchorFiles: [join(dir, 'ca.crt')], crlFiles: [crlFile], replayWindowMs: 300_000 });
    opened.push(quiet);
    replace(crlFile, 'garbage');
    expect(quiet.reloadCrls().refused).toHaveLength(1);
    expect(warnings).toHaveBeenCalledWith(expect.stringMatching(/^CRL .*ca\.crl\.pem not taken, the previous one stays in force: /), 'LienthongCrlWarning');
  });
});

describe('signatures between hubs', () => {
  it('refuses a signature by a TLS-only certificate naming the signer (--usage server or client), accepts the hub certificate', async () => {
    const dir = keysFolder([
      { name: 'national', participant: NATIONAL },
      { name: 'province', participant: PROVINCE },
      { name: 'web', participant: PROVINCE, usage: 'server' },
      { name: 'onegate', participant: PROVINCE, usage: 'client' },
    ]);
    const national = hub(dir, 'national', NATIONAL);
    expect(await exchange(hub(dir, 'province', PROVINCE), national)).toBe(PROVINCE);
    expect(await exchange(hub(dir, 'web', PROVINCE), national)).toBe('trust.certificate-invalid/bad-extended-key-usage');
    expect(await exchange(hub(dir, 'onegate', PROVINCE), national)).toBe('trust.certificate-invalid/bad-extended-key-usage');
    // TLS checks stay as they were: the client certificate still identifies its caller over mTLS.
    expect(identifies(national, join(dir, 'onegate.crt'))).toBe(PROVINCE);
  });
});
