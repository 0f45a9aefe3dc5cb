import { rejection, thrown } from '../support/errors.js';
import { X509Certificate, createHash, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { FlattenedSign, flattenedVerify } from 'jose';
import forge from 'node-forge';
import { beforeAll, describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import { decodeProof, foldProof, leafHash } from '../../src/trust/hash-tree.js';
import { createDevCa, issueCertificate, loadCertificate, loadPrivateKey, type PemPair } from '../../src/trust/pki.js';
import {
  SIGNATURE_TYPE,
  batchSigner,
  kidOf,
  localKeySigner,
  readBatchSignature,
  verifyBatchSignature,
  type BatchSignature,
  type KeySigner,
} from '../../src/trust/signer.js';

const PARTICIPANT = 'VN/GOV/000.00.00.H56/LIENTHONG';

/**
 * A self-signed ECDSA P-256 certificate, built by hand: node-forge cannot sign with ECDSA, so the TBSCertificate is
 * assembled with forge's ASN.1 writer and signed with node:crypto (DER-encoded ECDSA, as X.509 wants).
 */
function ecCertificate(participant: string): { certPem: string; key: KeyObject } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { asn1 } = forge;
  const U = asn1.Class.UNIVERSAL;
  const seq = (...items: forge.asn1.Asn1[]) => asn1.create(U, asn1.Type.SEQUENCE, true, items);
  const oid = (id: string) => asn1.create(U, asn1.Type.OID, false, asn1.oidToDer(id).getBytes());
  const name = seq(asn1.create(U, asn1.Type.SET, true, [seq(oid('2.5.4.3'), asn1.create(U, asn1.Type.UTF8, false, 'ec-test'))]));
  const ecdsaWithSha256 = seq(oid('1.2.840.10045.4.3.2'));
  const uri = `urn:lienthong:participant:${participant}`;
  const sanValue = asn1.toDer(seq(asn1.create(asn1.Class.CONTEXT_SPECIFIC, 6, false, uri))).getBytes();
  const tbs = seq(
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [asn1.create(U, asn1.Type.INTEGER, false, asn1.integerToDer(2).getBytes())]),
    asn1.create(U, asn1.Type.INTEGER, false, `\x01${randomBytes(8).toString('binary')}`),
    ecdsaWithSha256,
    name,
    seq(asn1.create(U, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(new Date(Date.now() - 60_000))), asn1.create(U, asn1.Type.UTCTIME, false, asn1.dateToUtcTime(new Date(Date.now() + 86_400_000)))),
    name,
    asn1.fromDer((publicKey.export({ type: 'spki', format: 'der' }) as Buffer).toString('binary')),
    asn1.create(asn1.Class.CONTEXT_SPECIFIC, 3, true, [seq(seq(oid('2.5.29.17'), asn1.create(U, asn1.Type.OCTETSTRING, false, sanValue)))]),
  );
  const tbsDer = Buffer.from(asn1.toDer(tbs).getBytes(), 'binary');
  const signature = sign('sha256', tbsDer, privateKey);
  const cert = seq(tbs, ecdsaWithSha256, asn1.create(U, asn1.Type.BITSTRING, false, `\x00${signature.toString('binary')}`));
  const der = Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
  return { certPem: new X509Certificate(der).toString(), key: privateKey };
}

const digestOf = (text: string) => createHash('sha256').update(text).digest();

/** A KeySigner that counts its key operations and can be told to fail. */
function counting(inner: KeySigner): KeySigner & { operations: number; batchInputs: Buffer[]; failNext: number } {
  const wrapper = {
    alg: inner.alg,
    kid: inner.kid,
    x5c: inner.x5c,
    operations: 0,
    batchInputs: [] as Buffer[],
    failNext: 0,
    async sign(bytes: Buffer): Promise<Buffer> {
      wrapper.operations++;
      wrapper.batchInputs.push(bytes);
      if (wrapper.failNext > 0) {
        wrapper.failNext--;
        await new Promise((resolve) => setTimeout(resolve, 5));
        throw new Error('token removed');
      }
      return inner.sign(bytes);
    },
  };
  return wrapper;
}

