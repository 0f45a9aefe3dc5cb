import type { Kysely, Selectable, Transaction } from 'kysely';
import { HubError } from '../core/errors.js';
import type { Sealer } from '../core/seal.js';
import {
  EVIDENCE_FORMAT,
  genesisHash,
  type CheckpointRecord,
  type EvidenceBundle,
  type EvidenceDigest,
  type EvidenceEntry,
  type EvidenceSegment,
  type Facts,
  type JournalKind,
} from '../trust/evidence.js';
import { num, type CheckpointsTable, type Dialect, type StoreDatabase } from './db.js';
import { eventFacts, messageFacts } from './facts.js';
import { inSnapshot } from './snapshot.js';

/**
 * The evidence bundle of one message (format: trust/evidence.ts): its row and events as stored, its payload while
 * kept, and per chain it was written to, the journal from its first entry there to the next signed checkpoint.
 * Entries of other messages are given by digest only. Read in one snapshot.
 */

const OWN_KINDS: JournalKind[] = ['message', 'state', 'event'];

export function checkpointRecord(row: Selectable<CheckpointsTable>): CheckpointRecord {
  return {
    chainId: row.chain_id,
    seq: num(row.seq),
    hash: row.hash,
    at: num(row.at),
    jws: row.jws,
    proof: row.proof,
    certificates: JSON.parse(row.certificates) as string[],
  };
}

async function segmentOf(trx: Transaction<StoreDatabase>, messageId: string, chainId: string, first: number, last: number): Promise<EvidenceSegment> {
  const checkpointRow = await trx.selectFrom('checkpoints').selectAll().where('chain_id', '=', chainId).where('seq', '>=', last).orderBy('seq', 'asc').limit(1).executeTakeFirst();
  const end = checkpointRow ? num(checkpointRow.seq) : last;
  const rows = await trx
    .selectFrom('journal')
    .select(['seq', 'pos', 'at', 'kind', 'ref', 'facts', 'digest'])
    .where('chain_id', '=', chainId)
    .where('seq', '>=', first)
    .where('seq', '<=', end)
    .orderBy('seq', 'asc')
    .execute();
  const entries = rows.map((row): EvidenceEntry | EvidenceDigest =>
    row.ref === messageId && OWN_KINDS.includes(row.kind as JournalKind)
      ? { seq: num(row.seq), pos: num(row.pos), at: num(row.at), kind: row.kind as JournalKind, ref: row.ref, facts: JSON.parse(row.facts) as Facts }
      : { seq: num(row.seq), digest: row.digest },
  );
  const segment: EvidenceSegment = { chainId, previousHash: await hashBefore(trx, chainId, first), entries };
  if (checkpointRow) segment.checkpoint = checkpointRecord(checkpointRow);
  return segment;
}

/** The hash the chain had before `seq`: the genesis, the previous entry's, or the base checkpoint's after a purge. */
async function hashBefore(trx: Transaction<StoreDatabase>, chainId: string, seq: number): Promise<string> {
  if (seq === 1) return genesisHash(chainId);
  const entry = await trx.selectFrom('journal').select('hash').where('chain_id', '=', chainId).where('seq', '=', seq - 1).executeTakeFirst();
  if (entry) return entry.hash;
  const base = await trx.selectFrom('checkpoints').select('hash').where('chain_id', '=', chainId).where('seq', '=', seq - 1).executeTakeFirst();
  if (base) return base.hash;
  throw new HubError('server.journal-incomplete', `the journal of chain ${chainId} lacks seq ${seq - 1}, so the segment of this message cannot be chained: run "lienthong audit verify"`);
}

export async function exportEvidence(
  db: Kysely<StoreDatabase>,
  dialect: Dialect,
  messageId: string,
  options: { sealer?: Sealer; now?: () => number } = {},
): Promise<EvidenceBundle | undefined> {
  return inSnapshot(db, dialect, async (trx) => {
    const row = await trx.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirst();
    if (!row) return undefined;
    const own = await trx
      .selectFrom('journal')
      .select(['chain_id', 'seq'])
      .where('ref', '=', messageId)
      .where('kind', 'in', OWN_KINDS)
      .orderBy('pos', 'asc')
      .execute();
    if (own.length === 0) {
      throw new HubError('server.journal-incomplete', `no journal entry records message ${messageId} (written before the audit journal existed?)`);
    }
    const ranges = new Map<string, { first: number; last: number }>();
    for (const entry of own) {
      const seq = num(entry.seq);
      const range = ranges.get(entry.chain_id);
      ranges.set(entry.chain_id, range ? { first: Math.min(range.first, seq), last: Math.max(range.last, seq) } : { first: seq, last: seq });
    }
    const segments: EvidenceSegment[] = [];
    for (const [chainId, { first, last }] of ranges) segments.push(await segmentOf(trx, messageId, chainId, first, last));

    const events = await trx.selectFrom('events').selectAll().where('message_id', '=', messageId).orderBy('id', 'asc').execute();
    let payload: string | undefined;
    if (row.payload !== null) {
      if (!options.sealer) throw new HubError('server.no-data-key', 'the payload is sealed: the data key (LIENTHONG_DATA_KEY) is needed to export it');
      try {
        payload = options.sealer.open(row.payload, messageId);
      } catch (error) {
        throw new HubError('server.payload-unreadable', `the payload of message ${messageId} cannot be opened with this data key (another key, or the stored payload was changed)`, { cause: error });
      }
    }
    const message: EvidenceBundle['message'] = messageFacts(row, undefined);
    if (payload !== undefined) message.payload = payload;
    return {
      format: EVIDENCE_FORMAT,
      exportedAt: new Date((options.now ?? Date.now)()).toISOString(),
      message,
      events: events.map((event) => eventFacts(event.id, event)),
      segments,
    };
  });
}
