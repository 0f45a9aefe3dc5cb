import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openMessageLog } from '../../src/store/open.js';
import { createDevCa, issueCertificate, loadPrivateKey } from '../../src/trust/pki.js';
import { batchSigner, localKeySigner } from '../../src/trust/signer.js';

/** `lienthong audit verify|export|check` as an auditor runs them, against a hub's SQLite store. Fictitious data. */

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..', '..');
const BIN = join(REPO, 'bin', 'lienthong.js');
const HUB = 'VN/GOV/000.00.00.H56/LIENTHONG';

let dir: string;
let root: string;
let file: string;
let caFile: string;
let otherCaFile: string;
let caKey: string;
const key = randomBytes(32);

/** The CLI's environment: no DATABASE_URL (the store is named on the command line), the data key only when asked. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, LIENTHONG_DATA_KEY: _key, LIENTHONG_DATA_DIR: _dir, ...rest } = process.env;
  return { ...rest, ...extra };
}

async function cli(args: string[], extra: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: env(extra), cwd: dir });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lienthong-audit-cli-'));
  root = join(dir, 'hub');
  mkdirSync(join(root, '.data'), { recursive: true });
  file = join(root, '.data', 'log.sqlite');
  // The hub's generated data key, beside its log, as hub.ts writes it.
  writeFileSync(join(root, '.data', 'data.key'), key.toString('base64'), { mode: 0o600 });
  const ca = createDevCa({ commonName: 'Lienthong CLI Test CA' });
  caKey = ca.keyPem;
  caFile = join(dir, 'ca.crt');
  writeFileSync(caFile, ca.certPem);
  otherCaFile = join(dir, 'other-ca.crt');
  writeFileSync(otherCaFile, createDevCa({ commonName: 'Another CA' }).certPem);
  const hub = issueCertificate({ ca, commonName: 'hub-h56', participant: HUB, usage: 'hub' });
  const signer = batchSigner(localKeySigner(loadPrivateKey(hub.keyPem), [hub.certPem]));
  const log = await openMessageLog({ sqliteFile: file, sealer: createSealer(key), audit: { signer } });
  for (let i = 1; i <= 3; i++) {
    await log.recordMessage({
      id: `msg-cli-${i}`, messageType: 'DossierSubmitted', participant: 'VN/GOV/000.00.00.H56/MOTCUA', connector: 'motcua-hanoi', operation: 'nopHoSo',
      dossierCode: `000.00.00.H56-261201-000${i}`, correlationId: `corr-cli-${i}`, receivedAt: Date.now(), state: 'accepted', deliveries: 1,
      payload: JSON.stringify({ hoTen: 'Phạm Văn Mẫu', so: i }),
    });
    await log.recordEvents([{ messageId: `msg-cli-${i}`, deliveryId: `dlv-${i}`, destination: 'dvcqg.nopHoSo', at: Date.now(), kind: 'delivered', succeeded: true, httpStatus: 200 }]);
  }
  await log.close();
  await signer.close();
}, 60_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('lienthong audit', () => {
  it('verify: exit 0 on an intact log, with its chains and what was checked', async () => {
    const out = await cli(['--root', root, 'audit', 'verify', '--ca', caFile]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^chain lt-\S+: seq 1\.\.7, 1 checkpoint\(s\), sealed up to seq 7, signed by "hub-h56" \(VN\/GOV\/000\.00\.00\.H56\/LIENTHONG\)/m);
    expect(out.stdout).toMatch(/^ok: 1 chain\(s\), 7 entries, 1 checkpoint\(s\), 3 message\(s\), 3 event\(s\), 0 access change\(s\)$/m);
    // The data key was found beside the log, so payloads were checked too.
    expect(out.stdout).not.toMatch(/no data key/);
    // The store was opened read-only: nothing was added.
    expect(new Database(file, { readonly: true }).prepare('select count(*) as n from journal').get()).toEqual({ n: 7 });
  }, 30_000);

  it('export, then check offline: exit 0 and a readable report; a changed bundle fails', async () => {
    const bundleFile = join(dir, 'msg-cli-2.json');
    const exported = await cli(['audit', 'export', 'msg-cli-2', '--sqlite', file, '--out', bundleFile], { LIENTHONG_DATA_KEY: key.toString('base64') });
    expect(exported.stderr).toBe('');
    expect(exported.code).toBe(0);
    expect(exported.stdout).toMatch(/^wrote .*msg-cli-2\.json: message msg-cli-2, 1 event\(s\), 1 journal segment\(s\)$/m);
    expect(exported.stdout).toMatch(/covered by checkpoint lt-\S+ seq 7/);
    expect(statSync(bundleFile).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(bundleFile, 'utf8')).message.payload).toContain('Phạm Văn Mẫu');

    const checked = await cli(['audit', 'check', bundleFile, '--ca', caFile]);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/^OK: evidence for message msg-cli-2$/m);
    expect(checked.stdout).toMatch(/DossierSubmitted from VN\/GOV\/000\.00\.00\.H56\/MOTCUA via motcua-hanoi\.nopHoSo/);
    expect(checked.stdout).toMatch(/covered by checkpoint lt-\S+ seq 7 at \S+, signed by "hub-h56" .*\(trusted\)/);

    const untrusted = await cli(['audit', 'check', bundleFile, '--ca', otherCaFile]);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stdout).toMatch(/^FAILED: evidence for message msg-cli-2$/m);

    const bundle = JSON.parse(readFileSync(bundleFile, 'utf8'));
    bundle.message.dossierCode = '000.00.00.H56-261201-9999';
    writeFileSync(bundleFile, JSON.stringify(bundle));
    const changed = await cli(['audit', 'check', bundleFile, '--ca', caFile]);
    expect(changed.code).toBe(1);
    expect(changed.stdout).toMatch(/FAIL message: the message row differs from its journal entries in dossierCode/);
  }, 30_000);

  it('verify: exit 1 naming table, id and seq of each change', async () => {
    const copy = join(dir, 'tampered.sqlite');
    writeFileSync(copy, readFileSync(file));
    const db = new Database(copy);
    const event = db.prepare("select id from events where message_id = 'msg-cli-1'").get() as { id: number };
    db.prepare('update events set http_status = 500 where id = ?').run(event.id);
    db.prepare("delete from messages where id = 'msg-cli-3'").run();
    db.close();
    const out = await cli(['audit', 'verify', '--sqlite', copy, '--ca', caFile]);
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(new RegExp(`^EDITED events id=${event.id} chain=lt-\\S+ seq=3: httpStatus differs from the journal$`, 'm'));
    expect(out.stdout).toMatch(/^DELETED messages id=msg-cli-3 chain=lt-\S+ seq=6: /m);
    expect(out.stdout).toMatch(/^FAILED: 2 finding\(s\)/m);
  }, 30_000);

  it("verify: finds the log in the data folder that the root's config/hub.yaml names (store.dataDir)", async () => {
    const other = join(dir, 'hub-elsewhere');
    mkdirSync(join(other, 'config'), { recursive: true });
    mkdirSync(join(other, 'state', 'store'), { recursive: true });
    writeFileSync(join(other, 'state', 'store', 'log.sqlite'), readFileSync(file));
    writeFileSync(join(other, 'config', 'hub.yaml'), 'store:\n  dataDir: ${HUB_STATE:-state}/store\n');
    const out = await cli(['--root', other, 'audit', 'verify', '--ca', caFile]);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^ok: 1 chain\(s\), 7 entries/m);
    // The variable moves it as it moves the hub's.
    const moved = await cli(['--root', other, 'audit', 'verify'], { HUB_STATE: 'gone' });
    expect(moved.code).toBe(2);
    expect(moved.stderr).toContain(join(other, 'gone', 'store', 'log.sqlite'));
  }, 30_000);

  it('verify: a hub.yaml without store.dataDir means .data, as for the hub, whatever LIENTHONG_DATA_DIR says', async () => {
    const plain = join(dir, 'hub-no-store');
    mkdirSync(join(plain, 'config'), { recursive: true });
    mkdirSync(join(plain, '.data'), { recursive: true });
    writeFileSync(join(plain, '.data', 'log.sqlite'), readFileSync(file));
    writeFileSync(join(plain, 'config', 'hub.yaml'), 'hub:\n  id: VN/GOV/000.00.00.G22/NGSP\n  name: x\nroutes: []\n');
    const out = await cli(['--root', plain, 'audit', 'verify', '--ca', caFile], { LIENTHONG_DATA_DIR: join(dir, 'unused') });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^ok: 1 chain\(s\), 7 entries/m);
  }, 30_000);

  it('verify: prints the head it verified, writes it (--write-head), and compares a cut-back log with it (--expect-head)', async () => {
    const cutFile = join(dir, 'cut.sqlite');
    const hub = issueCertificate({ ca: { certPem: readFileSync(caFile, 'utf8'), keyPem: caKey }, commonName: 'hub-h56', participant: HUB, usage: 'hub' });
    const signer = batchSigner(localKeySigner(loadPrivateKey(hub.keyPem), [hub.certPem]));
    const log = await openMessageLog({ sqliteFile: cutFile, sealer: createSealer(key), audit: { signer, checkpointEvery: 3 } });
    for (let i = 1; i <= 9; i++) {
      await log.recordMessage({ id: `msg-cut-${i}`, messageType: 'DossierSubmitted', participant: 'VN/GOV/000.00.00.H56/MOTCUA', connector: 'motcua-hanoi', operation: 'nopHoSo', correlationId: `corr-cut-${i}`, receivedAt: Date.now(), state: 'accepted', deliveries: 1 });
    }
    await log.close();
    await signer.close();

    const headFile = join(dir, 'head.json');
    const intact = await cli(['audit', 'verify', '--sqlite', cutFile, '--ca', caFile, '--write-head', headFile], { LIENTHONG_DATA_KEY: key.toString('base64') });
    expect(intact.stderr).toBe('');
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/^head: chain lt-\S+ seq 10 hash [0-9a-f]{64}, last checkpoint seq 10 at \d{4}-\d\d-\d\dT\S+Z$/m);
    expect(intact.stdout).toMatch(/^note: the log alone cannot show that a chain was not cut back to an earlier checkpoint/m);
    expect(intact.stdout).toMatch(/^wrote .*head\.json: the head of 1 chain\(s\)/m);
    const saved = JSON.parse(readFileSync(headFile, 'utf8'));
    expect(saved).toMatchObject({ format: 'lienthong-journal-head/1', takenAt: expect.any(String), chains: [{ seq: 10, hash: expect.stringMatching(/^[0-9a-f]{64}$/) }] });
    expect((await cli(['audit', 'verify', '--sqlite', cutFile, '--write-head', headFile])).code).toBe(2); // no overwrite without --force

    // Cut back to the first checkpoint (seq 3), its later checkpoints and rows deleted, and SQLite's counter reset too.
    const db = new Database(cutFile);
    db.prepare("delete from messages where id in (select ref from journal where seq > 3 and kind = 'message')").run();
    db.prepare('delete from journal where seq > 3').run();
    db.prepare('delete from checkpoints where seq > 3').run();
    db.prepare("update sqlite_sequence set seq = 3 where name = 'journal'").run();
    db.close();
    // The store alone cannot show it: verify passes, and prints the shorter head for whoever compares.
    const alone = await cli(['audit', 'verify', '--sqlite', cutFile, '--ca', caFile], { LIENTHONG_DATA_KEY: key.toString('base64') });
    expect(alone.code).toBe(0);
    expect(alone.stdout).toMatch(/^head: chain lt-\S+ seq 3 hash [0-9a-f]{64}, last checkpoint seq 3 at /m);
    // Against the head saved before, it fails, naming what was cut.
    const compared = await cli(['audit', 'verify', '--sqlite', cutFile, '--ca', caFile, '--expect-head', headFile], { LIENTHONG_DATA_KEY: key.toString('base64') });
    expect(compared.code).toBe(1);
    expect(compared.stdout).toMatch(/^DELETED journal chain=lt-\S+ seq=10: the head saved earlier \(taken \S+\) names seq 10 of this chain, which now ends at seq 3: entries 4\.\.10 were deleted/m);
    expect(compared.stdout).not.toMatch(/^head: /m);
    // A saved head that cannot be read, or is not one, is bad usage.
    expect((await cli(['audit', 'verify', '--sqlite', file, '--expect-head', join(dir, 'no-such-head.json')])).code).toBe(2);
    writeFileSync(join(dir, 'bad-head.json'), '{"format":"something-else"}');
    const bad = await cli(['audit', 'verify', '--sqlite', cutFile, '--expect-head', join(dir, 'bad-head.json')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not a saved journal head/);
  }, 60_000);

  it('check without --ca: says on its first line that no trust anchor was checked', async () => {
    const bundleFile = join(dir, 'msg-cli-1.json');
    expect((await cli(['audit', 'export', 'msg-cli-1', '--sqlite', file, '--out', bundleFile], { LIENTHONG_DATA_KEY: key.toString('base64') })).code).toBe(0);
    const checked = await cli(['audit', 'check', bundleFile]);
    expect(checked.code).toBe(0);
    expect(checked.stdout).toMatch(/^OK, BUT NO TRUST ANCHOR CHECKED: evidence for message msg-cli-1\n {2}WARNING: no trust anchor given \(--ca\)/);
  }, 30_000);

  it('exit 2 on bad usage', async () => {
    expect((await cli(['audit', 'verify', '--sqlite', file, '--database-url', 'postgres://x@127.0.0.1/db'])).code).toBe(2);
    expect((await cli(['audit', 'verify', '--database-url', 'mysql://x'])).code).toBe(2);
    const missing = await cli(['audit', 'verify', '--sqlite', join(dir, 'nope.sqlite')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no message log at/);
    expect((await cli(['audit', 'export', 'msg-cli-1', '--sqlite', file])).stderr).toMatch(/--out <file.json> is required/);
    expect((await cli(['audit', 'check', join(dir, 'nope.json')])).code).toBe(2);
    expect((await cli(['audit', 'verify', '--sqlite', file, '--ca', join(dir, 'nope.crt')])).code).toBe(2);
  }, 60_000);
});
