import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openAuditStore } from '../../src/store/audit-store.js';
import { openMessageLog } from '../../src/store/open.js';
import { canonicalJson, checkCheckpoint, checkpointDigest, foldMessage, formatEvidenceReport, verifyEvidence, type EvidenceBundle, type EvidenceEntry } from '../../src/trust/evidence.js';
import { createTrustStore } from '../../src/trust/trust-store.js';
import { signMessage } from '../../src/trust/message-signature.js';
import { createDevCa, issueCertificate, loadPrivateKey, type PemPair } from '../../src/trust/pki.js';
import { batchSigner, localKeySigner, type Signer } from '../../src/trust/signer.js';

/**
 * The offline check of an evidence bundle: a genuine bundle passes and says who sent the message, when, and which
 * signed checkpoint covers it; any change to the bundle fails it. Bundles come from a real (SQLite) message log.
 * Fictitious data only.
 */

const HUB = 'VN/GOV/000.00.00.H56/LIENTHONG';
const PEER = 'VN/GOV/000.00.00.G22/LIENTHONG';
const sealer = createSealer(randomBytes(32));

let dir: string;
let ca: PemPair;
let hubPair: PemPair;
let otherCa: PemPair;
let hubSigner: Signer;
let peerSigner: Signer;
let bundle: EvidenceBundle;
let dropped: EvidenceBundle;

const body = Buffer.from(JSON.stringify({ maHoSo: '000.00.14.G22-261201-0007', trangThai: '4', hoTen: 'Lê Thị Mẫu' }), 'utf8');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lienthong-evidence-'));
  ca = createDevCa({ commonName: 'Lienthong Evidence Test CA' });
  otherCa = createDevCa({ commonName: 'Some Other CA' });
  const hub = issueCertificate({ ca, commonName: 'hub-h56', participant: HUB, usage: 'hub' });
  hubPair = hub;
  const peer = issueCertificate({ ca, commonName: 'hub-g22', participant: PEER, usage: 'hub' });
  hubSigner = batchSigner(localKeySigner(loadPrivateKey(hub.keyPem), [hub.certPem]));
  peerSigner = batchSigner(localKeySigner(loadPrivateKey(peer.keyPem), [peer.certPem]));

  // A peer hub's signed request, as the pipeline records it: the exact body, and its signature headers.
  const headers = await signMessage(peerSigner, body, { messageId: 'msg-g22-0007', client: PEER, service: `${HUB}/dossier-status/v1`, time: new Date() });
  const file = join(dir, 'log.sqlite');
  const log = await openMessageLog({ sqliteFile: file, sealer, audit: { signer: hubSigner, checkpointEvery: 3 } });
  const record = {
    messageType: 'DossierStatusChanged', participant: PEER, connector: 'hub-g22', operation: 'dossier-status', correlationId: 'corr-g22-7',
    receivedAt: Date.now(), state: 'accepted' as const, deliveries: 1, dossierCode: '000.00.14.G22-261201-0007', requestBytes: body.length,
  };
  await log.recordMessage({ ...record, id: 'msg-g22-0007', payload: body.toString('utf8'), signature: headers });
  await log.recordMessage({ ...record, id: 'msg-g22-0008', correlationId: 'corr-g22-8', payload: '{"khac":true}' });
  await log.recordEvents([
    { messageId: 'msg-g22-0007', deliveryId: 'dlv-1', destination: 'motcua.capNhat', at: Date.now(), kind: 'attempt', attempt: 1, succeeded: false, httpStatus: 502, durationMs: 31.5 },
    { messageId: 'msg-g22-0008', deliveryId: 'dlv-2', destination: 'motcua.capNhat', at: Date.now(), kind: 'delivered', succeeded: true },
    { messageId: 'msg-g22-0007', deliveryId: 'dlv-1', destination: 'motcua.capNhat', at: Date.now(), kind: 'delivered', attempt: 2, succeeded: true, httpStatus: 200 },
  ]);
  await log.setState('msg-g22-0007', 'delivered');
  await log.close();

  const audit = await openAuditStore({ sqliteFile: file });
  bundle = (await audit.exportEvidence('msg-g22-0007', { sealer }))!;
  await audit.close();

  // The same message once retention dropped its payload.
  const db = new Database(file);
  db.prepare('update messages set payload = null, payload_dropped = 1').run();
  db.close();
  const later = await openAuditStore({ sqliteFile: file });
  dropped = (await later.exportEvidence('msg-g22-0007', { sealer }))!;
  await later.close();
});

afterAll(async () => {
  await Promise.all([hubSigner?.close(), peerSigner?.close()]);
  rmSync(dir, { recursive: true, force: true });
});

/** Every string, number and boolean in the bundle, by path. */
function leaves(value: unknown, path: Array<string | number> = []): Array<Array<string | number>> {
  if (Array.isArray(value)) return value.flatMap((item, index) => leaves(item, [...path, index]));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([key, item]) => leaves(item, [...path, key]));
  return [path];
}

