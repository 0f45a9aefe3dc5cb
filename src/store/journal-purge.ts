import type { Kysely } from 'kysely';
import type { Facts } from '../trust/evidence.js';
import { num, type StoreDatabase } from './db.js';
import type { PendingEntry } from './journal.js';

/**
 * Metadata retention for the journal. A chain is cut only at a signed checkpoint older than the retention cutoff:
 * its entries up to that checkpoint are deleted, the checkpoint is kept as the chain's base (verification starts
 * from its hash), and older checkpoints go. A chain is left whole while any row its doomed entries state is still in
 * the log (a message received "in the future" of the hub's clock, say), so that no remaining row loses its entry.
 * Access-right rows are kept forever, so their entries are carried over into the current chain before the cut; so are
 * the entries of purged messages that have entries after the cut (events recorded later, deleted with their message).
 */

export interface PurgeCandidate {
  chainId: string;
  /** The checkpoint that becomes the chain's base. */
  seq: number;
}

/** Per chain, the newest checkpoint older than `cutoff`, when anything lies before it. */
export async function journalPurgeCandidates(db: Kysely<StoreDatabase>, cutoff: number): Promise<PurgeCandidate[]> {
  const newest = await db
    .selectFrom('checkpoints')
    .select((eb) => ['chain_id', eb.fn.max('seq').as('seq')])
    .where('at', '<', cutoff)
    .groupBy('chain_id')
    .execute();
  const candidates: PurgeCandidate[] = [];
  for (const row of newest) {
    const seq = num(row.seq as number | string);
    const entry = await db.selectFrom('journal').select('pos').where('chain_id', '=', row.chain_id).where('seq', '<=', seq).limit(1).executeTakeFirst();
    const checkpoint = entry ? undefined : await db.selectFrom('checkpoints').select('seq').where('chain_id', '=', row.chain_id).where('seq', '<', seq).limit(1).executeTakeFirst();
    if (entry || checkpoint) candidates.push({ chainId: row.chain_id, seq });
  }
  return candidates;
}

/** Whether a row stated by the entries up to the candidate is still in the log. */
async function stillStated(db: Kysely<StoreDatabase>, { chainId, seq }: PurgeCandidate): Promise<boolean> {
  const message = await db
    .selectFrom('journal as j')
    .innerJoin('messages as m', 'm.id', 'j.ref')
    .select('j.pos')
    .where('j.chain_id', '=', chainId)
    .where('j.seq', '<=', seq)
    .where('j.kind', 'in', ['message', 'state'])
    .limit(1)
    .executeTakeFirst();
  if (message) return true;
  const event = await db
    .selectFrom('journal as j')
    .innerJoin('events as e', 'e.message_id', 'j.ref')
    .select('j.pos')
    .where('j.chain_id', '=', chainId)
    .where('j.seq', '<=', seq)
    .where('j.kind', '=', 'event')
    .limit(1)
    .executeTakeFirst();
  return event !== undefined;
}

/**
 * Cuts one chain at the candidate, unless a remaining row still needs its entries. `carry` appends the access
 * entries of the doomed range to the current chain (through the log's writer) before anything is deleted.
 * Returns the number of journal entries deleted.
 */
export async function purgeJournalUpTo(
  db: Kysely<StoreDatabase>,
  candidate: PurgeCandidate,
  chunk: number,
  carry: (entries: PendingEntry[]) => Promise<void>,
): Promise<number> {
  if (await stillStated(db, candidate)) return 0;
  // Carried over: access entries (their rows are kept forever), and the entry of a purged message whose later entries
  // stay (an event or state recorded after the cut): without it a verifier could not tell that retention deleted them.
  const carried = await db
    .selectFrom('journal as j')
    .select(['j.kind', 'j.ref', 'j.facts'])
    .where('j.chain_id', '=', candidate.chainId)
    .where('j.seq', '<=', candidate.seq)
    .where((eb) => eb.or([
      eb('j.kind', '=', 'access'),
      eb.and([
        eb('j.kind', '=', 'message'),
        eb.exists(eb.selectFrom('journal as k').select('k.pos').whereRef('k.ref', '=', 'j.ref').where((later) => later.or([later('k.chain_id', '!=', candidate.chainId), later('k.seq', '>', candidate.seq)]))),
      ]),
    ]))
    .orderBy('j.seq', 'asc')
    .execute();
  if (carried.length > 0) await carry(carried.map((entry) => ({ kind: entry.kind as PendingEntry['kind'], ref: entry.ref, facts: JSON.parse(entry.facts) as Facts })));
  let deleted = 0;
  for (;;) {
    const result = await db
      .deleteFrom('journal')
      .where('pos', 'in', (eb) => eb.selectFrom('journal').select('pos').where('chain_id', '=', candidate.chainId).where('seq', '<=', candidate.seq).limit(chunk))
      .executeTakeFirst();
    const n = Number(result.numDeletedRows);
    deleted += n;
    if (n < chunk) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  await db.deleteFrom('checkpoints').where('chain_id', '=', candidate.chainId).where('seq', '<', candidate.seq).execute();
  return deleted;
}
