import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject, type X509Certificate } from 'node:crypto';
import { HubError, isHubError } from '../core/errors.js';
import { encodeProof, foldProof, leafHash, treeOf, type ProofStep } from './hash-tree.js';
import { loadCertificate } from './pki.js';

/**
 * The hub's signer for hub-to-hub messages, and the JWS form its signatures take.
 *
 * Two layers, so that a USB token, an HSM (PKCS#11) or a remote signing service can replace the local key later:
 *  - a `KeySigner` does the raw key operation only (bytes in, JOSE signature bytes out); `localKeySigner` is the
 *    node:crypto one.
 *  - `batchSigner` builds the JWS on top of any KeySigner and batches under load, as X-Road does: RSA signing costs
 *    ~1 ms of CPU, so when `parallel` signings are already running, the digests that arrive meanwhile wait and are then
 *    signed together, one signature over the Merkle root of their digests (hash-tree.ts), each caller receiving the
 *    shared JWS plus its own proof. A lone message is signed at once and gets an empty proof.
 *
 * The JWS is compact, detached and unencoded (RFC 7797): protected header
 * `{alg, kid, x5c?, b64: false, crit: ["b64"], typ: "lienthong-sig+jws"}`, payload = the base64url text of the root
 * (for a lone message, the root is leafHash(digest)), so the signing input is `BASE64URL(header) + "." + payload` and
 * the JWS travels as `header..signature`. The verifier rebuilds the payload from the message itself; the tests check
 * both directions against jose, a standard JOSE library, so that the format is proven to interoperate. Reading and
 * verifying live here beside signing, so that the two halves of the format cannot drift apart.
 */

export type SignatureAlg = 'RS256' | 'ES256';

export const SIGNATURE_TYPE = 'lienthong-sig+jws';

/** The raw key operation: signs the JWS signing input, returns the signature in JOSE form. */
export interface KeySigner {
  readonly alg: SignatureAlg;
  /** base64url SHA-256 of the leaf certificate's DER (see kidOf). */
  readonly kid: string;
  /** The certificate chain as base64 DER, leaf first. */
  readonly x5c: string[];
  sign(bytes: Buffer): Promise<Buffer>;
}

export interface BatchSignature {
  /** Detached compact JWS, `header..signature`. */
  jws: string;
  /** This message's proof (encodeProof); '' for a lone message. */
  proof: string;
}

export interface Signer {
  readonly alg: SignatureAlg;
  readonly kid: string;
  readonly x5c: string[];
  /** Signs a 32-byte SHA-256 digest, alone or in a batch with others that arrive meanwhile. */
  sign(digest: Buffer): Promise<BatchSignature>;
  /** Refuses new digests, then waits until every accepted one is signed (or failed). */
  close(): Promise<void>;
}

export interface BatchSignerOptions {
  /** Key operations in flight at once before digests start to wait and batch. Default 2 (the CI machines' cores). */
  parallel?: number;
  /** Most digests under one signature. Default 1024 (a proof of 10 steps, ~450 characters). */
  maxBatch?: number;
  /**
   * Under load, batches start at least this long apart (a message that finds the signer idle for that long is signed at
   * once). Default 0: no pacing. The hub uses a few milliseconds, which bounds the CPU spent on RSA signing.
   */
  minIntervalMs?: number;
  /**
   * Put the certificate chain in the header (x5c), so that a peer can check it against its trust anchors without having
   * the certificate pinned. Default true; false saves ~2 KB per message between peers that pin certificates by kid.
   */
  includeX5c?: boolean;
}

const DIGEST_BYTES = 32;
const MAX_BATCH_LIMIT = 1 << 20;

function configError(type: string, message: string, cause?: unknown): HubError {
  return new HubError(type, message, { status: 400, cause });
}

/** The key id a verifier can look a pinned certificate up by: base64url SHA-256 of the certificate's DER. */
export function kidOf(certificate: X509Certificate): string {
  return createHash('sha256').update(certificate.raw).digest('base64url');
}