function altered(source: EvidenceBundle, path: Array<string | number>): EvidenceBundle {
  const copy = structuredClone(source) as unknown as Record<string | number, unknown>;
  let parent = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  const key = path[path.length - 1]!;
  const value = parent[key];
  parent[key] = typeof value === 'number' ? value + 1 : typeof value === 'boolean' ? !value : `${String(value).slice(0, -1)}${String(value).endsWith('A') ? 'B' : 'A'}`;
  return copy as unknown as EvidenceBundle;
}

describe('verifyEvidence', () => {
  it('passes a genuine bundle and reports who signed the message, when, and which checkpoint covers it', async () => {
    const report = await verifyEvidence(bundle, { anchors: [ca.certPem] });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.message).toMatchObject({ participant: PEER, state: 'delivered', dossierCode: '000.00.14.G22-261201-0007' });
    expect(report.signature).toMatchObject({ client: PEER, service: `${HUB}/dossier-status/v1`, verified: true });
    expect(report.signature!.signer).toContain('hub-g22');
    expect(report.checkpoints).toEqual([expect.objectContaining({ trusted: true, signer: expect.stringContaining(HUB) })]);
    const text = formatEvidenceReport(report);
    expect(text).toMatch(/^OK: evidence for message msg-g22-0007/);
    expect(text).toMatch(/signed as VN\/GOV\/000\.00\.00\.G22\/LIENTHONG/);
    expect(text).toMatch(/covered by checkpoint/);
  });

  it('holds the other message of the segment by digest only', () => {
    const text = JSON.stringify(bundle.segments);
    expect(text).not.toContain('msg-g22-0008');
    expect(text).not.toContain('corr-g22-8');
    const own = bundle.segments.flatMap((s) => s.entries).filter((e): e is EvidenceEntry => 'kind' in e);
    expect(own.map((e) => e.kind)).toEqual(['message', 'event', 'event', 'state']);
    expect(foldMessage(own)!.facts.state).toBe('delivered');
  });

  it('fails when any value of the bundle is changed', async () => {
    // exportedAt is a label, and pos only orders entries across chains (a changed pos is caught only when it
    // contradicts seq: see the next test).
    const paths = leaves(bundle).filter((path) => path[0] !== 'exportedAt' && !path.includes('pos'));
    expect(paths.length).toBeGreaterThan(60);
    const passed: string[] = [];
    for (const path of paths) {
      const report = await verifyEvidence(altered(bundle, path), { anchors: [ca.certPem] });
      if (report.ok) passed.push(path.join('.'));
    }
    expect(passed).toEqual([]);
  });

  it('fails when entries are reordered, removed, or added, or the bundle is malformed', async () => {
    const own = (b: EvidenceBundle) => b.segments[0]!.entries.filter((e): e is EvidenceEntry => 'kind' in e);
    const swapped = structuredClone(bundle);
    const [first, , , last] = own(swapped);
    [first!.pos, last!.pos] = [last!.pos, first!.pos];
    expect((await verifyEvidence(swapped)).checks).toContainEqual(expect.objectContaining({ name: 'commit order', ok: false }));

    const removed = structuredClone(bundle);
    removed.segments[0]!.entries.splice(2, 1);
    expect((await verifyEvidence(removed)).ok).toBe(false);

    const noEvent = structuredClone(bundle);
    noEvent.events.pop();
    expect((await verifyEvidence(noEvent)).checks).toContainEqual(expect.objectContaining({ name: 'events', ok: false, detail: expect.stringContaining('missing from the bundle') }));

    const noCheckpoint = structuredClone(bundle);
    delete noCheckpoint.segments[0]!.checkpoint;
    expect((await verifyEvidence(noCheckpoint)).checks).toContainEqual(expect.objectContaining({ ok: false, detail: expect.stringContaining('no signed checkpoint') }));

    for (const junk of [null, 'text', {}, { format: 'lienthong-evidence/1' }, { ...bundle, segments: [] }, { ...bundle, segments: [{ chainId: 'x' }] }]) {
      const report = await verifyEvidence(junk);
      expect(report.ok).toBe(false);
      expect(report.checks[0]!.name).toBe('bundle');
    }
  });

  it('refuses certificates that do not chain to the given anchors', async () => {
    const report = await verifyEvidence(bundle, { anchors: [otherCa.certPem] });
    expect(report.ok).toBe(false);
    expect(report.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual([expect.stringContaining('checkpoint signature'), 'message signature']);
    // Without anchors, signatures hold with the certificates carried, and the report says so.
    const open = await verifyEvidence(bundle);
    expect(open.ok).toBe(true);
    expect(formatEvidenceReport(open)).toMatch(/no trust anchor given/);
  });

  it('says loudly, on its first lines, that no trust anchor was checked when none is given', async () => {
    const open = await verifyEvidence(bundle);
    expect(open).toMatchObject({ ok: true, anchored: false });
    const [first, second] = formatEvidenceReport(open).split('\n');
    expect(first).toBe('OK, BUT NO TRUST ANCHOR CHECKED: evidence for message msg-g22-0007');
    expect(second).toMatch(/^ {2}WARNING: no trust anchor given \(--ca\): .*re-signed with a self-made certificate/);
    const anchored = await verifyEvidence(bundle, { anchors: [ca.certPem] });
    expect(anchored.anchored).toBe(true);
    expect(formatEvidenceReport(anchored)).not.toMatch(/WARNING/);
  });

  it('still proves the signature once the payload is dropped, from the journaled digest', async () => {
    expect(dropped.message.payload).toBeUndefined();
    const report = await verifyEvidence(dropped, { anchors: [ca.certPem] });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks).toContainEqual(expect.objectContaining({ name: 'payload', ok: true, detail: expect.stringContaining('no longer kept') }));
    expect(report.checks).toContainEqual(expect.objectContaining({ name: 'message signature', ok: true, detail: expect.stringContaining('digest matches the signed content-digest') }));
    // A forged digest in the row's journal entry breaks the chain; a signature over another body fails outright.
    const other = structuredClone(dropped);
    const entry = other.segments[0]!.entries.find((e): e is EvidenceEntry => 'kind' in e && e.kind === 'message')!;
    entry.facts = { ...entry.facts, payloadSha256: 'ab'.repeat(32) };
    expect((await verifyEvidence(other)).ok).toBe(false);
  });

  it('once the payload is dropped, still refuses a message signed by another participant than the one it names', async () => {
    // The national hub's key signs a request naming the province's participant as its client: a receiving hub refuses
    // that (trust.wrong-participant), and so must the audit, with or without the payload.
    const file = join(dir, 'mismatch.sqlite');
    const forged = await signMessage(hubSigner, body, { messageId: 'msg-g22-0099', client: PEER, service: `${HUB}/dossier-status/v1`, time: new Date() });
    const log = await openMessageLog({ sqliteFile: file, sealer, audit: { signer: hubSigner } });
    await log.recordMessage({
      id: 'msg-g22-0099', messageType: 'DossierStatusChanged', participant: PEER, connector: 'hub-g22', operation: 'dossier-status', correlationId: 'corr-g22-99',
      receivedAt: Date.now(), state: 'accepted', deliveries: 1, requestBytes: body.length, payload: body.toString('utf8'), signature: forged,
    });
    await log.close();
    const exportOf = async () => {
      const audit = await openAuditStore({ sqliteFile: file });
      try {
        return (await audit.exportEvidence('msg-g22-0099', { sealer }))!;
      } finally {
        await audit.close();
      }
    };
    const kept = await verifyEvidence(await exportOf(), { anchors: [ca.certPem] });
    expect(kept.checks).toContainEqual(expect.objectContaining({ name: 'message signature', ok: false, detail: expect.stringContaining('another participant than x-lienthong-client') }));
    const db = new Database(file);
    db.prepare('update messages set payload = null, payload_dropped = 1').run();
    db.close();
    const withoutPayload = await exportOf();
    expect(withoutPayload.message.payload).toBeUndefined();
    const report = await verifyEvidence(withoutPayload, { anchors: [ca.certPem] });
    expect(report.ok).toBe(false);
    expect(report.checks).toContainEqual(expect.objectContaining({ name: 'message signature', ok: false, detail: expect.stringContaining('another participant than x-lienthong-client') }));
  });

  it('checks a checkpoint signed inside a batch of the hub signer, by its own Merkle proof', async () => {
    const serial = batchSigner(localKeySigner(loadPrivateKey(hubPair.keyPem), [hubPair.certPem]), { parallel: 1 });
    const checkpoints = [1, 2, 3].map((seq) => ({ chainId: 'lt-test', seq, hash: 'ab'.repeat(32), at: Date.now() }));
    const signed = await Promise.all(checkpoints.map((cp) => serial.sign(checkpointDigest(cp))));
    await serial.close();
    expect(signed[2]!.proof).not.toBe(''); // the 2nd and 3rd waited and were signed together
    const record = (i: number, proof = signed[i]!.proof) => ({ ...checkpoints[i]!, jws: signed[i]!.jws, proof, certificates: serial.x5c });
    expect(await checkCheckpoint(record(2), createTrustStore({ anchors: [ca.certPem] }))).toMatchObject({ ok: true, trusted: true });
    expect(await checkCheckpoint(record(2, signed[1]!.proof))).toMatchObject({ ok: false, code: 'checkpoint-signature' });
    expect(await checkCheckpoint({ ...record(1), seq: 9 })).toMatchObject({ ok: false, code: 'checkpoint-signature' });
  });

  it('uses one canonical JSON: sorted keys, no spaces, no undefined members', () => {
    expect(canonicalJson({ b: 1, a: [true, null, 'x'], c: undefined, d: { z: 1.5, y: -0 } })).toBe('{"a":[true,null,"x"],"b":1,"d":{"y":0,"z":1.5}}');
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError);
  });
});
