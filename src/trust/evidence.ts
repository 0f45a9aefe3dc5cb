import { hash as oneShotHash, X509Certificate } from 'node:crypto';
import { isHubError } from '../core/errors.js';
import { decodeProof } from './hash-tree.js';
import { MESSAGE_HEADERS, verifyMessage, type ChainCheck } from './message-signature.js';
import { nameOf, participantOf } from './pki.js';
import { kidOf, readBatchSignature, verifyBatchSignature } from './signer.js';
import { createTrustStore, type TrustStore } from './trust-store.js';

/**
 * The message log's audit chain: its format, and the offline check of an evidence bundle.
 *
 * Writing (src/store/journal.ts) and checking (here, and src/store/journal-verify.ts) share these functions, so the
 * two halves of the format cannot drift apart. The checks here are pure: no database, no clock, no network.
 *
 * - An entry states what one write did: `{at, kind, ref, facts}`. Its digest is SHA-256 of the canonical JSON of
 *   those four members (RFC 8785 style: sorted keys, no spaces, ECMAScript number form).
 * - hash(n) = SHA-256(hash(n - 1) ‖ digest(n)), raw bytes; a chain starts from genesisHash(chainId), so an entry
 *   cannot be moved to another chain without breaking it.
 * - A checkpoint signs SHA-256 of `lienthong-checkpoint/1\n<chain>\n<seq>\n<hash>\n<at>\n` with the hub's key, as a
 *   detached JWS of the batch signer (signer.ts).
 * - An evidence bundle holds one message, its events, its entries in full, and, for every chain it was written to,
 *   the segment from its first entry to the signed checkpoint after its last one (other messages' entries by digest
 *   only, so a bundle discloses nothing of them). Anyone can recompute the segment up to the checkpoint's hash.
 */

export const JOURNAL_FORMAT = 'lienthong-journal/1';
export const CHECKPOINT_FORMAT = 'lienthong-checkpoint/1';
export const EVIDENCE_FORMAT = 'lienthong-evidence/1';

/** What an entry records: `message` (recorded or re-recorded), `state`, `event`, `access` (an access-right change), `purge` (retention), `open` (a writer began this chain). */
export type JournalKind = 'open' | 'message' | 'state' | 'event' | 'access' | 'purge';

export type Facts = Record<string, unknown>;

/** A chain id is printable ASCII without spaces, so that the checkpoint's signed text has one reading. */
export const CHAIN_ID = /^[\x21-\x7e]{1,128}$/;

// ------------------------------------------------------------------------------------------------
// canonical JSON, digests, the chain
// ------------------------------------------------------------------------------------------------