/** The JWS algorithm for a key, or undefined when the hub does not sign or verify with that kind of key. */
function algOfKey(key: KeyObject): SignatureAlg | undefined {
  if (key.asymmetricKeyType === 'rsa') return (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? 'RS256' : undefined;
  if (key.asymmetricKeyType === 'ec') return key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? 'ES256' : undefined;
  return undefined;
}

// ------------------------------------------------------------------------------------------------
// the local key
// ------------------------------------------------------------------------------------------------

/**
 * A KeySigner over a node:crypto private key. It uses the callback form of crypto.sign, which runs on the libuv
 * thread pool: the event loop stays free, and two signatures can run on two cores (STACK.md §3). RS256 is RSASSA-PKCS1-v1_5
 * with SHA-256; ES256 is ECDSA P-256 with SHA-256 in JOSE's r‖s form (ieee-p1363), not DER.
 */
export function localKeySigner(key: KeyObject, chainPem: string[]): KeySigner {
  if (key.type !== 'private') throw configError('trust.bad-key', 'khóa ký phải là khóa bí mật / the signing key must be a private key');
  const alg = algOfKey(key);
  if (!alg) {
    throw configError(
      'trust.unsupported-key-type',
      'loại khóa không được hỗ trợ / unsupported signing key: use RSA of 2048 bits or more (RS256, the interoperable default) or ECDSA P-256 (ES256)',
    );
  }
  if (chainPem.length === 0) throw configError('trust.bad-certificate', 'thiếu chứng thư số / the signer needs its certificate (leaf first, then the chain)');
  const chain = chainPem.map((pem) => loadCertificate(pem));
  const leaf = chain[0]!;
  if (!leaf.checkPrivateKey(key)) throw configError('trust.bad-key', 'khóa bí mật không khớp chứng thư số / the private key does not belong to the first certificate of the chain');

  // JOSE's ECDSA signature is r‖s; node's default is DER.
  const signingKey = alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
  return {
    alg,
    kid: kidOf(leaf),
    x5c: chain.map((certificate) => certificate.raw.toString('base64')),
    sign: (bytes) =>
      new Promise<Buffer>((resolve, reject) => {
        cryptoSign('sha256', bytes, signingKey, (error, signature) => (error ? reject(error) : resolve(signature)));
      }),
  };
}

// ------------------------------------------------------------------------------------------------
// batching
// ------------------------------------------------------------------------------------------------

interface Waiting {
  digest: Buffer;
  resolve: (signature: BatchSignature) => void;
  reject: (error: unknown) => void;
}

function boundedInteger(value: number, name: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) throw new RangeError(`${name} must be an integer from 1 to ${max}`);
  return value;
}

function encodedHeaderOf(keySigner: KeySigner, includeX5c: boolean): string {
  const header = {
    alg: keySigner.alg,
    kid: keySigner.kid,
    ...(includeX5c ? { x5c: keySigner.x5c } : {}),
    b64: false,
    crit: ['b64'],
    typ: SIGNATURE_TYPE,
  };
  return Buffer.from(JSON.stringify(header)).toString('base64url');
}

function signingFailed(error: unknown): HubError {
  if (isHubError(error)) return error;
  return new HubError('trust.signing-failed', 'không ký được thông điệp / the message could not be signed: the key operation failed', { status: 500, cause: error });
}

