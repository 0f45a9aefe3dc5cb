import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSealer } from '../../src/core/seal.js';
import { openAuditStore, type AuditFinding, type AuditReport, type VerifyJournalOptions } from '../../src/store/audit-store.js';
import { openMessageLog, type StoreMessageLog } from '../../src/store/open.js';
import type { MessageRecord } from '../../src/store/types.js';
import type { AccessChangeRecord } from '../../src/trust/access.js';
import { canonicalJson, chainHash, checkpointDigest, entryDigest, genesisHash, verifyEvidence } from '../../src/trust/evidence.js';
import { createDevCa, issueCertificate, loadPrivateKey, type PemPair } from '../../src/trust/pki.js';
import { batchSigner, localKeySigner, type Signer } from '../../src/trust/signer.js';
import type { LogOptions, TestStore } from './log-behaviour.js';

/**
 * The tamper-evident journal on every database the log runs on: the chain grows with every write, and each kind of
 * tampering done with raw SQL (as a database administrator could) is found and named by `verify`.
 * Fictitious data only.
 */

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 15, 8, 0, 0);
const HUB = 'VN/GOV/000.00.00.H56/LIENTHONG';

let n = 0;
function message(over: Partial<MessageRecord> = {}): MessageRecord {
  n++;
  return {
    id: `aud-${String(n).padStart(6, '0')}`,
    messageType: 'DossierStatusChanged',
    routeId: 'status-to-dvcqg',
    participant: 'VN/GOV/000.00.00.H56/MOTCUA',
    connector: 'motcua-hanoi',
    operation: 'capNhatTrangThai',
    dossierCode: `000.00.00.H56-260115-${String(n).padStart(4, '0')}`,
    correlationId: `corr-aud-${n}`,
    receivedAt: T0 + n,
    requestBytes: 812,
    state: 'accepted',
    deliveries: 1,
    ...over,
  };
}

const grant: AccessChangeRecord = {
  at: '2026-01-15T08:00:00.000Z',
  actor: 'quan-tri-h56',
  action: 'grant',
  service: 'VN/GOV/000.00.00.G22/NGSP/citizen-lookup',
  subject: 'VN/GOV/000.00.00.H56/MOTCUA',
  operations: ['lookup'],
};

type Row = Record<string, unknown>;