/** Sorted keys, no whitespace, undefined members left out; only JSON values (finite numbers). */
export function canonicalJson(value: unknown): string {
  // The journal's own facts are built with their keys already in order: then the native serialiser writes exactly
  // the canonical form, several times faster than the general path below.
  if (inCanonicalOrder(value)) return JSON.stringify(value);
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON holds finite numbers only');
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item ?? null)).join(',')}]`;
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record).filter((key) => record[key] !== undefined).sort();
      return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`).join(',')}}`;
    }
    default:
      throw new TypeError(`canonical JSON cannot hold a ${typeof value}`);
  }
}

/** Whether JSON.stringify(value) is already canonical: plain data, finite numbers, every object's keys sorted. */
function inCanonicalOrder(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (Array.isArray(value)) return value.every((item) => item !== undefined && inCanonicalOrder(item));
      if (Object.getPrototypeOf(value) !== Object.prototype) return false;
      let previous: string | undefined;
      for (const key in value) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined || (previous !== undefined && key <= previous) || !inCanonicalOrder(item)) return false;
        previous = key;
      }
      return true;
    }
    default:
      return false;
  }
}

export function sha256Hex(data: string | Buffer): string {
  return oneShotHash('sha256', data, 'hex');
}

/** The hash a chain starts from. */
export function genesisHash(chainId: string): string {
  return sha256Hex(`${JOURNAL_FORMAT}\n${chainId}`);
}

/** The SHA-256 an entry's digest is, as bytes; `factsText` is canonicalJson(facts), passed to serialise it once. */
export function entryDigestBytes(entry: { at: number; kind: string; ref: string }, factsText: string): Buffer {
  if (!Number.isFinite(entry.at)) throw new TypeError('an entry\'s time is a finite number');
  return oneShotHash('sha256', `{"at":${JSON.stringify(entry.at)},"facts":${factsText},"kind":${JSON.stringify(entry.kind)},"ref":${JSON.stringify(entry.ref)}}`, 'buffer');
}

export function entryDigest(entry: { at: number; kind: string; ref: string }, factsText: string): string {
  return entryDigestBytes(entry, factsText).toString('hex');
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/** SHA-256(previous ‖ digest) over the raw 32-byte values. */
export function chainHashBytes(previous: Buffer, digest: Buffer): Buffer {
  return oneShotHash('sha256', Buffer.concat([previous, digest], 64), 'buffer');
}

export function chainHash(previous: string, digest: string): string {
  if (!HEX_HASH.test(previous) || !HEX_HASH.test(digest)) throw new TypeError('chain hashes and digests are 64 lowercase hex characters');
  return chainHashBytes(Buffer.from(previous, 'hex'), Buffer.from(digest, 'hex')).toString('hex');
}

/** The 32 bytes a checkpoint's JWS signs. */
export function checkpointDigest(checkpoint: { chainId: string; seq: number; hash: string; at: number }): Buffer {
  return oneShotHash('sha256', `${CHECKPOINT_FORMAT}\n${checkpoint.chainId}\n${checkpoint.seq}\n${checkpoint.hash}\n${checkpoint.at}\n`, 'buffer');
}

// ------------------------------------------------------------------------------------------------
// facts of a message, and their replay
// ------------------------------------------------------------------------------------------------

/** What a `message` entry states: the message's facts as written, and the SHA-256 of its plaintext payload, never the payload. */
export interface MessageFacts {
  id: string;
  messageType: string;
  routeId?: string;
  participant: string;
  connector: string;
  operation: string;
  dossierCode?: string;
  correlationId: string;
  receivedAt: number;
  requestBytes?: number;
  state: string;
  deliveries: number;
  reason?: string;
  /** Lowercase hex SHA-256 of the payload's UTF-8 bytes. */
  payloadSha256?: string;
  /** The hub-to-hub signature headers the message arrived or left with. */
  signature?: Record<string, string>;
}

export type MessageField = keyof MessageFacts;

export const MESSAGE_FIELDS: readonly MessageField[] = [
  'id', 'messageType', 'routeId', 'participant', 'connector', 'operation', 'dossierCode', 'correlationId',
  'receivedAt', 'requestBytes', 'state', 'deliveries', 'reason', 'payloadSha256', 'signature',
];

/** The fields a message row holds itself (its payload is held sealed, so its digest is checked apart). */
export const ROW_FIELDS: readonly MessageField[] = MESSAGE_FIELDS.filter((field) => field !== 'payloadSha256');

/** A re-recorded message keeps its first receivedAt, and these when not given again (as the store's upsert does). */
const KEPT_WHEN_ABSENT: readonly MessageField[] = ['routeId', 'dossierCode', 'requestBytes', 'payloadSha256', 'signature'];

export interface FoldedMessage {
  facts: MessageFacts;
  /** For each field, the index (in the entries given) of the entry that last set it. */
  setBy: Partial<Record<MessageField, number>>;
}

/**
 * The message as its `message` and `state` entries (in the order they were committed) leave it. Undefined when no
 * `message` entry is among them. Entries of other kinds are skipped.
 */
export function foldMessage(entries: ReadonlyArray<{ kind: string; facts: Facts }>): FoldedMessage | undefined {
  let facts: Record<string, unknown> | undefined;
  const setBy: Partial<Record<MessageField, number>> = {};
  entries.forEach((entry, index) => {
    if (entry.kind === 'message') {
      const next = entry.facts;
      if (!facts) {
        facts = { ...next };
        for (const field of MESSAGE_FIELDS) if (next[field] !== undefined) setBy[field] = index;
        return;
      }
      for (const field of MESSAGE_FIELDS) {
        if (field === 'receivedAt') continue;
        if (next[field] === undefined && KEPT_WHEN_ABSENT.includes(field)) continue;
        if (next[field] === undefined) delete facts[field];
        else facts[field] = next[field];
        setBy[field] = index;
      }
    } else if (entry.kind === 'state' && facts) {
      facts.state = entry.facts.state;
      if (entry.facts.reason === undefined) delete facts.reason;
      else facts.reason = entry.facts.reason;
      setBy.state = index;
      setBy.reason = index;
    }
  });
  return facts ? { facts: facts as unknown as MessageFacts, setBy } : undefined;
}

/** The fields whose values differ between two message fact sets (compared as canonical JSON). */
export function differingFields(expected: Partial<MessageFacts>, actual: Partial<MessageFacts>, fields: readonly MessageField[] = MESSAGE_FIELDS): MessageField[] {
  return fields.filter((field) => canonicalJson(expected[field] ?? null) !== canonicalJson(actual[field] ?? null));
}

// ------------------------------------------------------------------------------------------------
// checkpoints
// ------------------------------------------------------------------------------------------------

export interface CheckpointRecord {
  chainId: string;
  seq: number;
  hash: string;
  at: number;
  /** Detached JWS (`header..signature`) over checkpointDigest, possibly shared with other digests of a batch. */
  jws: string;
  /** The checkpoint's Merkle proof within that batch ('' when signed alone). */
  proof: string;
  /** The signer's certificate chain, base64 DER, leaf first. */
  certificates: string[];
}

export type CheckpointCheck =
  | { ok: true; signer: X509Certificate; trusted?: boolean; note?: string }
  | { ok: false; code: 'checkpoint-signature' | 'checkpoint-untrusted'; reason: string; signer?: X509Certificate };

function certificateOf(base64: string): X509Certificate | undefined {
  try {
    return new X509Certificate(Buffer.from(base64, 'base64'));
  } catch {
    return undefined;
  }
}

function reasonOf(error: unknown): string {
  if (isHubError(error)) return error.detail[0]?.reason ?? error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * Checks a checkpoint's signature with the certificate it carries, and, when a trust store is given, that certificate's
 * chain at the checkpoint's time. Without a trust store, the signature only proves that whoever holds that
 * certificate's key signed: the caller must judge the certificate (the report names it).
 */
export async function checkCheckpoint(checkpoint: CheckpointRecord, trust?: TrustStore): Promise<CheckpointCheck> {
  const [leafText, ...rest] = checkpoint.certificates;
  const signer = leafText === undefined ? undefined : certificateOf(leafText);
  if (!signer) return { ok: false, code: 'checkpoint-signature', reason: 'the checkpoint carries no readable certificate' };
  const presented = rest.map(certificateOf);
  if (presented.some((cert) => cert === undefined)) return { ok: false, code: 'checkpoint-signature', reason: 'a certificate of the checkpoint\'s chain is unreadable', signer };
  try {
    const signature = readBatchSignature(checkpoint.jws);
    // One text per signature: base64url whose unused trailing bits vary would decode to the same bytes.
    for (const part of [signature.protectedHeader, signature.signature]) {
      if (Buffer.from(part, 'base64url').toString('base64url') !== part) return { ok: false, code: 'checkpoint-signature', reason: 'the JWS is not in canonical base64url', signer };
    }
    if (signature.header.kid !== undefined && signature.header.kid !== kidOf(signer)) {
      return { ok: false, code: 'checkpoint-signature', reason: 'the JWS kid names another certificate than the one the checkpoint carries', signer };
    }
    if (signature.header.x5c !== undefined && canonicalJson(signature.header.x5c) !== canonicalJson(checkpoint.certificates)) {
      return { ok: false, code: 'checkpoint-signature', reason: 'the JWS x5c differs from the certificates the checkpoint carries', signer };
    }
    await verifyBatchSignature(signature, checkpointDigest(checkpoint), decodeProof(checkpoint.proof), signer.publicKey);
  } catch (error) {
    return { ok: false, code: 'checkpoint-signature', reason: reasonOf(error), signer };
  }
  if (!trust) return { ok: true, signer };
  const result = trust.validate(signer, presented as X509Certificate[], new Date(checkpoint.at), 'signing');
  if (!result.ok) return { ok: false, code: 'checkpoint-untrusted', reason: `${result.code}: ${result.reason}`, signer };
  return { ok: true, signer, trusted: true };
}

/** A certificate for people: CN, participant, kid. */
export function describeSigner(cert: X509Certificate): string {
  const participant = participantOf(cert);
  return `${nameOf(cert)}${participant ? ` (${participant})` : ''} kid ${kidOf(cert)}`;
}

export function trustStoreOf(anchors: readonly string[] | undefined): TrustStore | undefined {
  return anchors && anchors.length > 0 ? createTrustStore({ anchors: [...anchors], cacheTtlMs: 0 }) : undefined;
}

// ------------------------------------------------------------------------------------------------
// the evidence bundle
// ------------------------------------------------------------------------------------------------

/** An entry of this message, in full. `pos` is the commit order across chains (not hashed: see docs/audit.md). */
export interface EvidenceEntry {
  seq: number;
  pos: number;
  at: number;
  kind: JournalKind;
  ref: string;
  facts: Facts;
}

/** Another message's entry: only what the chain needs. */
export interface EvidenceDigest {
  seq: number;
  digest: string;
}

export interface EvidenceSegment {
  chainId: string;
  /** The hash before the segment's first entry (genesisHash(chainId) when it starts at seq 1). */
  previousHash: string;
  /** Contiguous, in seq order, ending at the checkpoint's seq. */
  entries: Array<EvidenceEntry | EvidenceDigest>;
  /** Absent when no signed checkpoint covered the segment yet when it was exported. */
  checkpoint?: CheckpointRecord;
}

export interface EvidenceEvent extends Facts {
  /** The event's row id, as its journal entry states it. */
  id: number;
  messageId: string;
  at: number;
  kind: string;
}

export interface EvidenceBundle {
  format: typeof EVIDENCE_FORMAT;
  exportedAt: string;
  /** The message row as stored, and its plaintext payload while the log still keeps it. */
  message: MessageFacts & { payload?: string };
  events: EvidenceEvent[];
  segments: EvidenceSegment[];
}

export interface EvidenceCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface EvidenceReport {
  ok: boolean;
  /**
   * Whether the certificates were checked against trust anchors. Without anchors a signature only proves that whoever
   * holds the key of the certificate the bundle carries signed it: a bundle re-signed with a self-made certificate naming
   * the same participant passes too.
   */
  anchored: boolean;
  messageId: string;
  /** Facts proven by the journal (when the chain and checkpoints verify). */
  message?: { messageType: string; participant: string; connector: string; operation: string; dossierCode?: string; correlationId: string; receivedAt: string; state: string };
  /** The hub-to-hub signature the message carried, when it did. */
  signature?: { client: string; service: string; signedAt: string; signer: string; verified: boolean };
  checkpoints: Array<{ chainId: string; seq: number; at: string; signer: string; trusted?: boolean }>;
  checks: EvidenceCheck[];
}

export interface EvidenceOptions {
  /** PEM trust anchors: the checkpoint and message certificates must chain to one of them. */
  anchors?: readonly string[];
}

const isFull = (entry: EvidenceEntry | EvidenceDigest): entry is EvidenceEntry => 'kind' in entry;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shapeProblem(bundle: unknown): string | undefined {
  if (!isObject(bundle)) return 'the bundle is not a JSON object';
  if (bundle.format !== EVIDENCE_FORMAT) return `the bundle's format is not ${EVIDENCE_FORMAT}`;
  if (!isObject(bundle.message) || typeof bundle.message.id !== 'string') return 'the bundle has no message with an id';
  if (!Array.isArray(bundle.events) || !bundle.events.every((e) => isObject(e) && typeof e.id === 'number')) return 'the bundle\'s events are not a list of events with ids';
  if (!Array.isArray(bundle.segments) || bundle.segments.length === 0) return 'the bundle has no journal segments';
  for (const segment of bundle.segments as unknown[]) {
    if (!isObject(segment) || typeof segment.chainId !== 'string' || typeof segment.previousHash !== 'string' || !Array.isArray(segment.entries)) return 'a segment lacks chainId, previousHash or entries';
    for (const entry of segment.entries as unknown[]) {
      if (!isObject(entry) || !Number.isSafeInteger(entry.seq)) return 'a segment entry has no seq';
      if ('kind' in entry ? !(typeof entry.kind === 'string' && typeof entry.ref === 'string' && Number.isFinite(entry.at) && isObject(entry.facts)) : typeof entry.digest !== 'string') {
        return `entry ${String(entry.seq)} of chain ${segment.chainId} is neither a full entry nor a digest`;
      }
    }
    if (segment.checkpoint !== undefined) {
      const cp = segment.checkpoint;
      if (!isObject(cp) || typeof cp.jws !== 'string' || typeof cp.proof !== 'string' || !Array.isArray(cp.certificates) || typeof cp.hash !== 'string' || !Number.isSafeInteger(cp.seq) || !Number.isFinite(cp.at)) {
        return `the checkpoint of chain ${segment.chainId} is malformed`;
      }
    }
  }
  return undefined;
}