export function batchSigner(keySigner: KeySigner, options: BatchSignerOptions = {}): Signer {
  const parallel = boundedInteger(options.parallel ?? 2, 'parallel', 1024);
  const maxBatch = boundedInteger(options.maxBatch ?? 1024, 'maxBatch', MAX_BATCH_LIMIT);
  const minIntervalMs = Math.max(0, options.minIntervalMs ?? 0);
  const encodedHeader = encodedHeaderOf(keySigner, options.includeX5c ?? true); // once, not per message
  const waiting: Waiting[] = [];
  const running = new Set<Promise<void>>();
  let closed = false;

  /** Never rejects: every outcome is handed to the batch's callers. */
  async function signBatch(batch: Waiting[]): Promise<void> {
    try {
      const tree = treeOf(batch.map((entry) => entry.digest));
      const signingInput = Buffer.from(`${encodedHeader}.${tree.root.toString('base64url')}`, 'ascii');
      const signature = await keySigner.sign(signingInput);
      const jws = `${encodedHeader}..${signature.toString('base64url')}`;
      batch.forEach((entry, index) => entry.resolve({ jws, proof: encodeProof(tree.proofs[index]!) }));
    } catch (error) {
      const failure = signingFailed(error);
      for (const entry of batch) entry.reject(failure);
    }
  }

  // Pacing: a lone message is signed at once, but a key operation costs ~1 ms of CPU, so while messages keep
  // coming, batches start at most every `minIntervalMs`: the signer's CPU stays bounded (1000 / minIntervalMs
  // operations a second, each for up to maxBatch messages) and the hub's work gets the cores.
  let lastStart = -Infinity;
  let timer: NodeJS.Timeout | undefined;
  function pump(): void {
    while (running.size < parallel && waiting.length > 0) {
      const wait = lastStart + minIntervalMs - performance.now();
      if (wait > 0) {
        timer ??= setTimeout(() => {
          timer = undefined;
          pump();
        }, wait);
        return;
      }
      lastStart = performance.now();
      const task: Promise<void> = signBatch(waiting.splice(0, maxBatch)).finally(() => {
        running.delete(task);
        pump(); // the digests that arrived meanwhile become the next batch
      });
      running.add(task);
    }
  }

  return {
    alg: keySigner.alg,
    kid: keySigner.kid,
    x5c: keySigner.x5c,
    sign(digest: Buffer): Promise<BatchSignature> {
      if (!Buffer.isBuffer(digest) || digest.length !== DIGEST_BYTES) return Promise.reject(new TypeError('the signer signs a 32-byte SHA-256 digest'));
      if (closed) return Promise.reject(new HubError('trust.signer-closed', 'bộ ký đã đóng / the signer is shut down', { status: 503 }));
      return new Promise<BatchSignature>((resolve, reject) => {
        waiting.push({ digest, resolve, reject });
        pump();
      });
    },
    async close(): Promise<void> {
      closed = true;
      // A finishing batch starts the next one before its own promise settles, so loop until nothing is left.
      while (running.size > 0 || waiting.length > 0) {
        if (running.size === 0) {
          clearTimeout(timer);
          timer = undefined;
          lastStart = -Infinity;
          pump();
        }
        await Promise.all(running);
      }
    },
  };
}

// ------------------------------------------------------------------------------------------------
// reading and verifying
// ------------------------------------------------------------------------------------------------

export interface SignatureHeader {
  alg: SignatureAlg;
  kid?: string;
  /** base64 DER, leaf first. */
  x5c?: string[];
}

export interface ParsedSignature {
  header: SignatureHeader;
  /** The protected header exactly as received (its base64url text is what was signed). */
  protectedHeader: string;
  signature: string;
}

/** Node's HTTP parser refuses more than 16 KiB of headers in all, so a longer JWS cannot be genuine. */
const MAX_JWS_LENGTH = 16_384;
const MAX_X5C = 8;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const KID = /^[A-Za-z0-9_-]{1,128}$/;
const HEADER_MEMBERS = new Set(['alg', 'kid', 'x5c', 'b64', 'crit', 'typ']);

function malformed(reason: string, code: string): HubError {
  return new HubError('trust.signature-malformed', `chữ ký không đúng định dạng / the signature is malformed: ${reason}`, {
    status: 401,
    detail: [{ reason, code }],
  });
}

function invalid(reason: string, code: string, cause?: unknown): HubError {
  return new HubError('trust.signature-invalid', `chữ ký không hợp lệ / the signature does not verify: ${reason}`, {
    status: 401,
    detail: [{ reason, code }],
    cause,
  });
}

function headerOf(value: unknown): SignatureHeader {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformed('the JWS header must be a JSON object', 'header-json');
  const header = value as Record<string, unknown>;
  const unknown = Object.keys(header).find((name) => !HEADER_MEMBERS.has(name));
  if (unknown !== undefined) throw malformed('the JWS header has a member other than alg, kid, x5c, b64, crit and typ', 'header-member');
  if (header.typ !== SIGNATURE_TYPE) throw malformed(`the JWS header typ must be "${SIGNATURE_TYPE}"`, 'header-typ');
  if (header.alg !== 'RS256' && header.alg !== 'ES256') throw malformed('the JWS header alg must be RS256 or ES256', 'header-alg');
  if (header.b64 !== false || !Array.isArray(header.crit) || header.crit.length !== 1 || header.crit[0] !== 'b64') {
    throw malformed('the JWS header must declare an unencoded payload: "b64": false and "crit": ["b64"]', 'header-b64');
  }
  const parsed: SignatureHeader = { alg: header.alg };
  if (header.kid !== undefined) {
    if (typeof header.kid !== 'string' || !KID.test(header.kid)) throw malformed('the JWS header kid must be 1 to 128 base64url characters', 'header-kid');
    parsed.kid = header.kid;
  }
  if (header.x5c !== undefined) {
    const x5c = header.x5c;
    if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_X5C || !x5c.every((entry) => typeof entry === 'string' && BASE64.test(entry))) {
      throw malformed(`the JWS header x5c must be a list of 1 to ${MAX_X5C} base64 certificates`, 'header-x5c');
    }
    parsed.x5c = x5c as string[];
  }
  if (parsed.kid === undefined && parsed.x5c === undefined) throw malformed('the JWS header names no key: it needs kid or x5c', 'header-key');
  return parsed;
}

