import { createHash } from 'node:crypto';
import { HubError } from '../core/errors.js';

/**
 * A Merkle hash tree over message digests, so that one signature can cover a whole batch of messages (X-Road's batch
 * signatures): the signer signs the root, and each message carries the short proof that links its leaf to that root.
 *
 * Hashing follows RFC 6962 §2.1: leaf = SHA-256(0x00 ‖ data), node = SHA-256(0x01 ‖ left ‖ right). The two prefixes keep
 * a leaf from ever being mistaken for an inner node (otherwise an inner node's two children could be presented as a
 * "message"). An odd node at the end of a level is promoted to the next level unchanged, never paired with a copy of
 * itself (duplication lets two different leaf lists share a root, the CVE-2012-2459 flaw). Built bottom-up this way,
 * the tree is exactly RFC 6962's (left subtree = the largest power of two below n).
 */

/** One step of a proof: the sibling hash, and on which side of the running hash it sits. */
export interface ProofStep {
  side: 'left' | 'right';
  hash: Buffer;
}

export interface HashTree {
  root: Buffer;
  /** proofs[i] leads from leafHash(leaves[i]) to the root; [] for a lone leaf (its leaf hash is the root). */
  proofs: ProofStep[][];
}

const LEAF_PREFIX = Buffer.of(0x00);
const NODE_PREFIX = Buffer.of(0x01);
const HASH_BYTES = 32;

/** 32 levels cover 2^32 leaves, far beyond any batch; anything deeper in a header is garbage or an attack. */
export const MAX_PROOF_DEPTH = 32;
/** One step in text: a side letter and 43 base64url characters, steps separated by ".". */
const STEP_TEXT = /^[LR][A-Za-z0-9_-]{43}$/;
const STEP_CHARS = 1 + 43;
export const MAX_PROOF_TEXT_LENGTH = MAX_PROOF_DEPTH * (STEP_CHARS + 1) - 1;

export function leafHash(data: Buffer): Buffer {
  return createHash('sha256').update(LEAF_PREFIX).update(data).digest();
}

export function nodeHash(left: Buffer, right: Buffer): Buffer {
  return createHash('sha256').update(NODE_PREFIX).update(left).update(right).digest();
}

function parentLevel(level: Buffer[]): Buffer[] {
  const parents: Buffer[] = [];
  for (let i = 0; i + 1 < level.length; i += 2) parents.push(nodeHash(level[i]!, level[i + 1]!));
  if (level.length % 2 === 1) parents.push(level[level.length - 1]!);
  return parents;
}

function proofOf(levels: Buffer[][], index: number): ProofStep[] {
  const proof: ProofStep[] = [];
  let position = index;
  for (const level of levels.slice(0, -1)) {
    const sibling = position ^ 1;
    // No sibling means this node was promoted: nothing to hash at this level.
    if (sibling < level.length) proof.push({ side: sibling < position ? 'left' : 'right', hash: level[sibling]! });
    position >>= 1;
  }
  return proof;
}

/** The tree over `leaves` (raw data, hashed here as leaves): its root and one proof per leaf, in order. */
export function treeOf(leaves: Buffer[]): HashTree {
  if (leaves.length === 0) throw new RangeError('a hash tree needs at least one leaf');
  const levels: Buffer[][] = [leaves.map(leafHash)];
  while (levels[levels.length - 1]!.length > 1) levels.push(parentLevel(levels[levels.length - 1]!));
  return { root: levels[levels.length - 1]![0]!, proofs: leaves.map((_, index) => proofOf(levels, index)) };
}

/** The root that `proof` leads to from `leafHashValue`; the caller compares it with (or verifies a signature over) the root. */
export function foldProof(leafHashValue: Buffer, proof: ProofStep[]): Buffer {
  return proof.reduce((running, step) => (step.side === 'left' ? nodeHash(step.hash, running) : nodeHash(running, step.hash)), leafHashValue);
}

// ------------------------------------------------------------------------------------------------
// text form, for the x-lienthong-signature-proof header
// ------------------------------------------------------------------------------------------------

/** `L<base64url>.R<base64url>…`, leaf to root; '' for an empty proof (a lone message). */
export function encodeProof(proof: ProofStep[]): string {
  if (proof.length > MAX_PROOF_DEPTH) throw new RangeError(`a proof has at most ${MAX_PROOF_DEPTH} steps`);
  return proof
    .map((step) => {
      if (step.hash.length !== HASH_BYTES) throw new RangeError('a proof step holds a 32-byte SHA-256 hash');
      return `${step.side === 'left' ? 'L' : 'R'}${step.hash.toString('base64url')}`;
    })
    .join('.');
}

function malformed(reason: string, code: string): HubError {
  return new HubError('trust.signature-malformed', `bằng chứng Merkle của chữ ký không hợp lệ / the signature's Merkle proof is malformed: ${reason}`, {
    status: 401,
    detail: [{ reason, code }],
  });
}

/**
 * The proof written by `encodeProof`, decoded strictly: exact step syntax, canonical base64url (one text per hash, so
 * nobody can vary a proof's text without changing it), at most MAX_PROOF_DEPTH steps. Throws
 * `trust.signature-malformed` (401) naming the problem, never quoting the text.
 */
export function decodeProof(text: string): ProofStep[] {
  if (typeof text !== 'string') throw malformed('the proof must be text', 'proof-type');
  if (text === '') return [];
  if (text.length > MAX_PROOF_TEXT_LENGTH) throw malformed(`the proof is longer than ${MAX_PROOF_DEPTH} steps`, 'proof-too-long');
  const parts = text.split('.');
  if (parts.length > MAX_PROOF_DEPTH) throw malformed(`the proof is longer than ${MAX_PROOF_DEPTH} steps`, 'proof-too-long');
  return parts.map((part, index) => {
    if (!STEP_TEXT.test(part)) {
      throw malformed(`step ${index + 1} must be "L" or "R" followed by 43 base64url characters, steps separated by "."`, 'proof-syntax');
    }
    const encoded = part.slice(1);
    const hash = Buffer.from(encoded, 'base64url');
    if (hash.length !== HASH_BYTES || hash.toString('base64url') !== encoded) {
      throw malformed(`step ${index + 1} is not the canonical base64url form of a 32-byte hash`, 'proof-encoding');
    }
    return { side: part[0] === 'L' ? 'left' : 'right', hash };
  });
}