/** Recomputes one segment up to its checkpoint and checks the checkpoint's signature. */
async function checkSegment(segment: EvidenceSegment, trust: TrustStore | undefined, report: EvidenceReport): Promise<boolean> {
  const name = `chain ${segment.chainId}`;
  const check = (ok: boolean, what: string, detail: string) => {
    report.checks.push({ name: `${name}: ${what}`, ok, detail });
    return ok;
  };
  const first = segment.entries[0];
  if (!first) return check(false, 'segment', 'the segment is empty');
  if (first.seq === 1 && segment.previousHash !== genesisHash(segment.chainId)) return check(false, 'segment', 'a segment starting at seq 1 must start from the chain\'s genesis hash');
  let hash = segment.previousHash;
  let expectedSeq = first.seq;
  for (const entry of segment.entries) {
    if (entry.seq !== expectedSeq) return check(false, 'segment', `seq ${expectedSeq} is missing (found ${entry.seq}): the segment is not contiguous`);
    let digest: string;
    try {
      digest = isFull(entry) ? entryDigest(entry, canonicalJson(entry.facts)) : entry.digest;
      hash = chainHash(hash, digest);
    } catch (error) {
      return check(false, 'segment', `entry seq ${entry.seq} cannot be hashed: ${reasonOf(error)}`);
    }
    expectedSeq++;
  }
  const last = expectedSeq - 1;
  const cp = segment.checkpoint;
  if (!cp) return check(false, 'checkpoint', `no signed checkpoint covers seq ${first.seq}..${last} yet: export again after the hub's next checkpoint`);
  if (cp.chainId !== segment.chainId || cp.seq !== last) return check(false, 'checkpoint', `the checkpoint is for ${cp.chainId} seq ${cp.seq}, not for the segment's end (seq ${last})`);
  if (cp.hash !== hash) return check(false, 'checkpoint', `the entries do not hash to the checkpoint's hash at seq ${last}: an entry of seq ${first.seq}..${last} was changed, added or removed`);
  check(true, 'hash chain', `seq ${first.seq}..${last} recomputed to the checkpoint's hash`);
  const verdict = await checkCheckpoint(cp, trust);
  const signer = verdict.signer ? describeSigner(verdict.signer) : 'unknown';
  report.checkpoints.push({ chainId: cp.chainId, seq: cp.seq, at: new Date(cp.at).toISOString(), signer, ...(verdict.ok && verdict.trusted ? { trusted: true } : {}) });
  if (!verdict.ok) return check(false, 'checkpoint signature', verdict.reason);
  return check(true, 'checkpoint signature', `signed by ${signer} at ${new Date(cp.at).toISOString()}${trust ? ', chained to a given trust anchor' : ' (certificate chain not checked: no trust anchor given)'}`);
}