/** Reads a detached compact JWS (`header..signature`) of the form batchSigner writes. Throws `trust.signature-malformed`. */
export function readBatchSignature(jws: string): ParsedSignature {
  if (typeof jws !== 'string' || jws.length === 0) throw malformed('the signature is empty', 'jws-empty');
  if (jws.length > MAX_JWS_LENGTH) throw malformed(`the signature is longer than ${MAX_JWS_LENGTH} characters`, 'jws-too-long');
  const parts = jws.split('.');
  if (parts.length !== 3 || parts[1] !== '') throw malformed('expected a detached compact JWS "header..signature" (three parts, the middle one empty)', 'jws-form');
  const [protectedHeader, , signature] = parts as [string, string, string];
  if (!BASE64URL.test(signature)) throw malformed('the JWS header and signature must be base64url', 'jws-base64url');
  let header = readHeaders.get(protectedHeader);
  if (!header) {
    if (!BASE64URL.test(protectedHeader)) throw malformed('the JWS header and signature must be base64url', 'jws-base64url');
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(protectedHeader, 'base64url').toString('utf8'));
    } catch {
      throw malformed('the JWS header is not base64url-encoded JSON', 'header-json');
    }
    header = headerOf(json);
    if (header.x5c) Object.freeze(header.x5c);
    Object.freeze(header);
    if (readHeaders.size >= MAX_READ_HEADERS) readHeaders.delete(readHeaders.keys().next().value!);
    readHeaders.set(protectedHeader, header);
  }
  return { header, protectedHeader, signature };
}

/**
 * A signer's protected header is the same in each of its messages (with x5c, ~2.7 KB of base64url), so each distinct
 * one is decoded and checked once; only well-formed headers are kept (bounded, oldest forgotten first).
 */
const readHeaders = new Map<string, SignatureHeader>();
const MAX_READ_HEADERS = 256;

/**
 * Checks that `signature` signs the root that `proof` leads to from this message's `digest`, under `publicKey`. The
 * algorithm is fixed by the key (an RSA key only verifies RS256, a P-256 key only ES256), never taken on the header's
 * word. Throws `trust.signature-invalid`.
 *
 * The check is RFC 7515/7797's own: the signing input is `protectedHeader + "." + payload` with the payload unencoded,
 * and readBatchSignature has already held the header to `b64: false`, `crit: ["b64"]`. It runs on node:crypto rather
 * than jose, because jose verifies through Web Crypto, whose thread-pool round trip costs ~60 µs of CPU per RSA-2048
 * check against ~17 µs for a synchronous one (and waits behind RSA signing in that pool). The tests verify the hub's
 * signatures with jose and the hub's verifier against JWS made by jose, so the format keeps interoperating.
 */
export async function verifyBatchSignature(signature: ParsedSignature, digest: Buffer, proof: ProofStep[], publicKey: KeyObject): Promise<void> {
  const expected = algOfKey(publicKey);
  if (!expected) throw invalid('the certificate key is neither RSA of 2048 bits or more nor ECDSA P-256', 'key-type');
  if (signature.header.alg !== expected) throw invalid(`the JWS alg does not fit the certificate key (expected ${expected})`, 'alg-mismatch');
  const root = foldProof(leafHash(digest), proof);
  const signingInput = Buffer.from(`${signature.protectedHeader}.${root.toString('base64url')}`, 'ascii');
  const bytes = Buffer.from(signature.signature, 'base64url');
  let verified: boolean;
  try {
    verified = cryptoVerify('sha256', signingInput, expected === 'ES256' ? { key: publicKey, dsaEncoding: 'ieee-p1363' } : publicKey, bytes);
  } catch (error) {
    throw invalid('the signature bytes cannot be checked under the certificate key', 'bad-signature', error);
  }
  if (!verified) throw invalid('the signature does not match the signed headers and proof under the certificate key', 'bad-signature');
}