export function describeAuditJournal(label: string, makeStore: () => Promise<TestStore>): void {
  describe(`audit journal on ${label}`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    const sealer = createSealer(randomBytes(32));
    let ca: PemPair;
    let signer: Signer;
    let stranger: Signer;

    beforeAll(() => {
      ca = createDevCa({ commonName: 'Lienthong Audit Test CA' });
      const hub = issueCertificate({ ca, commonName: 'hub-h56', participant: HUB, usage: 'hub' });
      signer = batchSigner(localKeySigner(loadPrivateKey(hub.keyPem), [hub.certPem]));
      const otherCa = createDevCa({ commonName: 'Not The Hub CA' });
      const forged = issueCertificate({ ca: otherCa, commonName: 'hub-h56', participant: HUB, usage: 'hub' });
      stranger = batchSigner(localKeySigner(loadPrivateKey(forged.keyPem), [forged.certPem]));
    });
    afterAll(async () => {
      await signer.close();
      await stranger.close();
    });
    afterEach(async () => {
      while (cleanups.length > 0) await cleanups.pop()!();
    });

    async function fresh(): Promise<TestStore> {
      const store = await makeStore();
      cleanups.push(() => store.dispose());
      return store;
    }

    async function open(store: TestStore, opts: LogOptions = {}): Promise<StoreMessageLog> {
      const log = await openMessageLog({ ...store.location, sealer, ...opts, audit: { signer, ...opts.audit } });
      cleanups.push(() => log.close());
      return log;
    }

    async function verify(store: TestStore, opts: VerifyJournalOptions = {}): Promise<AuditReport> {
      const audit = await openAuditStore(store.location);
      try {
        return await audit.verify({ sealer, anchors: [ca.certPem], pageSize: 7, ...opts });
      } finally {
        await audit.close();
      }
    }

    /** Three messages, their events, state changes and an access change; the log is closed (so sealed) afterwards. */
    async function seeded(opts: LogOptions = {}) {
      const store = await fresh();
      const log = await open(store, opts);
      const a = message({ payload: JSON.stringify({ hoTen: 'Nguyễn Văn Thử', soDinhDanh: '001099999985' }) });
      const b = message({ payload: '{"soHoSo":2}', deliveries: 2 });
      const c = message({ state: 'rejected', deliveries: 0, reason: 'schema.invalid' });
      await Promise.all([a, b, c].map((m) => log.recordMessage(m)));
      await log.recordEvents([
        { messageId: a.id, deliveryId: 'dlv-a1', destination: 'dvcqg.capNhatTrangThai', at: T0 + 100, kind: 'attempt', attempt: 1, succeeded: false, httpStatus: 503, durationMs: 12.75, errorType: 'transport.unavailable' },
        { messageId: a.id, deliveryId: 'dlv-a1', destination: 'dvcqg.capNhatTrangThai', at: T0 + 200, kind: 'delivered', attempt: 2, succeeded: true, httpStatus: 200 },
        { messageId: b.id, deliveryId: 'dlv-b1', destination: 'emc.ghiNhan', at: T0 + 300, kind: 'dead-lettered', reason: 'gave up after 2 attempts' },
      ]);
      await log.setState(a.id, 'delivered');
      await log.setState(b.id, 'partially-delivered', 'one destination dead-lettered');
      await log.recordAccessChange(grant);
      await log.close();
      return { store, a, b, c };
    }

    const entryOf = async (store: TestStore, kind: string, ref: string): Promise<Row> => {
      const [row] = await store.raw('select chain_id, seq, facts, hash from journal where kind = ? and ref = ? order by pos desc', [kind, ref]);
      return row!;
    };
    const eventId = async (store: TestStore, messageId: string, kind: string) => Number((await store.raw('select id from events where message_id = ? and kind = ?', [messageId, kind]))[0]!.id);
    const finding = (over: Partial<AuditFinding>) => expect.objectContaining(over);

    it('journals every kind of write in its own transaction, and the sealed chain verifies', async () => {
      const { store, a, b } = await seeded();
      const entries = await store.raw('select seq, at, kind, ref, facts, digest, hash, chain_id from journal order by pos');
      expect(entries.map((e) => e.kind)).toEqual(['open', 'message', 'message', 'message', 'event', 'event', 'event', 'state', 'state', 'access']);
      // Recompute the chain from the genesis, as any verifier can.
      let hash = genesisHash(String(entries[0]!.chain_id));
      entries.forEach((e, i) => {
        expect(Number(e.seq)).toBe(i + 1);
        const digest = entryDigest({ at: Number(e.at), kind: String(e.kind), ref: String(e.ref) }, canonicalJson(JSON.parse(String(e.facts))));
        expect(e.digest).toBe(digest);
        hash = chainHash(hash, digest);
        expect(e.hash).toBe(hash);
      });
      // Facts hold a digest of the payload, never the payload.
      const facts = JSON.parse(String(entries[1]!.facts)) as Record<string, unknown>;
      expect(facts).toMatchObject({ id: a.id, dossierCode: a.dossierCode, receivedAt: a.receivedAt, payloadSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(JSON.stringify(entries)).not.toContain('001099999985');
      expect(JSON.parse(String(entries[8]!.facts))).toMatchObject({ id: b.id, state: 'partially-delivered', reason: 'one destination dead-lettered' });
      // Closing sealed the head.
      const [checkpoint] = await store.raw('select seq, hash from checkpoints');
      expect(Number(checkpoint!.seq)).toBe(10);
      expect(checkpoint!.hash).toBe(hash);

      const report = await verify(store);
      expect(report.findings).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.totals).toMatchObject({ entries: 10, checkpoints: 1, messages: 3, events: 3, accessChanges: 1 });
      expect(report.chains).toEqual([expect.objectContaining({ firstSeq: 1, lastSeq: 10, sealedUpTo: 10 })]);
      expect(report.chains[0]!.signers[0]).toContain(HUB);
    });

    it('states nothing for a write that changed nothing, and keeps the chain whole when a batch fails', async () => {
      const store = await fresh();
      const log = await open(store, { batchWindowMs: 20 });
      const m = message();
      const results = await Promise.allSettled([
        log.recordMessage(m),
        log.recordEvents([{ messageId: null as unknown as string, at: T0, kind: 'received' }]),
        log.setState('no-such-message', 'delivered'),
        log.setState(m.id, 'delivered'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
      await log.close();
      expect((await store.raw('select kind from journal order by pos')).map((e) => e.kind)).toEqual(['open', 'message', 'state']);
      expect((await verify(store)).findings).toEqual([]);
    });

    it('settles many messages with one statement per run of equal states, each still journaled as its own change', async () => {
      const store = await fresh();
      const log = await open(store, { batchWindowMs: 50 });
      const messages = Array.from({ length: 230 }, () => message({ deliveries: 1 }));
      await Promise.all(messages.map((m) => log.recordMessage(m)));
      // The first 200 were delivered, the next 30 dead-lettered: two runs, of two states.
      await log.recordEvents(messages.map((m, i) => ({ messageId: m.id, deliveryId: `dlv-${m.id}`, destination: 'dvcqg.capNhatTrangThai', at: T0 + 1000 + i, kind: i < 200 ? 'delivered' as const : 'dead-lettered' as const })));
      expect(await log.settle([...messages.map((m) => m.id), 'no-such-message'])).toBe(230);
      // The same message twice in one batch: two writes, two entries (the second changes nothing visible, but happened).
      const again = messages[0]!;
      await Promise.all([log.setState(again.id, 'discarded', 'operator'), log.setState(again.id, 'discarded', 'operator')]);
      await log.close();
      const states = await store.raw("select ref, facts from journal where kind = 'state' order by pos");
      expect(states.map((e) => e.ref)).toEqual([...messages.map((m) => m.id), again.id, again.id]);
      expect(states.slice(0, 200).every((e) => JSON.parse(String(e.facts)).state === 'delivered')).toBe(true);
      expect(states.slice(200, 230).every((e) => JSON.parse(String(e.facts)).state === 'dead-lettered')).toBe(true);
      const rows = await store.raw("select state, count(*) as n from messages group by state order by state");
      expect(rows.map((r) => [r.state, Number(r.n)])).toEqual([['dead-lettered', 30], ['delivered', 199], ['discarded', 1]]);
      expect((await verify(store)).findings).toEqual([]);
    });

    it('journals the states derived from events: a row written after its delivery ended, a replay, a delivery by another writer', async () => {
      const store = await fresh();
      const hubA = await open(store, { batchWindowMs: 0 });
      const hubB = await open(store, { batchWindowMs: 0, now: () => Date.now() - 30 });
      const m = message({ deliveries: 1 });
      const delivery = { messageId: m.id, deliveryId: `dlv-${m.id}`, destination: 'dvcqg.capNhatTrangThai' };
      await hubB.recordEvents([{ ...delivery, at: T0 + 10, kind: 'dead-lettered', reason: 'gave up' }]);
      await hubB.settle([m.id]);
      await hubA.recordMessage(m); // arrives late: takes its state from the events, stated as its own entry
      await hubA.recordEvents([{ ...delivery, at: T0 + 40, kind: 'replayed', actor: 'loopback (x-admin-actor: tran.van.thu)' }]);
      await hubA.settle([m.id]);
      await hubB.recordEvents([{ ...delivery, at: T0 + 30, kind: 'delivered' }]);
      await hubB.settle([m.id]);
      await hubA.settle([m.id]); // late, and changes nothing
      await Promise.all([hubA.close(), hubB.close()]);
      const entries = await store.raw("select kind, facts from journal where ref = ? and kind in ('message', 'state') order by pos", [m.id]);
      expect(entries.map((e) => [e.kind, JSON.parse(String(e.facts)).state])).toEqual([['message', 'accepted'], ['state', 'dead-lettered'], ['state', 'accepted'], ['state', 'delivered']]);
      expect((await store.raw('select state from messages where id = ?', [m.id]))[0]!.state).toBe('delivered');
      expect((await verify(store)).findings).toEqual([]);
      // Who replayed is a fact of the journal too: changing it afterwards is named.
      const replay = await eventId(store, m.id, 'replayed');
      await store.exec('update events set actor = ? where id = ?', ['loopback (x-admin-actor: ai.khac)', replay]);
      expect((await verify(store)).findings).toEqual([finding({ code: 'edited', table: 'events', id: String(replay), detail: expect.stringContaining('actor') })]);
    });

    it('replays a re-recorded message as the upsert does, and signs at the pace asked, not once per commit', async () => {
      const store = await fresh();
      const log = await open(store, { batchWindowMs: 0, audit: { checkpointEvery: 50 } });
      const first = message({ state: 'received', deliveries: 0, payload: '{"v":1}' });
      await log.recordMessage(first);
      await log.recordMessage({ ...first, receivedAt: first.receivedAt + 777, state: 'accepted', deliveries: 2, payload: undefined, routeId: undefined, reason: 'mapped' });
      for (let i = 0; i < 300; i++) await log.recordEvents([{ messageId: first.id, at: T0 + i, kind: 'attempt', attempt: i }]);
      await log.close();
      const checkpoints = Number((await store.raw('select count(*) as n from checkpoints'))[0]!.n);
      expect(checkpoints).toBeGreaterThanOrEqual(3);
      expect(checkpoints).toBeLessThanOrEqual(12);
      const report = await verify(store);
      expect(report.findings).toEqual([]);
      expect(report.chains[0]!.sealedUpTo).toBe(report.chains[0]!.lastSeq);
    });

    it('keeps hub-to-hub signature headers (and only those) and access changes in order', async () => {
      const store = await fresh();
      const log = await open(store);
      const m = message({
        signature: {
          'X-Lienthong-Message-Id': 'msg-1',
          'content-digest': 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
          'x-lienthong-signature': 'eyJhbGciOiJSUzI1NiJ9..c2ln',
          authorization: 'Bearer bi-mat',
        },
      });
      await log.recordMessage(m);
      const revoke: AccessChangeRecord = { ...grant, action: 'revoke', at: '2026-01-16T08:00:00.000Z', reason: 'hết hạn' };
      await log.recordAccessChange(grant);
      await log.recordAccessChange(revoke);
      expect(await log.accessChanges()).toEqual([grant, revoke]);
      const [row] = await store.raw('select signature from messages where id = ?', [m.id]);
      expect(JSON.parse(String(row!.signature))).toEqual({
        'content-digest': 'sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:',
        'x-lienthong-message-id': 'msg-1',
        'x-lienthong-signature': 'eyJhbGciOiJSUzI1NiJ9..c2ln',
      });
      expect(JSON.stringify(await store.raw('select * from journal'))).not.toContain('bi-mat');
      await log.close();
      expect((await verify(store)).ok).toBe(true);
    });

    describe('names each tampering', () => {
      it('an edited event', async () => {
        const { store, a } = await seeded();
        const id = await eventId(store, a.id, 'attempt');
        await store.exec('update events set http_status = 200 where id = ?', [id]);
        const report = await verify(store);
        const entry = (await store.raw('select seq from journal where kind = ? and ref = ? order by pos', ['event', a.id]))[0]!;
        expect(report.findings).toEqual([finding({ code: 'edited', table: 'events', id: String(id), seq: Number(entry.seq), detail: expect.stringContaining('httpStatus') })]);
        expect(report.ok).toBe(false);
      });

      it('an edited message fact and an edited state', async () => {
        const { store, a, b } = await seeded();
        await store.exec('update messages set dossier_code = ? where id = ?', ['000.00.00.H56-260115-9999', a.id]);
        await store.exec('update messages set state = ? where id = ?', ['delivered', b.id]);
        const report = await verify(store);
        const stateEntry = await entryOf(store, 'state', b.id);
        const messageEntry = await entryOf(store, 'message', a.id);
        expect(report.findings).toEqual([
          finding({ code: 'edited', table: 'messages', id: a.id, seq: Number(messageEntry.seq), detail: 'dossierCode differs from the journal' }),
          finding({ code: 'edited', table: 'messages', id: b.id, seq: Number(stateEntry.seq), detail: 'state differs from the journal' }),
        ]);
      });

      it('an edited payload digest in the journal, and a payload replaced by someone holding the data key', async () => {
        const { store, a, b } = await seeded();
        const entry = await entryOf(store, 'message', a.id);
        const facts = JSON.parse(String(entry.facts)) as Record<string, unknown>;
        await store.exec('update journal set facts = ? where chain_id = ? and seq = ?', [canonicalJson({ ...facts, payloadSha256: '0'.repeat(64) }), entry.chain_id, entry.seq]);
        await store.exec('update messages set payload = ? where id = ?', [sealer.seal('{"soHoSo":3}', b.id), b.id]);
        const report = await verify(store);
        expect(report.findings).toContainEqual(finding({ code: 'edited', table: 'journal', id: a.id, seq: Number(entry.seq) }));
        expect(report.findings).toContainEqual(finding({ code: 'edited', table: 'messages', id: b.id, detail: expect.stringContaining('payload differs') }));
        // Without the data key, the changed journal entry is still found (the chain), the re-sealed payload is not.
        const blind = await verify(store, { sealer: undefined });
        expect(blind.findings.map((f) => [f.table, f.id])).toEqual([['journal', a.id]]);
        expect(blind.notices.join(' ')).toMatch(/no data key/);
      });

      it('a deleted event and a deleted message', async () => {
        const { store, a, c } = await seeded();
        const id = await eventId(store, a.id, 'delivered');
        await store.exec('delete from events where id = ?', [id]);
        await store.exec('delete from messages where id = ?', [c.id]);
        const report = await verify(store);
        const cEntry = await entryOf(store, 'message', c.id);
        expect(report.findings).toContainEqual(finding({ code: 'deleted', table: 'events', id: String(id) }));
        expect(report.findings).toContainEqual(finding({ code: 'deleted', table: 'messages', id: c.id, seq: Number(cEntry.seq) }));
        expect(report.findings).toHaveLength(2);
      });

      it('an inserted event and an inserted message', async () => {
        const { store, a } = await seeded();
        await store.exec('insert into events (message_id, at, kind, delivery_id) values (?, ?, ?, ?)', [a.id, T0 + 250, 'delivered', 'dlv-forged']);
        await store.exec(
          'insert into messages (id, message_type, participant, connector, operation, correlation_id, received_at, updated_at, state, deliveries, payload_dropped) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
          ['aud-forged', 'DossierSubmitted', 'VN/GOV/000.00.00.H56/MOTCUA', 'motcua-hanoi', 'nopHoSo', 'corr-forged', T0, T0, 'delivered', 1, 0],
        );
        const [forged] = await store.raw('select id from events where delivery_id = ?', ['dlv-forged']);
        const report = await verify(store);
        expect(report.findings).toEqual([
          finding({ code: 'inserted', table: 'messages', id: 'aud-forged' }),
          finding({ code: 'inserted', table: 'events', id: String(forged!.id) }),
        ]);
      });

      it('two journal entries swapped, and one removed', async () => {
        const { store } = await seeded();
        const [chain] = await store.raw('select chain_id from journal limit 1');
        const id = chain!.chain_id;
        await store.exec('update journal set seq = ? where chain_id = ? and seq = ?', [-5, id, 5]);
        await store.exec('update journal set seq = ? where chain_id = ? and seq = ?', [5, id, 6]);
        await store.exec('update journal set seq = ? where chain_id = ? and seq = ?', [6, id, -5]);
        await store.exec('delete from journal where chain_id = ? and seq = ?', [id, 9]);
        const report = await verify(store);
        expect(report.findings).toContainEqual(finding({ code: 'chain-broken', table: 'journal', seq: 5 }));
        expect(report.findings).toContainEqual(finding({ code: 'chain-broken', table: 'journal', seq: 6 }));
        expect(report.findings).toContainEqual(finding({ code: 'deleted', table: 'journal', seq: 9, detail: expect.stringContaining('seq 9..9 are missing') }));
      });

      it('an edited access-right change', async () => {
        const { store } = await seeded();
        await store.exec('update access_changes set record = ?', [canonicalJson({ ...grant, operations: ['lookup', 'export'] })]);
        const report = await verify(store);
        expect(report.findings).toEqual([finding({ code: 'edited', table: 'access_changes', id: expect.any(String) })]);
      });

      it('a chain rewritten whole after an edit, caught by the signed checkpoint', async () => {
        const { store, a } = await seeded();
        // The administrator edits a fact and recomputes every digest and hash after it: the chain is consistent again.
        const rows = await store.raw('select chain_id, seq, at, kind, ref, facts from journal order by seq');
        let hash = genesisHash(String(rows[0]!.chain_id));
        for (const row of rows) {
          let facts = JSON.parse(String(row.facts)) as Record<string, unknown>;
          if (row.kind === 'message' && row.ref === a.id) facts = { ...facts, participant: 'VN/GOV/000.00.00.G12/MOTCUA' };
          const digest = entryDigest({ at: Number(row.at), kind: String(row.kind), ref: String(row.ref) }, canonicalJson(facts));
          hash = chainHash(hash, digest);
          await store.exec('update journal set facts = ?, digest = ?, hash = ? where chain_id = ? and seq = ?', [canonicalJson(facts), digest, hash, row.chain_id, row.seq]);
        }
        await store.exec('update messages set participant = ? where id = ?', ['VN/GOV/000.00.00.G12/MOTCUA', a.id]);
        const report = await verify(store);
        expect(report.findings).toEqual([finding({ code: 'checkpoint-mismatch', table: 'checkpoints', seq: 10 })]);
        // Without checkpoints the same rewrite would pass: that is what they are for.
        await store.exec('delete from checkpoints');
        const unsigned = await verify(store);
        expect(unsigned.ok).toBe(true);
        expect(unsigned.notices.join(' ')).toMatch(/no signed checkpoints/);
      });

      it('a truncated tail, caught by the checkpoint that sealed it', async () => {
        const { store } = await seeded();
        await store.exec('delete from access_changes');
        await store.exec('delete from journal where kind = ?', ['access']);
        const report = await verify(store);
        const mismatch = finding({ code: 'checkpoint-mismatch', table: 'checkpoints', seq: 10, detail: expect.stringContaining('not in the journal') });
        // SQLite also sees that the newest journal position it handed out is gone.
        expect(report.findings).toEqual(label === 'SQLite' ? [mismatch, finding({ code: 'deleted', table: 'journal', detail: expect.stringContaining('the newest 1 journal entry is gone') })] : [mismatch]);
      });

      it('a chain cut back to an earlier signed checkpoint, its later checkpoints deleted: by a head saved before, and on SQLite by the positions', async () => {
        const store = await fresh();
        const log = await open(store, { audit: { checkpointEvery: 3 } });
        const all = Array.from({ length: 9 }, () => message());
        for (const m of all) await log.recordMessage(m);
        await log.close();
        const intact = await verify(store);
        expect(intact.ok).toBe(true);
        const [chain] = intact.chains;
        expect(intact.head).toEqual({ format: 'lienthong-journal-head/1', chains: [{ chain: chain!.chainId, seq: 10, hash: chain!.lastHash, checkpoint: { seq: 10, hash: chain!.lastHash, at: expect.any(Number) } }] });
        const saved = structuredClone(intact.head);

        // Keep the first checkpoint (seq 3); delete everything after it: entries, the rows they state, checkpoints.
        const gone = (await store.raw('select ref from journal where seq > 3 and kind = ?', ['message'])).map((r) => String(r.ref));
        expect(gone).toHaveLength(7);
        await store.exec('delete from journal where seq > 3');
        for (const id of gone) await store.exec('delete from messages where id = ?', [id]);
        await store.exec('delete from checkpoints where seq > 3');
        const cut = await verify(store, { expectHead: saved });
        expect(cut.findings).toContainEqual(finding({ code: 'deleted', table: 'journal', chain: chain!.chainId, seq: 10, detail: expect.stringContaining('entries 4..10 were deleted') }));
        if (label === 'SQLite') {
          expect(cut.findings).toContainEqual(finding({ code: 'deleted', table: 'journal', detail: expect.stringContaining('the newest 7 journal entries are gone') }));
          expect((await verify(store)).ok).toBe(false); // even without the saved head
        }
        // The cut chain's head is what verify now reports: an auditor comparing it with the saved one sees the cut.
        expect(cut.head.chains).toEqual([expect.objectContaining({ chain: chain!.chainId, seq: 3, checkpoint: expect.objectContaining({ seq: 3 }) })]);
        // A rewritten chain under a saved head: another hash at the saved seq.
        expect((await verify(store, { expectHead: { ...saved, chains: [{ ...saved.chains[0]!, seq: 3 }] } })).findings).toContainEqual(finding({ code: 'chain-broken', table: 'journal', seq: 3 }));
      });

      it('a cut at the end of a chain that is not the newest (two writers at once), on SQLite by the positions', async () => {
        const store = await fresh();
        const [first, second] = [await open(store, { audit: { checkpointEvery: 2 } }), await open(store, { audit: { checkpointEvery: 2 } })];
        for (let i = 0; i < 4; i++) {
          await first.recordMessage(message());
          await second.recordMessage(message());
        }
        const victim = first.audit().chainId;
        await first.close();
        await second.close();
        expect((await verify(store)).ok).toBe(true);
        const [last] = await store.raw('select max(seq) as seq from checkpoints where chain_id = ? and seq < (select max(seq) from journal where chain_id = ?)', [victim, victim]);
        const keep = Number(last!.seq);
        const gone = (await store.raw('select ref from journal where chain_id = ? and seq > ? and kind = ?', [victim, keep, 'message'])).map((r) => String(r.ref));
        await store.exec('delete from journal where chain_id = ? and seq > ?', [victim, keep]);
        for (const id of gone) await store.exec('delete from messages where id = ?', [id]);
        await store.exec('delete from checkpoints where chain_id = ? and seq > ?', [victim, keep]);
        const report = await verify(store);
        if (label === 'SQLite') expect(report.findings).toEqual([finding({ code: 'deleted', table: 'journal', detail: expect.stringContaining('gone from the end of a chain') })]);
        else expect(report.ok).toBe(true); // PostgreSQL: only a saved head shows it (docs/audit.md)
      });

      it('a forged checkpoint: changed hash, or re-signed with a key that is not the hub\'s', async () => {
        const { store } = await seeded();
        const [cp] = await store.raw('select chain_id, seq, hash, at from checkpoints');
        await store.exec('update checkpoints set hash = ?', ['f'.repeat(64)]);
        let report = await verify(store);
        expect(report.findings).toContainEqual(finding({ code: 'checkpoint-mismatch', table: 'checkpoints', seq: 10 }));
        expect(report.findings).toContainEqual(finding({ code: 'checkpoint-invalid', table: 'checkpoints', seq: 10 }));

        const digest = checkpointDigest({ chainId: String(cp!.chain_id), seq: Number(cp!.seq), hash: String(cp!.hash), at: Number(cp!.at) });
        const forged = await stranger.sign(digest);
        await store.exec('update checkpoints set hash = ?, jws = ?, proof = ?, certificates = ?', [cp!.hash, forged.jws, forged.proof, JSON.stringify(stranger.x5c)]);
        report = await verify(store);
        expect(report.findings).toEqual([finding({ code: 'checkpoint-untrusted', table: 'checkpoints', seq: 10, detail: expect.stringContaining('untrusted') })]);
        // Without trust anchors the signature holds with its own certificate; the report names who signed.
        const unanchored = await verify(store, { anchors: [] });
        expect(unanchored.ok).toBe(true);
        expect(unanchored.notices.join(' ')).toMatch(/not checked against trust anchors/);
      });
    });

    it('keeps verifying after retention purged records, payloads and the journal up to a checkpoint', async () => {
      const store = await fresh();
      // Checkpoints are checked at their own time, which must lie within the hub certificate's validity (from now on).
      let clock = Date.now() + 1000;
      const log = await open(store, { now: () => clock, metadataRetentionMs: 10 * DAY, payloadRetentionMs: 1 * DAY, purgeChunk: 3 });
      const old = Array.from({ length: 6 }, () => message({ receivedAt: clock - 1000, payload: '{"cu":true}' }));
      await Promise.all(old.map((m) => log.recordMessage(m)));
      await log.recordEvents(old.map((m) => ({ messageId: m.id, at: clock - 500, kind: 'attempt' as const, attempt: 1 })));
      await log.recordAccessChange(grant);
      await log.checkpoint();
      clock += 20 * DAY;
      const recent = [message({ receivedAt: clock - 2 * DAY, payload: '{"moi":1}' }), message({ receivedAt: clock - 1000, payload: '{"moi":2}' })];
      await Promise.all(recent.map((m) => log.recordMessage(m)));
      expect(await log.purge(clock)).toEqual({ payloadsDropped: 1, messagesDeleted: 6 });
      await log.close();

      const [{ first }] = (await store.raw('select min(seq) as first from journal')) as [{ first: unknown }];
      expect(Number(first)).toBeGreaterThan(1);
      expect(await store.raw('select id from access_changes')).toHaveLength(1);
      const report = await verify(store);
      expect(report.findings).toEqual([]);
      expect(report.chains[0]).toMatchObject({ firstSeq: Number(first), sealedUpTo: report.chains[0]!.lastSeq });

      // Tampering with what is left is still found; so is deleting the base checkpoint.
      await store.exec('delete from messages where id = ?', [recent[1]!.id]);
      await store.exec('delete from checkpoints where seq = ?', [Number(first) - 1]);
      const tampered = await verify(store);
      expect(tampered.findings).toContainEqual(finding({ code: 'deleted', table: 'messages', id: recent[1]!.id }));
      expect(tampered.findings).toContainEqual(finding({ code: 'deleted', table: 'journal', detail: expect.stringContaining('no base checkpoint') }));
      expect(tampered.findings).toHaveLength(2);
    });

    it('explains the later events of a message that retention purged, after the journal was cut before them', async () => {
      const store = await fresh();
      let clock = Date.now() + 1000;
      const log = await open(store, { now: () => clock, metadataRetentionMs: 90 * 60_000, payloadRetentionMs: 60 * 60_000 });
      const m = message({ receivedAt: clock, payload: '{"cu":true}' });
      await log.recordMessage(m);
      await log.recordEvents([{ messageId: m.id, at: clock + 10, kind: 'attempt' as const, attempt: 1 }]);
      await log.checkpoint();
      clock += 2 * 3_600_000; // a retry gets through two hours later, after the checkpoint
      await log.recordEvents([{ messageId: m.id, at: clock, kind: 'delivered' as const, attempt: 5 }]);
      await log.setState(m.id, 'delivered');
      clock += 60_000;
      expect(await log.purge(clock)).toMatchObject({ messagesDeleted: 1 });
      await log.close();
      expect(await store.raw('select id from events')).toHaveLength(0);
      expect((await verify(store)).findings).toEqual([]);
    });

    it('without a signer, retention still explains what it deleted (and keeps the journal)', async () => {
      const store = await fresh();
      const now = T0 + 50 * DAY;
      const log = await openMessageLog({ ...store.location, sealer, now: () => now, metadataRetentionMs: 10 * DAY });
      cleanups.push(() => log.close());
      const old = message({ receivedAt: now - 20 * DAY });
      await log.recordMessage(old);
      await log.recordEvents([{ messageId: old.id, at: now - 19 * DAY, kind: 'attempt' }]);
      expect((await log.purge(now)).messagesDeleted).toBe(1);
      await log.close();
      const report = await verify(store);
      expect(report.findings).toEqual([]);
      expect(report.totals.checkpoints).toBe(0);
    });

    it('two writers on one database keep separate chains that both verify', async () => {
      const store = await fresh();
      const [first, second] = [await open(store, { audit: { checkpointEvery: 4 } }), await open(store, { audit: { checkpointEvery: 4 } })];
      const mine = Array.from({ length: 10 }, () => message({ payload: '{"a":1}' }));
      const theirs = Array.from({ length: 10 }, () => message());
      await Promise.all([...mine.map((m) => first.recordMessage(m)), ...theirs.map((m) => second.recordMessage(m))]);
      // Each settles the other's messages: one message's entries then live in two chains.
      await Promise.all([...mine.map((m) => second.setState(m.id, 'delivered')), ...theirs.map((m) => first.setState(m.id, 'dead-lettered', 'gave up'))]);
      await second.recordEvents(mine.map((m) => ({ messageId: m.id, at: T0, kind: 'delivered' as const, succeeded: true })));
      expect(first.audit().chainId).not.toBe(second.audit().chainId);
      await Promise.all([first.close(), second.close()]);
      const report = await verify(store);
      expect(report.findings).toEqual([]);
      expect(report.chains).toHaveLength(2);
      for (const chain of report.chains) expect(chain.sealedUpTo).toBe(chain.lastSeq);
    });

    it('passes a head saved earlier while the log grows, over restarts and retention, and names which chain vouches for another\'s end', async () => {
      const store = await fresh();
      let clock = Date.now() + 1000;
      const one = await open(store, { now: () => clock, metadataRetentionMs: 10 * DAY, audit: { checkpointEvery: 2 } });
      for (let i = 0; i < 3; i++) await one.recordMessage(message({ receivedAt: clock }));
      await one.close();
      const early = (await verify(store)).head;
      clock += 20 * DAY;
      const two = await open(store, { now: () => clock, metadataRetentionMs: 10 * DAY, audit: { checkpointEvery: 2 } });
      await two.recordMessage(message({ receivedAt: clock }));
      await two.purge(clock); // cuts the first chain up to its checkpoint, past the entry the early head names
      await two.close();
      const report = await verify(store, { expectHead: early });
      expect(report.findings).toEqual([]);
      expect(report.chains.find((c) => c.chainId === early.chains[0]!.chain)).toMatchObject({ entries: 0, lastSeq: early.chains[0]!.seq, continuedBy: two.audit().chainId });
      expect(report.chains.find((c) => c.chainId === two.audit().chainId)!.continuedBy).toBeUndefined();
      // A chain the saved head names that is gone whole is named.
      const lost = await verify(store, { expectHead: { ...early, chains: [{ chain: 'lt-gone', seq: 4, hash: 'ab'.repeat(32) }] } });
      expect(lost.findings).toEqual([finding({ code: 'deleted', table: 'journal', chain: 'lt-gone', seq: 4, detail: expect.stringContaining('gone whole') })]);
    });

    it('links each new writer to the store\'s head, and continues a named chain', async () => {
      const store = await fresh();
      const one = await open(store);
      await one.recordMessage(message());
      const head = one.audit();
      await one.close();
      const two = await open(store);
      await two.recordMessage(message());
      await two.close();
      const [opening] = await store.raw('select facts from journal where kind = ? and chain_id = ?', ['open', two.audit().chainId]);
      expect(JSON.parse(String(opening!.facts))).toMatchObject({ head: { chain: head.chainId, seq: head.seq, hash: head.hash } });

      const named = await open(store, { audit: { chainId: 'hub-h56-main' } });
      await named.recordMessage(message());
      await named.close();
      const again = await open(store, { audit: { chainId: 'hub-h56-main' } });
      await again.recordMessage(message());
      await again.close();
      expect((await store.raw('select seq, kind from journal where chain_id = ? order by seq', ['hub-h56-main'])).map((e) => [Number(e.seq), e.kind])).toEqual([
        [1, 'open'], [2, 'message'], [3, 'open'], [4, 'message'],
      ]);
      expect((await verify(store)).findings).toEqual([]);
      await expect(openMessageLog({ ...store.location, sealer, audit: { chainId: 'has space' } })).rejects.toThrow(/audit.chainId/);
    });

    it('exports evidence that verifies offline, and fails once the bundle is altered', async () => {
      const { store, a } = await seeded();
      const audit = await openAuditStore(store.location);
      const bundle = await audit.exportEvidence(a.id, { sealer });
      expect(await audit.exportEvidence('no-such-message', { sealer })).toBeUndefined();
      await audit.close();
      expect(bundle).toBeDefined();
      expect(bundle!.message).toMatchObject({ id: a.id, state: 'delivered', payload: a.payload });
      expect(bundle!.events).toHaveLength(2);
      // The other messages' entries travel as digests only.
      expect(JSON.stringify(bundle!.segments)).not.toContain('"soHoSo');
      const report = await verifyEvidence(bundle, { anchors: [ca.certPem] });
      expect(report.checks.filter((c) => !c.ok)).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.checkpoints).toEqual([expect.objectContaining({ seq: 10, trusted: true })]);

      const altered = structuredClone(bundle!);
      altered.message.payload = altered.message.payload!.replace('Thử', 'Thứ');
      expect((await verifyEvidence(altered, { anchors: [ca.certPem] })).ok).toBe(false);
    });

    it('exports from a running log, sealing what was written first', async () => {
      const store = await fresh();
      const log = await open(store);
      const m = message({ payload: '{"x":1}' });
      await log.recordMessage(m);
      await log.recordEvents([{ messageId: m.id, at: T0, kind: 'attempt', attempt: 1 }]);
      const bundle = await log.exportEvidence(m.id);
      expect(bundle!.segments[0]!.checkpoint).toBeDefined();
      expect((await verifyEvidence(bundle, { anchors: [ca.certPem] })).ok).toBe(true);
    });
  });
}