function resolverFor(trust: TrustStore | undefined) {
  return {
    resolveCertificate(header: { kid?: string; x5c?: string[] }) {
      const [leaf, ...rest] = (header.x5c ?? []).map(certificateOf);
      if (!leaf || rest.some((cert) => cert === undefined)) return undefined;
      return { certificate: leaf, chain: rest as X509Certificate[] };
    },
    checkChain(certificate: X509Certificate, chain: X509Certificate[], at: Date): ChainCheck {
      if (!trust) return { ok: true };
      const result = trust.validate(certificate, chain, at, 'signing');
      return result.ok ? { ok: true } : { ok: false, code: result.code, reason: result.reason };
    },
  };
}

/**
 * The message's hub-to-hub signature: verifyMessage checks everything a receiving hub checks, at the signed time (the
 * certificate, the JWS, the signer being the participant the message names), over the stored payload, or, once
 * retention dropped it, over the payload digest the journal holds.
 */
async function checkMessageSignature(headers: Record<string, string>, payload: string | undefined, payloadSha256: string | undefined, trust: TrustStore | undefined, report: EvidenceReport): Promise<boolean> {
  const check = (ok: boolean, detail: string) => {
    report.checks.push({ name: 'message signature', ok, detail });
    return ok;
  };
  const signedAt = new Date(headers[MESSAGE_HEADERS.time] ?? '');
  if (Number.isNaN(signedAt.getTime())) return check(false, 'the signature headers carry no readable x-lienthong-time');
  const resolver = resolverFor(trust);
  const requestHash = headers[MESSAGE_HEADERS.requestHash];
  if (payload === undefined && !(typeof payloadSha256 === 'string' && /^[0-9a-f]{64}$/.test(payloadSha256))) {
    return check(false, 'the payload is no longer kept and the journal holds no payload digest to check the signed content-digest against');
  }
  let signer: X509Certificate;
  try {
    const verified = await verifyMessage(headers, payload === undefined ? Buffer.alloc(0) : Buffer.from(payload, 'utf8'), {
      ...resolver,
      now: () => signedAt,
      ...(requestHash === undefined ? {} : { expectRequestHash: requestHash }),
      ...(payload === undefined ? { contentDigest: `sha-256=:${Buffer.from(payloadSha256!, 'hex').toString('base64')}:` } : {}),
    });
    signer = verified.certificate;
  } catch (error) {
    if (payload === undefined && isHubError(error) && error.type === 'trust.body-mismatch') return check(false, 'the signed content-digest differs from the payload digest in the journal');
    return check(false, reasonOf(error));
  }
  report.signature = {
    client: headers[MESSAGE_HEADERS.client] ?? '',
    service: headers[MESSAGE_HEADERS.service] ?? '',
    signedAt: signedAt.toISOString(),
    signer: describeSigner(signer),
    verified: true,
  };
  const how = payload !== undefined ? 'over the stored payload' : 'over the signed headers; the payload is no longer kept, its digest matches the signed content-digest';
  return check(true, `signed by ${describeSigner(signer)} at ${signedAt.toISOString()}, ${how}${trust ? '' : ' (certificate chain not checked: no trust anchor given)'}`);
}