/** jose's own check of one batch member: the detached, unencoded payload is the root its proof folds to. */
async function joseVerifies(result: BatchSignature, digest: Buffer, publicKey: KeyObject): Promise<Record<string, unknown>> {
  const [protectedHeader, payload, signature] = result.jws.split('.');
  expect(payload).toBe('');
  const root = foldProof(leafHash(digest), decodeProof(result.proof));
  const verified = await flattenedVerify({ protected: protectedHeader!, payload: root.toString('base64url'), signature: signature! }, publicKey);
  return verified.protectedHeader as Record<string, unknown>;
}

let ca: PemPair;
let hub: PemPair;
let rsaKey: KeyObject;
let rsaCert: X509Certificate;
let ec: { certPem: string; key: KeyObject };

beforeAll(() => {
  ca = createDevCa({ commonName: 'Lienthong Test CA' });
  hub = issueCertificate({ ca, commonName: 'hub-h56', participant: PARTICIPANT, usage: 'hub' });
  rsaKey = loadPrivateKey(hub.keyPem);
  rsaCert = loadCertificate(hub.certPem);
  ec = ecCertificate('VN/GOV/000.00.00.G22/NGSP');
});

describe('localKeySigner', () => {
  it('RS256: PKCS#1 v1.5 with SHA-256, kid = SHA-256 of the leaf DER, x5c = the chain leaf first', async () => {
    const keySigner = localKeySigner(rsaKey, [hub.certPem, ca.certPem]);
    expect(keySigner.alg).toBe('RS256');
    expect(keySigner.kid).toBe(createHash('sha256').update(rsaCert.raw).digest('base64url'));
    expect(keySigner.kid).toBe(kidOf(rsaCert));
    expect(keySigner.x5c).toEqual([rsaCert.raw.toString('base64'), loadCertificate(ca.certPem).raw.toString('base64')]);
    const bytes = Buffer.from('header.payload');
    const signature = await keySigner.sign(bytes);
    expect(signature).toEqual(sign('sha256', bytes, rsaKey)); // deterministic scheme: byte-identical to the sync form
    expect(verify('sha256', bytes, rsaCert.publicKey, signature)).toBe(true);
  });

  it('ES256: ECDSA P-256 with SHA-256 in JOSE r||s form (64 bytes), on a hand-built EC certificate', async () => {
    const keySigner = localKeySigner(ec.key, [ec.certPem]);
    expect(keySigner.alg).toBe('ES256');
    const bytes = Buffer.from('header.payload');
    const signature = await keySigner.sign(bytes);
    expect(signature).toHaveLength(64);
    const publicKey = loadCertificate(ec.certPem).publicKey;
    expect(verify('sha256', bytes, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
  });

  it('signs off the event loop (callback form): other callbacks run while the key works', async () => {
    const keySigner = localKeySigner(rsaKey, [hub.certPem]);
    let ranMeanwhile = false;
    setImmediate(() => {
      ranMeanwhile = true;
    });
    await keySigner.sign(Buffer.from('x'));
    expect(ranMeanwhile).toBe(true);
  });

  it('rejects other key types with trust.unsupported-key-type, and keys that do not fit', () => {
    const ed = generateKeyPairSync('ed25519').privateKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    for (const key of [ed, p384, rsa1024]) {
      const error = thrown(() => localKeySigner(key, [hub.certPem]));
      expect(error.type).toBe('trust.unsupported-key-type');
      expect(error.message).toMatch(/ \/ unsupported signing key/);
    }
    expect(thrown(() => localKeySigner(rsaCert.publicKey, [hub.certPem])).type).toBe('trust.bad-key');
    expect(thrown(() => localKeySigner(rsaKey, [ca.certPem])).type).toBe('trust.bad-key');
    expect(thrown(() => localKeySigner(rsaKey, [])).type).toBe('trust.bad-certificate');
  });
});

describe('batchSigner', () => {
  it('signs a lone digest at once: proof "", payload = leafHash(digest), the header X-Road-style JWS', async () => {
    const keySigner = counting(localKeySigner(rsaKey, [hub.certPem, ca.certPem]));
    const signer = batchSigner(keySigner);
    const digest = digestOf('lone');
    const result = await signer.sign(digest);
    expect(keySigner.operations).toBe(1);
    expect(result.proof).toBe('');
    const header = await joseVerifies(result, digest, rsaCert.publicKey);
    expect(header).toEqual({ alg: 'RS256', kid: kidOf(rsaCert), x5c: keySigner.x5c, b64: false, crit: ['b64'], typ: SIGNATURE_TYPE });
    // The signing input is BASE64URL(header) "." base64url(leafHash(digest)), as RFC 7797 wants for b64:false.
    expect(keySigner.batchInputs[0]!.toString()).toBe(`${result.jws.split('.')[0]}.${leafHash(digest).toString('base64url')}`);
    await signer.close();
  });

  it('leaves x5c out on request', async () => {
    const signer = batchSigner(localKeySigner(rsaKey, [hub.certPem]), { includeX5c: false });
    const digest = digestOf('no x5c');
    const header = await joseVerifies(await signer.sign(digest), digest, rsaCert.publicKey);
    expect(header).not.toHaveProperty('x5c');
    expect(header.kid).toBe(kidOf(rsaCert));
  });

  it('batches concurrent load: far fewer key operations than messages, and every member verifies with jose', async () => {
    const keySigner = counting(localKeySigner(rsaKey, [hub.certPem]));
    const signer = batchSigner(keySigner); // parallel 2
    const digests = Array.from({ length: 300 }, (_, i) => digestOf(`message ${i}`));
    const results = await Promise.all(digests.map((digest) => signer.sign(digest)));
    // Two lone signatures start at once; the 298 that waited are signed together when the first finishes.
    expect(keySigner.operations).toBe(3);
    expect(results[0]!.proof).toBe('');
    expect(results[1]!.proof).toBe('');
    expect(new Set(results.slice(2).map((r) => r.jws)).size).toBe(1);
    const depths = results.slice(2).map((r) => r.proof.split('.').length);
    expect(Math.min(...depths)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...depths)).toBe(Math.ceil(Math.log2(298)));
    for (let i = 0; i < digests.length; i++) await joseVerifies(results[i]!, digests[i]!, rsaCert.publicKey);
    // A proof belongs to its own digest only.
    await expect(joseVerifies(results[10]!, digests[11]!, rsaCert.publicKey)).rejects.toThrow(/signature verification failed/);
    await signer.close();
  });

  it('caps a batch at maxBatch and runs at most `parallel` key operations at once', async () => {
    let inFlight = 0;
    let mostInFlight = 0;
    const inner = localKeySigner(rsaKey, [hub.certPem]);
    const keySigner = counting({
      ...inner,
      async sign(bytes) {
        inFlight++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          return await inner.sign(bytes);
        } finally {
          inFlight--;
        }
      },
    });
    const signer = batchSigner(keySigner, { parallel: 3, maxBatch: 50 });
    const digests = Array.from({ length: 303 }, (_, i) => digestOf(`m${i}`));
    const results = await Promise.all(digests.map((digest) => signer.sign(digest)));
    expect(keySigner.operations).toBe(3 + 6); // three lone, then 300 waiting in batches of 50
    expect(mostInFlight).toBe(3);
    const sizes = new Map<string, number>();
    for (const r of results) sizes.set(r.jws, (sizes.get(r.jws) ?? 0) + 1);
    expect([...sizes.values()].sort((a, b) => a - b)).toEqual([1, 1, 1, 50, 50, 50, 50, 50, 50]);
    for (let i = 0; i < digests.length; i += 17) await joseVerifies(results[i]!, digests[i]!, rsaCert.publicKey);
  });

  it('ES256 batches verify with jose too', async () => {
    const keySigner = counting(localKeySigner(ec.key, [ec.certPem]));
    const signer = batchSigner(keySigner);
    const digests = Array.from({ length: 40 }, (_, i) => digestOf(`ec ${i}`));
    const results = await Promise.all(digests.map((digest) => signer.sign(digest)));
    expect(keySigner.operations).toBeLessThan(10);
    const publicKey = loadCertificate(ec.certPem).publicKey;
    for (let i = 0; i < digests.length; i++) expect((await joseVerifies(results[i]!, digests[i]!, publicKey)).alg).toBe('ES256');
  });

  it('a failed key operation rejects every caller of its batch, and the next batch signs again', async () => {
    const keySigner = counting(localKeySigner(rsaKey, [hub.certPem]));
    const signer = batchSigner(keySigner, { parallel: 1 });
    keySigner.failNext = 2; // the lone first signature and the batch after it
    const settled = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => signer.sign(digestOf(`f${i}`))));
    expect(keySigner.operations).toBe(2);
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      const error = (outcome as PromiseRejectedResult).reason as HubError;
      expect(error).toBeInstanceOf(HubError);
      expect(error.type).toBe('trust.signing-failed');
      expect(error.status).toBe(500);
      expect(error.message).not.toContain('token removed');
    }
    const digest = digestOf('after');
    await joseVerifies(await signer.sign(digest), digest, rsaCert.publicKey);
  });

  it('close() waits for in-flight and queued work, then refuses new digests', async () => {
    const signer = batchSigner(localKeySigner(rsaKey, [hub.certPem]), { parallel: 1, maxBatch: 8 });
    let done = 0;
    const pending = Array.from({ length: 40 }, (_, i) => signer.sign(digestOf(`c${i}`)).then(() => done++));
    await signer.close();
    expect(done).toBe(40);
    await Promise.all(pending);
    const error = await rejection(signer.sign(digestOf('late')));
    expect(error.type).toBe('trust.signer-closed');
    expect(error.status).toBe(503);
  });

  it('refuses a digest that is not 32 bytes and bad options', async () => {
    const signer = batchSigner(localKeySigner(rsaKey, [hub.certPem]));
    await expect(signer.sign(Buffer.alloc(31))).rejects.toThrow(TypeError);
    await expect(signer.sign('x'.repeat(32) as unknown as Buffer)).rejects.toThrow(TypeError);
    expect(() => batchSigner(localKeySigner(rsaKey, [hub.certPem]), { parallel: 0 })).toThrow(RangeError);
    expect(() => batchSigner(localKeySigner(rsaKey, [hub.certPem]), { maxBatch: 1.5 })).toThrow(RangeError);
  });
});

