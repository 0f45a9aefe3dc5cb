import { thrown } from '../support/errors.js';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  MAX_PROOF_DEPTH,
  decodeProof,
  encodeProof,
  foldProof,
  leafHash,
  nodeHash,
  treeOf,
  type ProofStep,
} from '../../src/trust/hash-tree.js';

const sha256 = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const leaves = (n: number) => Array.from({ length: n }, (_, i) => sha256(Buffer.from(`message ${i}`)));

/** RFC 6962 §2.1's recursive definition, written independently of the bottom-up tree under test. */
function rfc6962Root(data: Buffer[]): Buffer {
  if (data.length === 1) return sha256(Buffer.of(0), data[0]!);
  let k = 1;
  while (k * 2 < data.length) k *= 2;
  return sha256(Buffer.of(1), rfc6962Root(data.slice(0, k)), rfc6962Root(data.slice(k)));
}

describe('leafHash and nodeHash', () => {
  it('separate leaves from inner nodes by their prefix byte', () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    expect(leafHash(a)).toEqual(sha256(Buffer.of(0x00), a));
    expect(nodeHash(a, b)).toEqual(sha256(Buffer.of(0x01), a, b));
    // The same 64 bytes hashed as a leaf and as a node give different hashes.
    expect(leafHash(Buffer.concat([a, b]))).not.toEqual(nodeHash(a, b));
  });
});

describe('treeOf and foldProof', () => {
  it('a lone leaf: the root is its leaf hash and its proof is empty', () => {
    const [only] = leaves(1);
    const tree = treeOf([only!]);
    expect(tree.root).toEqual(leafHash(only!));
    expect(tree.proofs).toEqual([[]]);
    expect(encodeProof(tree.proofs[0]!)).toBe('');
  });

  it('every proof folds to the root, for 1 to 70 leaves, and the root is RFC 6962\'s', () => {
    for (let n = 1; n <= 70; n++) {
      const data = leaves(n);
      const tree = treeOf(data);
      expect(tree.root, `n=${n}`).toEqual(rfc6962Root(data));
      expect(tree.proofs).toHaveLength(n);
      data.forEach((leaf, i) => {
        expect(foldProof(leafHash(leaf), tree.proofs[i]!), `n=${n} i=${i}`).toEqual(tree.root);
        expect(tree.proofs[i]!.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
      });
    }
  });

  it('promotes an odd node instead of duplicating it (no two leaf lists share a root)', () => {
    const [a, b, c] = leaves(3);
    const three = treeOf([a!, b!, c!]);
    expect(three.root).toEqual(nodeHash(nodeHash(leafHash(a!), leafHash(b!)), leafHash(c!)));
    expect(three.proofs[2]).toEqual([{ side: 'left', hash: nodeHash(leafHash(a!), leafHash(b!)) }]);
    expect(treeOf([a!, b!, c!, c!]).root).not.toEqual(three.root);
  });

  it('a changed leaf, a changed sibling, a flipped side or a dropped step no longer folds to the root', () => {
    const data = leaves(11);
    const tree = treeOf(data);
    const proof = tree.proofs[6]!;
    const leaf = leafHash(data[6]!);
    expect(foldProof(leaf, proof)).toEqual(tree.root);

    expect(foldProof(leafHash(data[7]!), proof)).not.toEqual(tree.root);
    const flipped = Buffer.from(data[6]!);
    flipped[0]! ^= 1;
    expect(foldProof(leafHash(flipped), proof)).not.toEqual(tree.root);
    proof.forEach((_, i) => {
      const changedHash = proof.map((step, j) => (j === i ? { ...step, hash: sha256(step.hash) } : step));
      expect(foldProof(leaf, changedHash)).not.toEqual(tree.root);
      const changedSide = proof.map((step, j): ProofStep => (j === i ? { ...step, side: step.side === 'left' ? 'right' : 'left' } : step));
      expect(foldProof(leaf, changedSide)).not.toEqual(tree.root);
    });
    expect(foldProof(leaf, proof.slice(0, -1))).not.toEqual(tree.root);
    // Another leaf's proof does not fit this leaf.
    expect(foldProof(leaf, tree.proofs[5]!)).not.toEqual(tree.root);
  });

  it('refuses an empty tree', () => {
    expect(() => treeOf([])).toThrow(RangeError);
  });
});

describe('encodeProof and decodeProof', () => {
  it('round-trips every proof of a batch', () => {
    const tree = treeOf(leaves(1024));
    for (const proof of [tree.proofs[0]!, tree.proofs[513]!, tree.proofs[1023]!]) {
      const text = encodeProof(proof);
      expect(text).toMatch(/^[LR][A-Za-z0-9_-]{43}(\.[LR][A-Za-z0-9_-]{43})*$/);
      expect(text.length).toBe(10 * 45 - 1);
      expect(decodeProof(text)).toEqual(proof);
    }
    expect(decodeProof('')).toEqual([]);
  });

  it('rejects malformed text with trust.signature-malformed and a precise code, without quoting it', () => {
    const good = encodeProof(treeOf(leaves(4)).proofs[1]!);
    const cases: Array<[string, string]> = [
      [`X${good.slice(1)}`, 'proof-syntax'],
      [`${good}.`, 'proof-syntax'],
      [`.${good}`, 'proof-syntax'],
      [good.replace('.', '..'), 'proof-syntax'],
      [`${good.slice(0, 44)}=`, 'proof-syntax'],
      [good.slice(0, 40), 'proof-syntax'],
      [` ${good}`, 'proof-syntax'],
      [good.replace('.', ','), 'proof-syntax'],
      // 43 base64url characters carry 258 bits; a last character with the spare bits set is not canonical.
      [`L${'A'.repeat(42)}B`, 'proof-encoding'],
      [Array.from({ length: MAX_PROOF_DEPTH + 1 }, () => `L${'A'.repeat(43)}`).join('.'), 'proof-too-long'],
      ['L'.repeat(5000), 'proof-too-long'],
    ];
    for (const [text, code] of cases) {
      const error = thrown(() => decodeProof(text));
      expect(error.type, code).toBe('trust.signature-malformed');
      expect(error.status).toBe(401);
      expect(error.detail[0]?.code, text.slice(0, 60)).toBe(code);
      expect(error.message).toMatch(/ \/ the signature's Merkle proof is malformed/);
      expect(error.message).not.toContain(text.slice(1, 20));
    }
  });

  it('accepts the deepest allowed proof', () => {
    const deep = Array.from({ length: MAX_PROOF_DEPTH }, (): ProofStep => ({ side: 'right', hash: randomBytes(32) }));
    expect(decodeProof(encodeProof(deep))).toEqual(deep);
  });
});