/**
 * Checks an evidence bundle offline: each segment recomputed to its signed checkpoint, the checkpoints' signatures
 * (and certificates, against `anchors` when given), the message row and its events against their journal entries,
 * the payload against its journaled digest, and the message's own signature. Never throws on a bad bundle: every
 * problem is a failed check in the report.
 */
export async function verifyEvidence(input: unknown, options: EvidenceOptions = {}): Promise<EvidenceReport> {
  const problem = shapeProblem(input);
  const messageId = isObject(input) && isObject(input.message) && typeof input.message.id === 'string' ? input.message.id : '';
  const report: EvidenceReport = { ok: false, anchored: false, messageId, checkpoints: [], checks: [] };
  if (problem) {
    report.checks.push({ name: 'bundle', ok: false, detail: problem });
    return report;
  }
  const bundle = input as EvidenceBundle;
  let trust: TrustStore | undefined;
  try {
    trust = trustStoreOf(options.anchors);
  } catch (error) {
    report.checks.push({ name: 'trust anchors', ok: false, detail: reasonOf(error) });
    return report;
  }
  report.anchored = trust !== undefined;
  let ok = true;
  for (const segment of bundle.segments) ok = (await checkSegment(segment, trust, report)) && ok;

  const own = bundle.segments.flatMap((segment) => segment.entries.filter(isFull).map((entry) => ({ ...entry, chainId: segment.chainId }))).filter((entry) => entry.ref === messageId);
  own.sort((a, b) => a.pos - b.pos);
  const check = (name: string, passed: boolean, detail: string) => {
    report.checks.push({ name, ok: passed, detail });
    ok = passed && ok;
  };
  // pos (commit order) is not hashed: it may only interleave chains, never reorder one chain against its seq.
  const lastSeq = new Map<string, number>();
  const ordered = own.every((entry) => {
    const before = lastSeq.get(entry.chainId) ?? 0;
    lastSeq.set(entry.chainId, entry.seq);
    return Number.isFinite(entry.pos) && entry.seq > before;
  });
  if (!ordered) check('commit order', false, 'the entries\' commit order (pos) contradicts their order in their chain (seq)');

  const folded = foldMessage(own);
  if (!folded) {
    check('message', false, 'no journal entry in the bundle records this message');
  } else {
    const { payload: _payload, ...row } = bundle.message;
    const fields = differingFields(folded.facts, row, ROW_FIELDS);
    check('message', fields.length === 0, fields.length === 0 ? 'the message row equals what its journal entries recorded' : `the message row differs from its journal entries in ${fields.join(', ')}`);
    const facts = folded.facts;
    report.message = {
      messageType: facts.messageType, participant: facts.participant, connector: facts.connector, operation: facts.operation,
      ...(facts.dossierCode === undefined ? {} : { dossierCode: facts.dossierCode }),
      correlationId: facts.correlationId, receivedAt: new Date(facts.receivedAt).toISOString(), state: facts.state,
    };
    const payload = bundle.message.payload;
    if (payload !== undefined) {
      check('payload', sha256Hex(Buffer.from(payload, 'utf8')) === facts.payloadSha256, sha256Hex(Buffer.from(payload, 'utf8')) === facts.payloadSha256 ? 'the payload\'s SHA-256 equals the journaled digest' : 'the payload\'s SHA-256 differs from the journaled digest');
    } else if (facts.payloadSha256 !== undefined) {
      report.checks.push({ name: 'payload', ok: true, detail: `the payload is no longer kept (retention); the journal holds its SHA-256 ${facts.payloadSha256}` });
    }
    if (facts.signature !== undefined) ok = (await checkMessageSignature(facts.signature, payload, facts.payloadSha256, trust, report)) && ok;
  }

  const journaled = new Map(own.filter((entry) => entry.kind === 'event').map((entry) => [entry.facts.id, entry]));
  const problems: string[] = [];
  for (const event of bundle.events) {
    const entry = journaled.get(event.id);
    if (!entry) problems.push(`event ${event.id} has no journal entry`);
    else if (canonicalJson(entry.facts) !== canonicalJson(event)) problems.push(`event ${event.id} differs from its journal entry seq ${entry.seq}`);
    journaled.delete(event.id);
  }
  for (const [id, entry] of journaled) problems.push(`event ${String(id)} (journal seq ${entry.seq}) is missing from the bundle`);
  check('events', problems.length === 0, problems.length === 0 ? `${bundle.events.length} event(s), each equal to its journal entry` : problems.join('; '));

  report.ok = ok && report.checks.every((c) => c.ok);
  return report;
}