describe('readBatchSignature and verifyBatchSignature', () => {
  let result: BatchSignature;
  let digest: Buffer;
  let batch: { results: BatchSignature[]; digests: Buffer[] };

  beforeAll(async () => {
    const signer = batchSigner(localKeySigner(rsaKey, [hub.certPem]));
    digest = digestOf('read me');
    result = await signer.sign(digest);
    const digests = Array.from({ length: 7 }, (_, i) => digestOf(`b${i}`));
    batch = { results: await Promise.all(digests.map((d) => signer.sign(d))), digests };
  });

  it('reads the header and verifies lone and batched signatures', async () => {
    const parsed = readBatchSignature(result.jws);
    expect(parsed.header).toEqual({ alg: 'RS256', kid: kidOf(rsaCert), x5c: [rsaCert.raw.toString('base64')] });
    await verifyBatchSignature(parsed, digest, [], rsaCert.publicKey);
    for (let i = 0; i < batch.digests.length; i++) {
      const member = batch.results[i]!;
      await verifyBatchSignature(readBatchSignature(member.jws), batch.digests[i]!, decodeProof(member.proof), rsaCert.publicKey);
    }
  });

  it('accepts JWS that jose itself made in the documented form (RS256 and ES256), and refuses them for another digest', async () => {
    const joseSigned = async (alg: 'RS256' | 'ES256', key: KeyObject, certificate: X509Certificate, leaf: Buffer) => {
      const header = { alg, kid: kidOf(certificate), b64: false, crit: ['b64'], typ: SIGNATURE_TYPE };
      const jws = await new FlattenedSign(new TextEncoder().encode(leaf.toString('base64url'))).setProtectedHeader(header).sign(key);
      return readBatchSignature(`${jws.protected}..${jws.signature}`);
    };
    const lone = digestOf('made by jose');
    const rs = await joseSigned('RS256', rsaKey, rsaCert, leafHash(lone));
    await verifyBatchSignature(rs, lone, [], rsaCert.publicKey);
    const ecCert = loadCertificate(ec.certPem);
    const es = await joseSigned('ES256', ec.key, ecCert, leafHash(lone));
    await verifyBatchSignature(es, lone, [], ecCert.publicKey);
    expect((await rejection(verifyBatchSignature(rs, digestOf('another'), [], rsaCert.publicKey))).type).toBe('trust.signature-invalid');
    expect((await rejection(verifyBatchSignature(es, digestOf('another'), [], ecCert.publicKey))).type).toBe('trust.signature-invalid');
  });

  it('refuses another digest, another proof, another key, a changed signature: trust.signature-invalid', async () => {
    const parsed = readBatchSignature(result.jws);
    const codeOf = async (promise: Promise<unknown>) => {
      const error = await rejection(promise);
      expect(error.type).toBe('trust.signature-invalid');
      expect(error.status).toBe(401);
      return error.detail[0]?.code;
    };
    expect(await codeOf(verifyBatchSignature(parsed, digestOf('other'), [], rsaCert.publicKey))).toBe('bad-signature');
    const member = batch.results[4]!;
    expect(await codeOf(verifyBatchSignature(readBatchSignature(member.jws), batch.digests[4]!, decodeProof(batch.results[5]!.proof), rsaCert.publicKey))).toBe('bad-signature');
    const otherRsa = loadCertificate(issueCertificate({ ca, commonName: 'other', participant: PARTICIPANT, usage: 'hub' }).certPem).publicKey;
    expect(await codeOf(verifyBatchSignature(parsed, digest, [], otherRsa))).toBe('bad-signature');
    expect(await codeOf(verifyBatchSignature(parsed, digest, [], loadCertificate(ec.certPem).publicKey))).toBe('alg-mismatch');
    const bytes = Buffer.from(parsed.signature, 'base64url');
    bytes[10]! ^= 0x01;
    expect(await codeOf(verifyBatchSignature({ ...parsed, signature: bytes.toString('base64url') }, digest, [], rsaCert.publicKey))).toBe('bad-signature');
    // The header is signed: one changed member breaks the signature.
    const header = JSON.parse(Buffer.from(parsed.protectedHeader, 'base64url').toString()) as Record<string, unknown>;
    const changedHeader = Buffer.from(JSON.stringify({ ...header, kid: 'AAAA' })).toString('base64url');
    expect(await codeOf(verifyBatchSignature({ ...parsed, protectedHeader: changedHeader }, digest, [], rsaCert.publicKey))).toBe('bad-signature');
  });

  it('refuses JWS text that is not the detached, unencoded lienthong form: trust.signature-malformed', () => {
    const [h, , s] = result.jws.split('.') as [string, string, string];
    const json = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>;
    const withHeader = (changes: Record<string, unknown>) => `${Buffer.from(JSON.stringify({ ...json, ...changes })).toString('base64url')}..${s}`;
    const cases: Array<[string, string]> = [
      ['', 'jws-empty'],
      [`${h}.${s}`, 'jws-form'],
      [`${h}.cGF5bG9hZA.${s}`, 'jws-form'],
      [`${h}..${s}.x`, 'jws-form'],
      [`${h}..${s}=`, 'jws-base64url'],
      [`${'A'.repeat(20_000)}..${s}`, 'jws-too-long'],
      [`${Buffer.from('not json').toString('base64url')}..${s}`, 'header-json'],
      [`${Buffer.from('[1]').toString('base64url')}..${s}`, 'header-json'],
      [withHeader({ typ: 'JWT' }), 'header-typ'],
      [withHeader({ alg: 'HS256' }), 'header-alg'],
      [withHeader({ alg: 'none' }), 'header-alg'],
      [withHeader({ b64: true }), 'header-b64'],
      [withHeader({ crit: [] }), 'header-b64'],
      [withHeader({ crit: ['b64', 'exp'] }), 'header-b64'],
      [withHeader({ jku: 'https://example.invalid/keys' }), 'header-member'],
      [withHeader({ kid: 'with space' }), 'header-kid'],
      [withHeader({ x5c: [] }), 'header-x5c'],
      [withHeader({ x5c: 'MII' }), 'header-x5c'],
      [withHeader({ kid: undefined, x5c: undefined }), 'header-key'],
    ];
    for (const [jws, code] of cases) {
      const error = thrown(() => readBatchSignature(jws));
      expect(error.type, code).toBe('trust.signature-malformed');
      expect(error.detail[0]?.code, code).toBe(code);
    }
  });
});
