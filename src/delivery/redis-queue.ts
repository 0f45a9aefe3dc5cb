import { createHash, randomUUID } from 'node:crypto';
import { Job, Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { sealEach, type Sealer } from '../core/seal.js';
import { withoutPassword } from '../core/urls.js';
import { leaseLost, PAYLOAD_DROPPED, unsealableReason } from './errors.js';
import { idempotencyKeysOf, UNSEALABLE_PAYLOAD, type DeadLetter, type DeadLetterFilter, type Delivery, type DeliveryState, type NewDelivery, type QueueCounts, type QueueDriver } from './types.js';

/**
 * The Redis queue: several hub processes share one Redis, each delivery leased to one worker at a time.
 *
 * Two layers:
 * 1. **Our own structures are the source of truth**, changed only by the Lua scripts below, each one
 *    atomic: a hash per delivery (sealed payload, state, attempts, lease, …), a list per
 *    (destination, orderingKey) holding that key's unfinished delivery ids in acceptance order, the
 *    idempotency keys, each with the fingerprint it came with (checked and written in the same script as the deliveries), sorted sets of pending
 *    (by sequence), active (by lease expiry), delayed (by availableAt) and dead (by deadAt) ids.
 * 2. **BullMQ jobs are tickets**: only the head of each key's list (and every unordered delivery) has
 *    a job, no payload (so nothing personal sits in BullMQ). Its jobId is `<delivery id>.<n>`, n counting the
 *    times the delivery needed a ticket: a new need always gets a new job, which BullMQ cannot dedupe against
 *    an old ticket of the same delivery that another process is dropping at that moment (a replay racing the
 *    dead-lettering it follows, say), so a ticket cannot be swallowed that way. `claim` fetches tickets
 *    with BullMQ's manual API (`worker.getNextJob(token)`; the token is the lease), then passes each
 *    through the **gate** script, which checks it against the source of truth and leases it atomically.
 *    A ticket may be stale (delivery finished, replayed behind others, not due yet, or still leased
 *    elsewhere): the gate says so, and the ticket is dropped (`moveToCompleted`, removed) or parked
 *    (`moveToDelayed` until due). Stale or duplicate tickets are therefore harmless; only a *missing*
 *    ticket would stall a key, which the outbox below rules out. As BullMQ's own worker does, dropping a
 *    ticket fetches the next one in the same script; the next claim takes it without a round trip of its own.
 *
 * Why this shape: BullMQ gives us the parts that are hard to get right across processes (exclusive
 * hand-out under a lock, delayed promotion, stalled-job recovery after a crash), and our scripts give
 * what BullMQ has not (per-key FIFO, idempotency atomic with acceptance, dead letters with replay,
 * leases checked against our own record).
 *
 * - Per-key FIFO: the next delivery of a key gets its ticket only when the head finishes (complete or
 *   dead-letter pop the head atomically, only if it is this id, and name the next one). The gate refuses
 *   any ticket that is not its key's head.
 * - Ticket outbox: every script that makes an id need a ticket (accept, finish → next head, replay)
 *   adds it to the `tojob` set in the same atomic step; the process then adds the BullMQ job and removes
 *   the id from the set. A crash in between leaves the id in `tojob`, and the sweeper (on open, then every
 *   `sweepIntervalMs`, in every process) adds the missing tickets. On open it also walks every pending
 *   delivery once (deep repair), so even tickets lost outside our control come back.
 * - Leases: the gate re-sets BullMQ's job lock to `leaseMs` (what BullMQ's extendLock does) in the same
 *   script that records our lease, and `extend` does both again. An expired lock is BullMQ's stalled
 *   job: its stalled checker (every `stalledIntervalMs`, any process) moves the ticket back to wait, and
 *   the next claim re-leases it (attempts kept). Recovery therefore takes lease + up to two stalled
 *   intervals. `maxStalledCount` is effectively unbounded: giving up is our retry policy's business.
 * - Leases at acceptance: an accept that asks for them leases the deliveries that may start at once to the
 *   accepting process's worker instead of giving them tickets, so a fresh delivery costs no BullMQ job at all
 *   (no add, fetch, gate or move to completed: the bulk of Redis's work per delivery). Nothing in BullMQ
 *   knows about such a lease, so the sweeper also looks for expired leases without a ticket and adds one
 *   (recovery: lease + up to one sweep interval); a retry of such a delivery adds its ticket through the
 *   outbox, delayed until it is due.
 * - complete/retryLater/deadLetter check the lease in our hash (not only BullMQ's lock), so a worker
 *   whose lease expired and was re-claimed gets `server.lease-lost` and changes nothing. If its lease
 *   expired but nobody re-claimed it yet, it still settles the delivery (the ticket is then stale).
 * - Lost replies: ioredis sends a command again when the connection dropped before its reply came
 *   (autoResendUnfulfilledCommands), so a script may run twice for one call. ACCEPT and GATE recognise
 *   their own earlier run and answer as it did (a "duplicate" or "already exists" would make the client
 *   resubmit what is stored; a gate finding its own lease would say "busy" and strand the delivery for a
 *   lease). The others are safe to repeat: the second run of FINISH, RETRY, REPLAY or DISCARD changes
 *   nothing and reports so (lease lost, 0), and the outbox or the stalled checker brings back any ticket
 *   the first run's lost reply left unhandled. A re-sent fetch (BullMQ's moveToActive) leaves the first
 *   fetched ticket locked by nobody until its initial lock expires; BullMQ's stalled checker then hands it out.
 * - Clock: our timestamps and due checks use `now()`; BullMQ's delays use real time, converted as
 *   `Date.now() + (availableAt - now())`.
 *
 * Limits: one Redis (or Sentinel), not Cluster (scripts compute key names); Redis must not evict keys
 * (`maxmemory-policy noeviction`, as BullMQ requires); durability is Redis's (AOF `appendfsync always`
 * for "nothing accepted is lost" across a Redis crash).
 */
export interface RedisQueueOptions {
  url: string;
  /** Key prefix of every key this queue uses (default 'lienthong'). */
  prefix?: string;
  sealer: Sealer;
  now?: () => number;
  /** Default idempotency-key lifetime when accept gives none (default 24 h). */
  idempotencyTtlMs?: number;
  /** How often BullMQ checks for expired leases (default 2 s); recovery takes lease + up to two of these. */
  stalledIntervalMs?: number;
  /** How often the ticket sweeper runs (default 5 s). */
  sweepIntervalMs?: number;
  /** How long discarded dead letters are kept as payload-less tombstones (default 30 days). */
  tombstoneTtlMs?: number;
  /** Background errors (sweeper, stalled checker, connection); default: ignored. */
  onError?: (error: Error) => void;
}

export const REDIS_QUEUE_NAME = 'delivery';
const DEFAULT_IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
const INITIAL_LOCK_MS = 30_000;
/** Most deliveries one claim hands out. */
const MAX_CLAIM = 1_000;
/** Tickets fetched at once within a claim. */
const CLAIM_WAVE = 32;
/** Most tickets held from fetch-next at once, waiting for a claim. */
const MAX_PREFETCHED = 64;
const TICKET = 'delivery';
const TICKET_OPTS = { removeOnComplete: true, removeOnFail: true } as const;

/** Shared Lua: the list of a (destination, orderingKey); the destination's length keeps the name unambiguous. */
const PRELUDE = `
local rcall = redis.call
local function listKey(p, dest, okey) return p .. ':k:' .. string.len(dest) .. ':' .. dest .. ':' .. okey end
local function unfinished(state) return state == 'ready' or state == 'delayed' or state == 'active' end
-- appends id to its key's line (or not, when unordered); true when it may start now (head, or unordered)
local function enqueue(p, id, dest, okey)
  if okey == '' then return true end
  return rcall('RPUSH', listKey(p, dest, okey), id) == 1
end
-- the job id of the delivery's latest ticket, and a new one (via the outbox) for each time it needs one
local function ticketOf(p, id) return id .. '.' .. (rcall('HGET', p .. ':d:' .. id, 'ticket') or '0') end
local function newTicket(p, id)
  rcall('SADD', p .. ':tojob', id)
  return id .. '.' .. rcall('HINCRBY', p .. ':d:' .. id, 'ticket', 1)
end
`;

/**
 * ARGV: prefix, now, messageId, idemTtlMs, k, then k × (idempotency key, fingerprint ('' = none)), then n, then
 * n × (id, messageId, routeId, destination, orderingKey, sealedPayload, acceptedAt), then lease token, workerId,
 * leaseUntil, most to lease (0 = none).
 * Returns {1, first message id} for a repeated key (a duplicate), {2, first message id} for a key used before with
 * another fingerprint (a conflict; nothing written), else {0, ticket job ids to add, ids leased}.
 *
 * A key is `<prefix>:idem:<key>` holding the message id (as before fingerprints were kept, so that a process of the
 * previous version reads it right during a rolling upgrade), and, when it came with one, `<prefix>:idemfp:<key>`
 * holding its fingerprint, written together with the same expiry.
 */
const ACCEPT = `${PRELUDE}
local p, now, mid, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local k = tonumber(ARGV[5])
local d = 6 + k * 2
local n = tonumber(ARGV[d])
local l = d + 1 + n * 7
local token, worker, leaseUntil, leaseLimit = ARGV[l], ARGV[l + 1], ARGV[l + 2], tonumber(ARGV[l + 3])
-- This very call run again (ioredis re-sent it after the reply was lost): its keys, or its deliveries, are there
-- under its own message id. It answers as the first run did, from what that run stored. Otherwise a key seen
-- before with the same fingerprint (or without one) makes this a duplicate, whichever key it is; failing that, a
-- key seen with another fingerprint makes it a conflict.
local again, duplicate, conflict = false, nil, nil
for j = 0, k - 1 do
  local key, fp = ARGV[6 + j * 2], ARGV[7 + j * 2]
  local seen = rcall('GET', p .. ':idem:' .. key)
  if seen == mid then again = true
  elseif seen then
    local seenFp = rcall('GET', p .. ':idemfp:' .. key)
    if fp ~= '' and seenFp and seenFp ~= fp then conflict = conflict or seen
    else duplicate = duplicate or seen end
  end
end
if not again then
  if duplicate then return {1, duplicate} end
  if conflict then return {2, conflict} end
end
for i = 0, n - 1 do
  local owner = rcall('HGET', p .. ':d:' .. ARGV[d + 1 + i * 7], 'messageId')
  if owner == mid then again = true
  elseif owner then return redis.error_reply('delivery ' .. ARGV[d + 1 + i * 7] .. ' already exists') end
end
local tickets, leased = {}, {}
if again then
  for i = 0, n - 1 do
    local id = ARGV[d + 1 + i * 7]
    local f = rcall('HMGET', p .. ':d:' .. id, 'state', 'lease')
    if token ~= '' and f[1] == 'active' and f[2] == token then leased[#leased + 1] = id
    elseif rcall('SISMEMBER', p .. ':tojob', id) == 1 then tickets[#tickets + 1] = ticketOf(p, id) end
  end
  return {0, tickets, leased}
end
for j = 0, k - 1 do
  local key, fp = ARGV[6 + j * 2], ARGV[7 + j * 2]
  rcall('SET', p .. ':idem:' .. key, mid, 'PX', ttl)
  if fp ~= '' then rcall('SET', p .. ':idemfp:' .. key, fp, 'PX', ttl) else rcall('DEL', p .. ':idemfp:' .. key) end
end
for i = 0, n - 1 do
  local b = d + 1 + i * 7
  local id, dest, okey = ARGV[b], ARGV[b + 3], ARGV[b + 4]
  local h = p .. ':d:' .. id
  local seq = rcall('INCR', p .. ':seq')
  rcall('HSET', h, 'id', id, 'messageId', ARGV[b + 1], 'routeId', ARGV[b + 2], 'destination', dest,
    'orderingKey', okey, 'payload', ARGV[b + 5], 'acceptedAt', ARGV[b + 6], 'state', 'ready', 'attempts', 0,
    'availableAt', now, 'seq', seq)
  rcall('ZADD', p .. ':pending', seq, id)
  if enqueue(p, id, dest, okey) then
    if #leased < leaseLimit then
      rcall('HSET', h, 'state', 'active', 'lease', token, 'workerId', worker, 'leaseUntil', leaseUntil, 'firstAttemptAt', now)
      rcall('ZADD', p .. ':active', leaseUntil, id)
      leased[#leased + 1] = id
    else
      tickets[#tickets + 1] = newTicket(p, id)
    end
  end
end
return {0, tickets, leased}
`;

/**
 * KEYS: hash, BullMQ lock, BullMQ stalled set. ARGV: prefix, id, token, workerId, now, leaseUntil, leaseMs, call (unique
 * per gate call: tokens are shared along a fetch-next chain, so the token alone does not tell this call's lease).
 */
const GATE = `${PRELUDE}
local p, id, token = ARGV[1], ARGV[2], ARGV[3]
local f = rcall('HMGET', KEYS[1], 'state', 'orderingKey', 'destination', 'availableAt', 'leaseUntil', 'lease', 'gate')
if not f[1] or not unfinished(f[1]) then return {'gone'} end
if f[2] ~= '' and rcall('LINDEX', listKey(p, f[3], f[2]), 0) ~= id then return {'not-head'} end
local now = tonumber(ARGV[5])
-- this call run again (a lost reply re-sent): the lease is its own, so it answers 'ok' again
local again = f[1] == 'active' and f[6] == token and f[7] == ARGV[8]
if not again then
  if f[1] == 'active' and tonumber(f[5] or 0) > now then return {'busy', f[5]} end
  if tonumber(f[4]) > now then return {'early', f[4]} end
end
rcall('HSET', KEYS[1], 'state', 'active', 'lease', token, 'workerId', ARGV[4], 'leaseUntil', ARGV[6], 'gate', ARGV[8])
rcall('HSETNX', KEYS[1], 'firstAttemptAt', ARGV[5])
rcall('ZADD', p .. ':active', ARGV[6], id)
rcall('ZREM', p .. ':delayed', id)
if rcall('GET', KEYS[2]) == token then
  rcall('SET', KEYS[2], token, 'PX', ARGV[7])
  rcall('SREM', KEYS[3], id)
end
return {'ok', rcall('HGETALL', KEYS[1])}
`;

/** KEYS: hash. ARGV: prefix, id, lease, mode ('complete' | 'dead'), now, reason, attemptsAdded. Returns {1, next head's ticket or ''} or {0}. */
const FINISH = `${PRELUDE}
local p, id = ARGV[1], ARGV[2]
local f = rcall('HMGET', KEYS[1], 'state', 'lease', 'orderingKey', 'destination')
if f[1] ~= 'active' or f[2] ~= ARGV[3] then return {0} end
rcall('ZREM', p .. ':active', id)
rcall('ZREM', p .. ':pending', id)
local nxt = ''
if f[3] ~= '' then
  local lk = listKey(p, f[4], f[3])
  if rcall('LINDEX', lk, 0) == id then rcall('LPOP', lk) else rcall('LREM', lk, 1, id) end
  local head = rcall('LINDEX', lk, 0)
  if head then nxt = newTicket(p, head) end
end
if ARGV[4] == 'complete' then
  rcall('DEL', KEYS[1])
else
  rcall('HSET', KEYS[1], 'state', 'dead', 'deadAt', ARGV[5], 'reason', ARGV[6])
  rcall('HINCRBY', KEYS[1], 'attempts', ARGV[7])
  rcall('HDEL', KEYS[1], 'lease', 'workerId', 'leaseUntil', 'gate')
  rcall('ZADD', p .. ':dead', ARGV[5], id)
end
return {1, nxt}
`;

/**
 * KEYS: hash. ARGV: prefix, id, lease, availableAt, error, ticketless ('1': a ticket must be added, via the outbox).
 * Returns {1, the new ticket or ''} or {0}.
 */
const RETRY = `${PRELUDE}
local p, id = ARGV[1], ARGV[2]
local f = rcall('HMGET', KEYS[1], 'state', 'lease')
if f[1] ~= 'active' or f[2] ~= ARGV[3] then return {0} end
local ticket = ''
if ARGV[6] == '1' then ticket = newTicket(p, id) end
rcall('HSET', KEYS[1], 'state', 'delayed', 'availableAt', ARGV[4], 'lastError', ARGV[5])
rcall('HINCRBY', KEYS[1], 'attempts', 1)
rcall('HDEL', KEYS[1], 'lease', 'workerId', 'leaseUntil', 'gate')
rcall('ZREM', p .. ':active', id)
rcall('ZADD', p .. ':delayed', ARGV[4], id)
return {1, ticket}
`;

/** KEYS: hash, BullMQ lock, BullMQ stalled set. ARGV: prefix, id, lease, leaseUntil, leaseMs, unlocked ('1': no BullMQ lock of ours to extend). */
const EXTEND = `${PRELUDE}
local p, id, lease = ARGV[1], ARGV[2], ARGV[3]
local f = rcall('HMGET', KEYS[1], 'state', 'lease')
if f[1] ~= 'active' or f[2] ~= lease then return 0 end
rcall('HSET', KEYS[1], 'leaseUntil', ARGV[4])
rcall('ZADD', p .. ':active', ARGV[4], id)
if ARGV[6] == '1' then return 1 end
local held = rcall('GET', KEYS[2])
if not held or held == lease then
  rcall('SET', KEYS[2], lease, 'PX', ARGV[5])
  rcall('SREM', KEYS[3], id)
end
return 1
`;

/**
 * A lease handed back: the delivery is ready again, due now, at its place in its key's line (it stays the head), with a
 * new ticket (via the outbox) that any claimer may take at once. KEYS: hash. ARGV: prefix, id, lease, now.
 * Returns {1, the new ticket} or {0}.
 */
const RELEASE = `${PRELUDE}
local p, id = ARGV[1], ARGV[2]
local f = rcall('HMGET', KEYS[1], 'state', 'lease')
if f[1] ~= 'active' or f[2] ~= ARGV[3] then return {0} end
rcall('HSET', KEYS[1], 'state', 'ready', 'availableAt', ARGV[4])
rcall('HDEL', KEYS[1], 'lease', 'workerId', 'leaseUntil', 'gate')
rcall('ZREM', p .. ':active', id)
rcall('ZREM', p .. ':delayed', id)
return {1, newTicket(p, id)}
`;

/** ARGV: prefix, now, ids… Returns {moved, ticket job ids to add…}. */
const REPLAY = `${PRELUDE}
local p, now = ARGV[1], ARGV[2]
local out = {0}
for i = 3, #ARGV do
  local id = ARGV[i]
  local h = p .. ':d:' .. id
  -- a dead letter whose payload retention dropped stays dead: there is nothing left to deliver
  if rcall('HGET', h, 'state') == 'dead' and rcall('HEXISTS', h, 'payload') == 1 then
    local seq = rcall('INCR', p .. ':seq')
    rcall('HSET', h, 'state', 'ready', 'attempts', 0, 'availableAt', now, 'seq', seq)
    rcall('HDEL', h, 'firstAttemptAt', 'deadAt', 'reason')
    rcall('ZREM', p .. ':dead', id)
    rcall('ZADD', p .. ':pending', seq, id)
    local f = rcall('HMGET', h, 'destination', 'orderingKey')
    if enqueue(p, id, f[1], f[2]) then out[#out + 1] = newTicket(p, id) end
    out[1] = out[1] + 1
  end
end
return out
`;

/**
 * Retention of dead letters. ARGV: prefix, payloadBefore, deadBefore, most to remove, payload offset and page size (the
 * page of the walk over those older than payloadBefore). Removes up to that many dead letters older than deadBefore,
 * then drops the payloads still kept in that page of those older than payloadBefore.
 * Returns {payloads dropped, ids looked at for payloads, then messageId, destination, deadAt, id of each removed…}.
 */
const PURGE_DEAD = `
local p, limit = ARGV[1], tonumber(ARGV[4])
local out = {0, 0}
local doomed = {}
if limit > 0 then doomed = redis.call('ZRANGEBYSCORE', p .. ':dead', '-inf', '(' .. ARGV[3], 'LIMIT', 0, limit) end
for _, id in ipairs(doomed) do
  local h = p .. ':d:' .. id
  local f = redis.call('HMGET', h, 'messageId', 'destination', 'deadAt')
  redis.call('DEL', h)
  redis.call('ZREM', p .. ':dead', id)
  out[#out + 1] = f[1] or ''
  out[#out + 1] = f[2] or ''
  out[#out + 1] = f[3] or '0'
  out[#out + 1] = id
end
local ids = redis.call('ZRANGEBYSCORE', p .. ':dead', '-inf', '(' .. ARGV[2], 'LIMIT', tonumber(ARGV[5]), tonumber(ARGV[6]))
out[2] = #ids
for _, id in ipairs(ids) do
  if redis.call('HDEL', p .. ':d:' .. id, 'payload') == 1 then out[1] = out[1] + 1 end
end
return out
`;

/** KEYS: hash. ARGV: prefix, id, now, reason, tombstoneTtlMs. */
const DISCARD = `${PRELUDE}
if rcall('HGET', KEYS[1], 'state') ~= 'dead' then return 0 end
rcall('HSET', KEYS[1], 'state', 'discarded', 'discardedAt', ARGV[3], 'discardReason', ARGV[4])
rcall('HDEL', KEYS[1], 'payload')
rcall('ZREM', ARGV[1] .. ':dead', ARGV[2])
rcall('PEXPIRE', KEYS[1], ARGV[5])
return 1
`;

/**
 * Which of these ids lack the ticket they need (unfinished, head of their key or unordered, no BullMQ job for
 * their latest ticket), as the job ids to add. ARGV: prefix, BullMQ job key prefix, forget (1: drop the others
 * from tojob), ids…
 */
const CHECK = `${PRELUDE}
local p, jobPrefix, forget = ARGV[1], ARGV[2], ARGV[3] == '1'
local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local f = rcall('HMGET', p .. ':d:' .. id, 'state', 'orderingKey', 'destination')
  local missing
  if f[1] and unfinished(f[1]) and (f[2] == '' or rcall('LINDEX', listKey(p, f[3], f[2]), 0) == id) then
    local ticket = ticketOf(p, id)
    if rcall('EXISTS', jobPrefix .. ticket) == 0 then missing = ticket end
  end
  if missing then out[#out + 1] = missing elseif forget then rcall('SREM', p .. ':tojob', id) end
end
return out
`;

/** ARGV: prefix, now. */
const COUNTS = `
local p = ARGV[1]
return {redis.call('ZCARD', p .. ':pending'), redis.call('ZCARD', p .. ':active'),
  redis.call('ZCOUNT', p .. ':delayed', '(' .. ARGV[2], '+inf'), redis.call('ZCARD', p .. ':dead')}
`;

class Script {
  private readonly sha: string;
  constructor(private readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }
  async run(client: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
      return client.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}

const scripts = {
  accept: new Script(ACCEPT),
  gate: new Script(GATE),
  finish: new Script(FINISH),
  retry: new Script(RETRY),
  extend: new Script(EXTEND),
  release: new Script(RELEASE),
  replay: new Script(REPLAY),
  discard: new Script(DISCARD),
  purgeDead: new Script(PURGE_DEAD),
  check: new Script(CHECK),
  counts: new Script(COUNTS),
};

/**
 * BullMQ's own worker loop hands out the next job in the same script that completes one (moveToFinished with
 * fetchNext); this worker lets the queue do the same with the manual API, which saves a script per delivery.
 */
class TicketWorker extends Worker {
  /** The job that `moveToCompleted(…, token, true)` answered with, locked with `token`, or undefined. */
  async adopt(next: unknown, token: string): Promise<Job | undefined> {
    if (!Array.isArray(next) || !next[0]) return undefined;
    return (await this.nextJobFromJobData(next[0], next[1] as string, token)) ?? undefined;
  }
}

/** The delivery a ticket stands for: its job id is `<delivery id>.<n>` (before that scheme: the delivery id). */
function deliveryOfTicket(jobId: string): string {
  const dot = jobId.lastIndexOf('.');
  return dot > 0 && /^\d+$/.test(jobId.slice(dot + 1)) ? jobId.slice(0, dot) : jobId;
}

/** The URL without its password, for messages. */
/**
 * What a crash of the Redis server would lose, read from its persistence settings: "nothing accepted is lost" needs
 * an append-only file fsynced on every write. Managed Redis services often refuse CONFIG; that is said too.
 */
export async function durabilityWarningOf(client: Redis): Promise<string | undefined> {
  const fix = 'run Redis with appendonly yes and appendfsync always';
  let settings: Record<string, string>;
  try {
    settings = pairs([...((await client.config('GET', 'appendonly')) as string[]), ...((await client.config('GET', 'appendfsync')) as string[])]);
  } catch {
    return `could not read Redis's persistence settings (CONFIG GET refused): unless it keeps an append-only file fsynced on every write, a Redis crash loses accepted messages; ${fix}`;
  }
  if (settings.appendonly !== 'yes') return `Redis keeps no append-only file (appendonly ${settings.appendonly ?? 'unknown'}): a Redis restart loses every accepted message not yet delivered; ${fix}`;
  if (settings.appendfsync !== 'always') return `Redis fsyncs its append-only file ${settings.appendfsync ?? 'at an unknown interval'}, not on every write: a crash of the Redis host can lose messages already answered 202; ${fix}`;
  return undefined;
}

function pairs(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

export async function openRedisQueue(opts: RedisQueueOptions): Promise<QueueDriver> {
  const { sealer } = opts;
  const now = opts.now ?? Date.now;
  const p = opts.prefix ?? 'lienthong';
  const defaultTtl = opts.idempotencyTtlMs ?? DEFAULT_IDEMPOTENCY_TTL_MS;
  const tombstoneTtl = opts.tombstoneTtlMs ?? 30 * 24 * 60 * 60 * 1000;
  const onError = opts.onError ?? (() => {});
  const report = (error: unknown) => onError(error instanceof Error ? error : new Error(String(error)));

  // Our commands fail after a few reconnection tries rather than hang an inbound request forever.
  const client = new Redis(opts.url, { maxRetriesPerRequest: 3, lazyConnect: true });
  // BullMQ's worker connections must retry forever (maxRetriesPerRequest: null), as BullMQ requires.
  const workerConnection = new Redis(opts.url, { maxRetriesPerRequest: null, lazyConnect: true });
  let connectError: Error | undefined;
  const onConnectionError = (error: Error) => {
    connectError ??= error;
    report(error);
  };
  client.on('error', onConnectionError);
  workerConnection.on('error', onConnectionError);
  let queue: Queue | undefined;
  let worker: TicketWorker | undefined;
  try {
    await client.connect();
    await workerConnection.connect();
    const bullPrefix = `${p}:bull`;
    queue = new Queue(REDIS_QUEUE_NAME, { connection: client, prefix: bullPrefix, defaultJobOptions: TICKET_OPTS, streams: { events: { maxLen: 1000 } } });
    worker = new TicketWorker(REDIS_QUEUE_NAME, null, {
      connection: workerConnection,
      prefix: bullPrefix,
      autorun: false,
      lockDuration: INITIAL_LOCK_MS,
      stalledInterval: opts.stalledIntervalMs ?? 2_000,
      maxStalledCount: Number.MAX_SAFE_INTEGER,
      skipLockRenewal: true,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    });
    queue.on('error', report);
    worker.on('error', report);
    await queue.waitUntilReady();
    await worker.waitUntilReady();
  } catch (error) {
    await worker?.close(true).catch(() => {});
    await queue?.close().catch(() => {});
    client.disconnect();
    workerConnection.disconnect();
    const cause = connectError ?? error;
    throw new Error(`cannot open the delivery queue on Redis at ${withoutPassword(opts.url)}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
  connectError = undefined;
  const durabilityWarning = await durabilityWarningOf(client);
  let closed = false;
  const q = queue;
  const w = worker;

  const key = {
    hash: (id: string) => `${p}:d:${id}`,
    tojob: `${p}:tojob`,
    pending: `${p}:pending`,
    active: `${p}:active`,
    dead: `${p}:dead`,
    lock: (id: string) => `${q.toKey(id)}:lock`,
    stalled: q.toKey('stalled'),
    jobPrefix: q.toKey(''),
  };

  /**
   * Tickets held by this instance's leases (delivery id → ticket), to move when the lease ends. One not held here
   * (forgotten beyond the bound) is left locked: BullMQ's stalled checker frees it and the gate drops or parks it.
   */
  const tickets = new Map<string, Job>();
  const holdTicket = (id: string, job: Job) => {
    tickets.set(id, job);
    if (tickets.size > 100_000) tickets.delete(tickets.keys().next().value!);
  };
  /** Numbers each gate call, which tells the gate its own re-sent run from another call with the same token. */
  let gateCalls = 0;
  const releaseTicket = (id: string): Job | undefined => {
    const held = tickets.get(id);
    tickets.delete(id);
    return held;
  };

  /**
   * Deliveries leased at acceptance to this instance's worker (id → lease): they have no ticket, so settling
   * them moves none, and a retry adds one. Kept only while the lease is this instance's.
   */
  const ticketless = new Map<string, string>();
  const isTicketless = (id: string, lease: string) => ticketless.get(id) === lease;

  const addJobs = (jobIds: string[], delayMs = 0) =>
    q.addBulk(jobIds.map((jobId) => ({ name: TICKET, data: {}, opts: { ...TICKET_OPTS, jobId, delay: Math.max(0, delayMs) } })));
  /** The tickets our scripts asked for (job ids), then out of the outbox. */
  const addTickets = async (jobIds: string[], delayMs = 0): Promise<void> => {
    if (!jobIds.length) return;
    await addJobs(jobIds, delayMs);
    // Not awaited by the caller's critical path beyond the write being queued.
    client.srem(key.tojob, ...jobIds.map(deliveryOfTicket)).catch(report);
  };
  /** After our atomic step: add the tickets; a failure here is repaired by the sweeper, never lost. */
  const addTicketsOrLeave = async (jobIds: string[], delayMs = 0) => {
    try {
      await addTickets(jobIds, delayMs);
    } catch (error) {
      report(error);
      setTimeout(() => void sweep(false), 1_000).unref();
    }
  };

  /**
   * Tickets that BullMQ handed over while this instance dropped another (fetch-next), each locked with the token it
   * came with: the next claims take these before asking BullMQ. Few, and released on close.
   */
  const prefetched: Array<{ job: Job; token: string }> = [];

  // BullMQ ticket transitions after our own (authoritative) change. They fail when BullMQ's lock was
  // lost meanwhile; the ticket is then stale and the gate will drop or park it, so failures are ignored.
  const dropTicket = async (id: string, token: string, job?: Job) => {
    try {
      const ticket = job ?? releaseTicket(id);
      const fetchNext = !closed && prefetched.length < MAX_PREFETCHED;
      const next = await ticket?.moveToCompleted(null, token, fetchNext);
      const adopted = fetchNext ? await w.adopt(next, token) : undefined;
      if (adopted?.id) prefetched.push({ job: adopted, token });
    } catch {
      /* stale ticket: handled by the gate */
    }
  };
  const parkTicket = async (id: string, token: string, until: number, job?: Job) => {
    try {
      const ticket = job ?? releaseTicket(id);
      await ticket?.moveToDelayed(Date.now() + Math.max(0, until - now()), token);
    } catch {
      /* stale ticket: handled by the gate */
    }
  };

  const toDelivery = (h: Record<string, string>, payload: string): Delivery => {
    const d: Delivery = {
      id: h.id!,
      messageId: h.messageId!,
      routeId: h.routeId!,
      destination: h.destination!,
      orderingKey: h.orderingKey ?? '',
      payload,
      acceptedAt: Number(h.acceptedAt),
      state: h.state as DeliveryState,
      attempts: Number(h.attempts ?? 0),
      availableAt: Number(h.availableAt),
    };
    if (h.firstAttemptAt !== undefined) d.firstAttemptAt = Number(h.firstAttemptAt);
    if (h.lastError !== undefined) d.lastError = h.lastError;
    if (h.lease !== undefined) d.lease = h.lease;
    return d;
  };
  // A payload that does not open (data key changed) must not make the entry, or the page it is on, unreachable.
  const toDead = (h: Record<string, string>): DeadLetter => {
    const dead = { deadAt: Number(h.deadAt), reason: h.reason ?? '' };
    if (h.payload === undefined) return { ...toDelivery(h, UNSEALABLE_PAYLOAD), ...dead, unsealable: PAYLOAD_DROPPED };
    try {
      return { ...toDelivery(h, sealer.open(h.payload ?? '', h.messageId ?? '')), ...dead };
    } catch (error) {
      return { ...toDelivery(h, UNSEALABLE_PAYLOAD), ...dead, unsealable: unsealableReason(error) };
    }
  };

  let sweeping: Promise<void> | undefined;
  /** Where the next sweep's look over pending deliveries begins (see below). */
  let pendingCursor = 0;
  /** Adds the tickets that are missing: the outbox always; every pending delivery when deep, else the next 1,000. */
  const sweep = (deep: boolean): Promise<void> => {
    if (closed) return Promise.resolve();
    if (sweeping) return sweeping;
    sweeping = (async () => {
      try {
        for (let round = 0; round < 100; round++) {
          const ids = await client.srandmember(key.tojob, 1000);
          if (!ids.length) break;
          const missing = (await scripts.check.run(client, [], [p, key.jobPrefix, 1, ...ids])) as string[];
          if (missing.length) await addTickets(missing);
          if (ids.length < 1000) break;
        }
        // Leases given at acceptance have no ticket, so nothing in BullMQ notices when one expires (a crashed
        // process): an expired lease without a ticket gets one here, and the gate hands the delivery out again.
        for (let start = 0; ; start += 1000) {
          const ids = await client.zrangebyscore(key.active, '-inf', now(), 'LIMIT', start, 1000);
          if (!ids.length) break;
          await addTickets((await scripts.check.run(client, [], [p, key.jobPrefix, 0, ...ids])) as string[]);
          if (ids.length < 1000) break;
        }
        if (deep) {
          for (let start = 0; ; start += 1000) {
            const ids = await client.zrange(key.pending, start, start + 999);
            if (!ids.length) break;
            const missing = (await scripts.check.run(client, [], [p, key.jobPrefix, 0, ...ids])) as string[];
            if (missing.length) await addJobs(missing);
            if (ids.length < 1000) break;
          }
        } else {
          // A ticket lost some way no outbox records (a process of another version dropping one it cannot read,
          // during a rolling upgrade) would leave its delivery waiting for the next start: every sweep also looks
          // at the next 1,000 pending deliveries, so that a whole pass over the queue takes minutes, not a restart.
          const ids = await client.zrange(key.pending, pendingCursor, pendingCursor + 999);
          pendingCursor = ids.length < 1000 ? 0 : pendingCursor + 1000;
          if (ids.length) {
            const missing = (await scripts.check.run(client, [], [p, key.jobPrefix, 0, ...ids])) as string[];
            if (missing.length) await addJobs(missing);
          }
        }
      } catch (error) {
        report(error);
      } finally {
        sweeping = undefined;
      }
    })();
    return sweeping;
  };

  await sweep(true);
  await w.startStalledCheckTimer();
  const sweeper = setInterval(() => void sweep(false), opts.sweepIntervalMs ?? 5_000);
  sweeper.unref();

  const live = () => {
    if (closed) throw new Error('the delivery queue is closed');
  };

  const finish = async (id: string, lease: string, mode: 'complete' | 'dead', reason: string, attemptsAdded: number) => {
    const [ok, next] = (await scripts.finish.run(client, [key.hash(id)], [p, id, lease, mode, now(), reason, attemptsAdded])) as [number, string?];
    const direct = isTicketless(id, lease);
    if (direct) ticketless.delete(id);
    if (ok !== 1) {
      releaseTicket(id);
      throw leaseLost(id);
    }
    if (next) await addTicketsOrLeave([next]);
    if (!direct) await dropTicket(id, lease);
  };

  return {
    kind: 'redis',
    durabilityWarning,

    async accept(message) {
      live();
      const at = now();
      const keys = idempotencyKeysOf(message);
      const args: Array<string | number> = [p, at, message.messageId, Math.max(1, Math.round(message.idempotencyTtlMs ?? defaultTtl)), keys.length];
      for (const { key, fingerprint } of keys) args.push(key, fingerprint ?? '');
      args.push(message.deliveries.length);
      const sealed = sealEach(sealer, message.deliveries.map((d) => d.payload), message.messageId);
      message.deliveries.forEach((d: NewDelivery, i) => args.push(d.id, d.messageId, d.routeId, d.destination, d.orderingKey, sealed[i]!, d.acceptedAt));
      const { lease } = message;
      const token = lease ? `${lease.workerId}:${randomUUID()}` : '';
      args.push(token, lease?.workerId ?? '', lease ? at + lease.leaseMs : 0, lease ? Math.max(0, Math.floor(lease.limit)) : 0);
      const answer = (await scripts.accept.run(client, [], args)) as [0, string[], string[]] | [1, string] | [2, string];
      if (answer[0] === 1) return { messageId: answer[1], duplicate: true };
      if (answer[0] === 2) return { messageId: answer[1], duplicate: false, conflict: true };
      const [, needTickets, leasedIds] = answer;
      for (const id of leasedIds) ticketless.set(id, token);
      if (ticketless.size > 100_000) ticketless.delete(ticketless.keys().next().value!);
      await addTicketsOrLeave(needTickets);
      return leasedIds.length
        ? { messageId: message.messageId, duplicate: false, leased: leasedIds.map((id) => ({ id, lease: token })) }
        : { messageId: message.messageId, duplicate: false };
    },

    async claim(workerId, limit, leaseMs) {
      live();
      const claimed: Delivery[] = [];
      limit = Math.min(Math.floor(limit), MAX_CLAIM);
      // One ticket: fetch it (BullMQ), pass it through the gate (ours), keep, park or drop it.
      const take = async (): Promise<'claimed' | 'stale' | 'none'> => {
        const ready = prefetched.shift();
        const token = ready?.token ?? `${workerId}:${randomUUID()}`;
        const job = ready?.job ?? (await w.getNextJob(token, { block: false }));
        if (!job?.id) return 'none';
        const id = deliveryOfTicket(job.id);
        const at = now();
        const verdict = (await scripts.gate.run(client, [key.hash(id), key.lock(job.id), key.stalled], [p, id, token, workerId, at, at + leaseMs, leaseMs, ++gateCalls])) as [string, unknown];
        switch (verdict[0]) {
          case 'ok': {
            const h = pairs(verdict[1] as string[]);
            holdTicket(id, job);
            // A payload that does not open is handed out leased all the same, flagged: the worker dead-letters it
            // through its usual path (message log event, warning, metric), so that its message settles.
            let delivery: Delivery;
            try {
              delivery = toDelivery(h, sealer.open(h.payload ?? '', h.messageId ?? ''));
            } catch (error) {
              delivery = { ...toDelivery(h, UNSEALABLE_PAYLOAD), unsealable: unsealableReason(error) };
            }
            claimed.push(delivery);
            return 'claimed';
          }
          case 'busy':
          case 'early':
            await parkTicket(id, token, Number(verdict[1]), job);
            return 'stale';
          default: // 'gone', 'not-head'
            await dropTicket(id, token, job);
            return 'stale';
        }
      };
      // Tickets are taken in waves of concurrent round trips (Redis pipelines them on the one
      // connection), so a claim of many costs a few round trips, not two per delivery. Stale tickets do
      // not count towards `limit`, but a bounded number of them is examined per call.
      let budget = limit * 4 + 16;
      while (claimed.length < limit && budget > 0 && !closed) {
        const wave = Math.min(limit - claimed.length, budget, CLAIM_WAVE);
        budget -= wave;
        const outcomes = await Promise.all(Array.from({ length: wave }, take));
        if (outcomes.includes('none')) break;
      }
      return claimed;
    },

    async extend(id, lease, leaseMs) {
      live();
      const at = now();
      const held = isTicketless(id, lease) ? undefined : tickets.get(id)?.id;
      return (await scripts.extend.run(client, [key.hash(id), key.lock(held ?? id), key.stalled], [p, id, lease, at + leaseMs, leaseMs, held ? 0 : 1])) === 1;
    },

    async release(id, lease) {
      live();
      const direct = isTicketless(id, lease);
      if (direct) ticketless.delete(id);
      const [ok, ticket] = (await scripts.release.run(client, [key.hash(id)], [p, id, lease, now()])) as [number, string?];
      if (ok !== 1) {
        releaseTicket(id);
        return false;
      }
      // The old ticket (and with it BullMQ's lock) goes; the new one is due at once.
      if (!direct) await dropTicket(id, lease);
      if (ticket) await addTicketsOrLeave([ticket]);
      return true;
    },

    async complete(id, lease) {
      live();
      await finish(id, lease, 'complete', '', 0);
    },

    async retryLater(id, lease, availableAt, error) {
      live();
      const direct = isTicketless(id, lease);
      if (direct) ticketless.delete(id);
      const [ok, ticket] = (await scripts.retry.run(client, [key.hash(id)], [p, id, lease, availableAt, error, direct ? 1 : 0])) as [number, string?];
      if (ok !== 1) {
        releaseTicket(id);
        throw leaseLost(id);
      }
      if (ticket) await addTicketsOrLeave([ticket], availableAt - now());
      else await parkTicket(id, lease, availableAt);
    },

    async deadLetter(id, lease, reason) {
      live();
      await finish(id, lease, 'dead', reason, 1);
    },

    async listDead(filter: DeadLetterFilter = {}) {
      live();
      const limit = Math.max(0, Math.floor(filter.limit ?? 100));
      let skip = Math.max(0, Math.floor(filter.offset ?? 0));
      const out: DeadLetter[] = [];
      const min = filter.since !== undefined ? String(filter.since) : '-inf';
      for (let offset = 0; out.length < limit; offset += 500) {
        const ids = await client.zrangebyscore(key.dead, min, '+inf', 'LIMIT', offset, 500);
        if (!ids.length) break;
        const pipeline = client.pipeline();
        for (const id of ids) pipeline.hgetall(key.hash(id));
        const rows = (await pipeline.exec()) ?? [];
        for (const [error, row] of rows) {
          if (error) throw error;
          const h = row as Record<string, string>;
          if (h.state !== 'dead') continue;
          if (filter.destination !== undefined && h.destination !== filter.destination) continue;
          if (filter.routeId !== undefined && h.routeId !== filter.routeId) continue;
          if (filter.messageId !== undefined && h.messageId !== filter.messageId) continue;
          if (filter.orderingKey !== undefined && h.orderingKey !== filter.orderingKey) continue;
          if (skip > 0) { skip--; continue; }
          out.push(toDead(h));
          if (out.length >= limit) break;
        }
        if (ids.length < 500) break;
      }
      return out;
    },

    async getDead(id) {
      live();
      const h = await client.hgetall(key.hash(id));
      return h.state === 'dead' ? toDead(h) : undefined;
    },

    async replay(ids) {
      live();
      if (!ids.length) return 0;
      const [moved, ...needs] = (await scripts.replay.run(client, [], [p, now(), ...ids])) as [number, ...string[]];
      await addTicketsOrLeave(needs);
      return moved;
    },

    async discard(id, reason) {
      live();
      return (await scripts.discard.run(client, [key.hash(id)], [p, id, now(), reason, tombstoneTtl])) === 1;
    },

    async purgeDead({ payloadBefore, deadBefore, limit }) {
      live();
      limit = Math.max(1, Math.floor(limit));
      const removed: Array<Pick<DeadLetter, 'id' | 'messageId' | 'destination' | 'deadAt'>> = [];
      let payloadsDropped = 0;
      // Payloads already dropped stay in the dead set (until their metadata goes): the walk pages past them, and stops
      // after `limit` drops, for the caller to call again.
      for (let offset = 0, first = true; ; first = false) {
        const [dropped, looked, ...rest] = (await scripts.purgeDead.run(client, [], [p, payloadBefore, deadBefore, first ? limit : 0, offset, limit])) as [number, number, ...string[]];
        for (let i = 0; i + 3 < rest.length; i += 4) removed.push({ messageId: rest[i]!, destination: rest[i + 1]!, deadAt: Number(rest[i + 2]), id: rest[i + 3]! });
        payloadsDropped += dropped;
        offset += looked;
        if (looked < limit || payloadsDropped >= limit) break;
      }
      return { payloadsDropped, removed };
    },

    async counts(): Promise<QueueCounts> {
      live();
      const [pending, active, delayed, dead] = (await scripts.counts.run(client, [], [p, now()])) as number[];
      return { ready: Math.max(0, pending! - active! - delayed!), delayed: delayed!, active: active!, dead: dead! };
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      await sweeping?.catch(() => {});
      // Handed over but never claimed: back to wait now, rather than after their lock expires.
      // With Redis unreachable a graceful close would wait for a reconnection that may never come (the worker's
      // connection retries forever): the connections are dropped instead, and the leases bring back what was in flight.
      if (client.status !== 'ready' || workerConnection.status !== 'ready') {
        await Promise.race([w.close(true).catch(report), new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
        client.disconnect();
        workerConnection.disconnect();
        return;
      }
      await Promise.allSettled(prefetched.splice(0).map(({ job, token }) => job.moveToWait(token)));
      await w.close().catch(report);
      await q.close().catch(report);
      await Promise.allSettled([client.quit(), workerConnection.quit()]);
    },
  };
}