/** The report as lines for people. */
export function formatEvidenceReport(report: EvidenceReport): string {
  const unanchored = report.ok && !report.anchored;
  const lines = [`${report.ok ? (unanchored ? 'OK, BUT NO TRUST ANCHOR CHECKED' : 'OK') : 'FAILED'}: evidence for message ${report.messageId}`];
  if (unanchored) {
    lines.push('  WARNING: no trust anchor given (--ca): the signatures were checked only with the certificates the bundle itself carries, so a bundle rewritten and re-signed with a self-made certificate naming the same participant passes too. Check again with --ca <the CA of the hub>, or compare the signers\' kid below with the hub\'s certificate.');
  }
  if (report.message) {
    const m = report.message;
    lines.push(`  ${m.messageType} from ${m.participant} via ${m.connector}.${m.operation}, received ${m.receivedAt}, state ${m.state}${m.dossierCode ? `, dossier ${m.dossierCode}` : ''}, correlation ${m.correlationId}`);
  }
  if (report.signature) lines.push(`  signed as ${report.signature.client} for ${report.signature.service} at ${report.signature.signedAt} by ${report.signature.signer}`);
  for (const cp of report.checkpoints) lines.push(`  covered by checkpoint ${cp.chainId} seq ${cp.seq} at ${cp.at}, signed by ${cp.signer}${cp.trusted ? ' (trusted)' : ''}`);
  for (const c of report.checks) lines.push(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  return lines.join('\n');
}
