/**
 * signer.batch: signatures per second from batchSigner(localKeySigner(RSA-2048)) under 256 concurrent requests,
 * versus the naive way measured in the same run: one synchronous crypto.sign per message, same key, same digests.
 * Each side runs for ~2 s and is also capped by count, so the run always ends.
 */
import { randomBytes, sign } from 'node:crypto';
import { decodeProof } from '../src/trust/hash-tree.js';
import { createDevCa, issueCertificate, loadCertificate, loadPrivateKey } from '../src/trust/pki.js';
import { batchSigner, localKeySigner, readBatchSignature, verifyBatchSignature, type Signer } from '../src/trust/signer.js';

export interface SignerBenchResult { id: 'signer.batch'; value: number; unit: string; baseline: number; ratio: number; target: string }

const CONCURRENCY = 256;
const DURATION_MS = 2000;
const WARMUP_MS = 200;
const MAX_SIGNATURES = 5_000_000;
const DIGESTS = 4096;

/** Closed loop: CONCURRENCY callers, each signing the next digest as soon as its last one is back. */
async function batchedRate(signer: Signer, digests: Buffer[], ms: number): Promise<number> {
  let next = 0;
  let done = 0;
  const started = performance.now();
  const end = started + ms;
  const caller = async () => {
    while (performance.now() < end && done < MAX_SIGNATURES) {
      await signer.sign(digests[next++ % digests.length]!);
      done++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  return done / ((performance.now() - started) / 1000);
}

function syncRate(key: ReturnType<typeof loadPrivateKey>, digests: Buffer[], ms: number): number {
  let done = 0;
  const started = performance.now();
  const end = started + ms;
  while (performance.now() < end && done < MAX_SIGNATURES) {
    for (let i = 0; i < 20; i++) sign('sha256', digests[done++ % digests.length]!, key);
  }
  return done / ((performance.now() - started) / 1000);
}

export async function signerBench(): Promise<SignerBenchResult> {
  const ca = createDevCa({ commonName: 'Lienthong Bench CA' });
  const pair = issueCertificate({ ca, commonName: 'bench-hub', participant: 'VN/GOV/000.00.00.H56/LIENTHONG', usage: 'hub' });
  const key = loadPrivateKey(pair.keyPem);
  const certificate = loadCertificate(pair.certPem);
  const digests = Array.from({ length: DIGESTS }, () => randomBytes(32));
  const signer = batchSigner(localKeySigner(key, [pair.certPem, ca.certPem]));
  try {
    // Benchmark only work that is right: a batch member must verify.
    const sample = await Promise.all(digests.slice(0, 64).map((digest) => signer.sign(digest)));
    await verifyBatchSignature(readBatchSignature(sample[40]!.jws), digests[40]!, decodeProof(sample[40]!.proof), certificate.publicKey);

    await batchedRate(signer, digests, WARMUP_MS);
    syncRate(key, digests, WARMUP_MS);
    const value = await batchedRate(signer, digests, DURATION_MS);
    const baseline = syncRate(key, digests, DURATION_MS);
    const round = (n: number) => (n >= 100 ? Math.round(n) : Math.round(n * 100) / 100);
    return {
      id: 'signer.batch',
      value: round(value),
      unit: `signatures/s (RSA-2048, ${CONCURRENCY} concurrent; baseline: one sync crypto.sign per message)`,
      baseline: round(baseline),
      ratio: Math.round((value / baseline) * 1000) / 1000,
      target: 'ratio >= 10',
    };
  } finally {
    await signer.close();
  }
}
