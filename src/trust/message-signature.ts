import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';
import { HubError, isHubError } from '../core/errors.js';
import { decodeProof } from './hash-tree.js';
import { formatParticipant, isParticipant, isService, parseService, serviceParticipant } from './identity.js';
import { participantOf } from './pki.js';
import { kidOf, readBatchSignature, verifyBatchSignature, type Signer } from './signer.js';

/**
 * Signatures on HTTP messages between hubs (X-Road style): who sends (client), to which service, which message, when,
 * and the exact body bytes, signed by the sender's certificate; a response also signs the hash of the request it
 * answers, so that a caller can prove which request an answer belongs to.
 *
 * Signing input (the message's leaf digest is SHA-256 of these bytes), each line ending in "\n":
 *
 *   lienthong-message-signature/1
 *   x-lienthong-message-id:<id>
 *   x-lienthong-client:<participant>
 *   x-lienthong-service:<service>
 *   x-lienthong-time:<ISO 8601 with offset>
 *   content-digest:sha-256=:<base64>:
 *   x-lienthong-request-hash:<base64url>      (responses only)
 *   x-lienthong-status:<HTTP status>           (responses only)
 *   x-lienthong-idempotency-key:<key>          (when the message has one)
 *
 * The order and names are fixed, and every value is checked against its own narrow syntax (printable ASCII, never CR,
 * LF, "," or a space), so one text has exactly one reading: no value can end its line early or pose as another header.
 * A response is told from a request by its request hash, which is inside the signature, so neither can pass for the other;
 * its HTTP status is signed too, so that nobody on the way (a TLS-terminating proxy) can turn a refusal into an
 * acceptance, and so is the idempotency key, by which the receiver answers a repeat without delivering it again.
 *
 * The signature travels in x-lienthong-signature (a detached JWS, signer.ts) and x-lienthong-signature-proof (the
 * message's Merkle proof inside a batch; absent for a lone message).
 */

export const MESSAGE_HEADERS = {
  messageId: 'x-lienthong-message-id',
  client: 'x-lienthong-client',
  service: 'x-lienthong-service',
  time: 'x-lienthong-time',
  contentDigest: 'content-digest',
  requestHash: 'x-lienthong-request-hash',
  status: 'x-lienthong-status',
  idempotencyKey: 'x-lienthong-idempotency-key',
  signature: 'x-lienthong-signature',
  proof: 'x-lienthong-signature-proof',
} as const;

export const SIGNING_INPUT_VERSION = 'lienthong-message-signature/1';

export interface MessageFields {
  messageId: string;
  /** Participant id, `VN/GOV/<agency>/<subsystem>`. */
  client: string;
  /** Service id, `<participant>/<service code>[/<version>]`. */
  service: string;
  /** A Date is written in UTC (`…Z`); a string must be ISO 8601 with an offset. */
  time: Date | string;
  /** On a response only: requestHashOf(the request). */
  requestHash?: string;
  /** On a response only: its HTTP status. */
  status?: number;
  /** The key by which the receiver tells a repeat of this message (e.g. a delivery's retry) from a new one. */
  idempotencyKey?: string;
}

/** Header names may come in any case; Node gives lowercase names and joins repeated headers with ", ". */
export type IncomingHeaders = Record<string, string | string[] | undefined>;

export interface CertificateResolution {
  certificate: X509Certificate;
  /** Intermediates, as the checker wants them. */
  chain: X509Certificate[];
}

export type ChainCheck = { ok: true } | { ok: false; code: string; reason: string };

export interface VerifyOptions {
  /** Finds the signer's certificate from the JWS header (a pinned certificate by kid, or x5c checked by checkChain). */
  resolveCertificate(header: { kid?: string; x5c?: string[] }): CertificateResolution | undefined;
  /** Validity, revocation and trust of the certificate at time `at`; its code is passed through (expired, revoked, …). */
  checkChain(certificate: X509Certificate, chain: X509Certificate[], at: Date): ChainCheck;
  now?: () => Date;
  /** How far the message time may lie from now, either way. Default 5 minutes. */
  maxSkewMs?: number;
  /**
   * Set when verifying a response: requestHashOf(our request). The message must then be a response bound to it, signed
   * by the provider of the service. Unset, the message must be a request, signed by its client.
   */
  expectRequestHash?: string;
  /**
   * Who must have signed, when not the default (the client for a request, the service's provider for a response): a
   * hub answers with its own key for the participants it serves, so a response from another hub names that hub here.
   */
  expectSigner?: string;
  /** With expectRequestHash: the HTTP status the response came with, which it must have signed. */
  expectStatus?: number;
  /**
   * The body's content-digest (`sha-256=:<base64>:`) when the body itself is no longer at hand (an audit of a message
   * whose payload retention dropped, from the digest its journal kept); `body` is then not read. Every other check runs.
   */
  contentDigest?: string;
}

export interface VerifiedMessage {
  messageId: string;
  client: string;
  service: string;
  time: Date;
  certificate: X509Certificate;
  /** The signer, from the certificate's participant URI SAN. */
  participant: string;
  /** requestHashOf this message: what a response to it must carry. */
  requestHash: string;
  /** The signed idempotency key, when the message has one. */
  idempotencyKey?: string;
}

/** The signed header values, already checked. */
interface SignedFields {
  messageId: string;
  client: string;
  service: string;
  time: string;
  contentDigest: string;
  requestHash?: string;
  status?: string;
  idempotencyKey?: string;
}

const DEFAULT_MAX_SKEW_MS = 5 * 60_000;
const MAX_VALUE_LENGTH = 256;
const MESSAGE_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:Z|([+-])(\d{2}):(\d{2}))$/;
const CONTENT_DIGEST = /^sha-256=:([A-Za-z0-9+/]{43}=):$/;
const REQUEST_HASH = /^[A-Za-z0-9_-]{43}$/;
const HTTP_STATUS = /^[1-5][0-9]{2}$/;

// ------------------------------------------------------------------------------------------------
// errors
// ------------------------------------------------------------------------------------------------

const MESSAGES: Record<string, string> = {
  'trust.signature-missing': 'thông điệp chưa được ký / the message is not signed',
  'trust.signature-malformed': 'chữ ký không đúng định dạng / the signature is malformed',
  'trust.signature-invalid': 'chữ ký không hợp lệ / the signature does not verify',
  'trust.body-mismatch': 'nội dung thông điệp đã bị thay đổi sau khi ký / the body was changed after signing',
  'trust.certificate-unknown': 'không tìm thấy chứng thư số của bên ký / the signer\'s certificate is unknown',
  'trust.certificate-invalid': 'chứng thư số của bên ký không hợp lệ / the signer\'s certificate is not valid',
  'trust.wrong-participant': 'bên ký không phải là thành viên ghi trong thông điệp / the signer is not the participant the message names',
  'trust.stale': 'thời điểm của thông điệp nằm ngoài khoảng cho phép / the message time is outside the accepted window',
  'trust.request-hash-mismatch': 'phản hồi không gắn với yêu cầu đã gửi / the response is not bound to our request',
  'trust.bad-message-field': 'không thể ký thông điệp / the message cannot be signed',
};

const STATUS: Record<string, number> = {
  'trust.wrong-participant': 403,
  'trust.request-hash-mismatch': 502,
  // Signing a message with bad fields means the hub built it wrong: our fault, not the peer's.
  'trust.bad-message-field': 500,
};

function failure(type: string, reason: string, code: string, field?: string): HubError {
  return new HubError(type, `${MESSAGES[type] ?? type}: ${reason}`, {
    status: STATUS[type] ?? 401,
    detail: [field === undefined ? { reason, code } : { field, reason, code }],
  });
}

// ------------------------------------------------------------------------------------------------
// fields and the signing input
// ------------------------------------------------------------------------------------------------

/** The instant an ISO 8601 time with offset names, or undefined unless every part is in range (no Feb 30, no 24:00). */
function parseTime(text: string): Date | undefined {
  const match = TIME.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second, fraction, sign, offsetHours, offsetMinutes] = match;
  const local = Date.UTC(+year!, +month! - 1, +day!, +hour!, +minute!, +second!, fraction ? Math.floor(Number(`0.${fraction}`) * 1000) : 0);
  const check = new Date(local);
  const sameParts =
    check.getUTCFullYear() === +year! && check.getUTCMonth() === +month! - 1 && check.getUTCDate() === +day! && check.getUTCHours() === +hour! && check.getUTCMinutes() === +minute!;
  if (!sameParts || +second! > 59) return undefined;
  if (sign === undefined) return check;
  if (+offsetHours! > 14 || +offsetMinutes! > 59) return undefined;
  const offsetMs = (+offsetHours! * 60 + +offsetMinutes!) * 60_000 * (sign === '+' ? 1 : -1);
  return new Date(local - offsetMs);
}

/** What is wrong with one signed value, or undefined when it is well-formed. */
function problemOf(name: keyof SignedFields, value: string): { reason: string; code: string } | undefined {
  if (value.length > MAX_VALUE_LENGTH) return { reason: `is longer than ${MAX_VALUE_LENGTH} characters`, code: 'too-long' };
  switch (name) {
    case 'messageId':
      return MESSAGE_ID.test(value) ? undefined : { reason: 'must be 1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit', code: 'message-id' };
    case 'client':
      return isParticipant(value) ? undefined : { reason: 'must be a participant id VN/GOV/<agency code>/<subsystem>', code: 'participant' };
    case 'service':
      return isService(value) ? undefined : { reason: 'must be a service id <participant>/<service code>[/<version>]', code: 'service' };
    case 'time':
      return parseTime(value) ? undefined : { reason: 'must be an ISO 8601 date-time with an offset, e.g. 2025-03-07T08:00:00+07:00', code: 'time' };
    case 'contentDigest':
      return CONTENT_DIGEST.test(value) ? undefined : { reason: 'must be sha-256=:<base64 of 32 bytes>: (RFC 9530)', code: 'content-digest' };
    case 'requestHash':
      return REQUEST_HASH.test(value) ? undefined : { reason: 'must be 43 base64url characters (a SHA-256 hash)', code: 'request-hash' };
    case 'status':
      return HTTP_STATUS.test(value) ? undefined : { reason: 'must be an HTTP status, 100 to 599', code: 'status' };
    case 'idempotencyKey':
      return MESSAGE_ID.test(value) ? undefined : { reason: 'must be 1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit', code: 'idempotency-key' };
  }
}

const FIELD_ORDER: Array<keyof SignedFields> = ['messageId', 'client', 'service', 'time', 'contentDigest', 'requestHash', 'status', 'idempotencyKey'];
const OPTIONAL_FIELDS = new Set<keyof SignedFields>(['requestHash', 'status', 'idempotencyKey']);

/** The canonical bytes whose SHA-256 is the message's leaf digest. `fields` must already be checked. */
function signingInputOf(fields: SignedFields): Buffer {
  let text = `${SIGNING_INPUT_VERSION}\n`;
  for (const name of FIELD_ORDER) {
    const value = fields[name];
    if (value !== undefined) text += `${MESSAGE_HEADERS[name]}:${value}\n`;
  }
  return Buffer.from(text, 'ascii');
}

function digestOf(fields: SignedFields): Buffer {
  return createHash('sha256').update(signingInputOf(fields)).digest();
}

/** RFC 9530 Content-Digest of the exact body bytes: `sha-256=:<base64>:`. */
export function contentDigestOf(body: Buffer): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

// ------------------------------------------------------------------------------------------------
// reading headers
// ------------------------------------------------------------------------------------------------

/** Header values by lowercase name; a name given twice (in two spellings, or as a list) is refused, never guessed at. */
function headerReader(headers: IncomingHeaders): (name: string) => string | undefined {
  const byName = new Map<string, string | string[] | undefined>();
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (byName.has(lower)) throw failure('trust.signature-malformed', 'a header is given twice', 'duplicate-header', lower);
    byName.set(lower, value);
  }
  return (name) => {
    const value = byName.get(name);
    if (Array.isArray(value)) throw failure('trust.signature-malformed', 'the header is repeated', 'duplicate-header', name);
    return value;
  };
}

function readSignedFields(header: (name: string) => string | undefined): SignedFields {
  const values: Partial<SignedFields> = {};
  for (const name of FIELD_ORDER) {
    const value = header(MESSAGE_HEADERS[name]);
    if (value === undefined) {
      if (OPTIONAL_FIELDS.has(name)) continue;
      throw failure('trust.signature-malformed', 'a signed header is missing', 'missing-header', MESSAGE_HEADERS[name]);
    }
    const problem = problemOf(name, value);
    if (problem) throw failure('trust.signature-malformed', `the header ${problem.reason}`, problem.code, MESSAGE_HEADERS[name]);
    values[name] = value;
  }
  return values as SignedFields;
}

/**
 * The hash that binds a response to its request: base64url SHA-256 of the request's signing input (= its leaf digest).
 * It is the signing input, not the x-lienthong-signature header, because under batching one JWS is shared by up to
 * maxBatch requests (so it does not name one request), and because an ECDSA signature differs at each signing while the
 * signed content does not. A caller computes it from the headers it sent; a responder gets it as
 * VerifiedMessage.requestHash and echoes it in the response's signed x-lienthong-request-hash.
 */
export function requestHashOf(requestHeaders: IncomingHeaders): string {
  return digestOf(readSignedFields(headerReader(requestHeaders))).toString('base64url');
}

// ------------------------------------------------------------------------------------------------
// signing
// ------------------------------------------------------------------------------------------------

/** The headers to send with `body`: the signed fields, content-digest, and the signature (and proof inside a batch). */
export async function signMessage(signer: Signer, body: Buffer, fields: MessageFields): Promise<Record<string, string>> {
  const values: SignedFields = {
    messageId: fields.messageId,
    client: fields.client,
    service: fields.service,
    time: fields.time instanceof Date ? fields.time.toISOString() : fields.time,
    contentDigest: contentDigestOf(body),
    ...(fields.requestHash === undefined ? {} : { requestHash: fields.requestHash }),
    ...(fields.status === undefined ? {} : { status: String(fields.status) }),
    ...(fields.idempotencyKey === undefined ? {} : { idempotencyKey: fields.idempotencyKey }),
  };
  for (const name of FIELD_ORDER) {
    const value = values[name];
    if (value === undefined) continue;
    const problem = typeof value === 'string' ? problemOf(name, value) : { reason: 'must be text', code: 'type' };
    if (problem) throw failure('trust.bad-message-field', `${name} ${problem.reason}`, problem.code, MESSAGE_HEADERS[name]);
  }
  const { jws, proof } = await signer.sign(digestOf(values));
  const headers: Record<string, string> = {};
  for (const name of FIELD_ORDER) {
    const value = values[name];
    if (value !== undefined) headers[MESSAGE_HEADERS[name]] = value;
  }
  headers[MESSAGE_HEADERS.signature] = jws;
  if (proof !== '') headers[MESSAGE_HEADERS.proof] = proof;
  return headers;
}

// ------------------------------------------------------------------------------------------------
// verifying
// ------------------------------------------------------------------------------------------------

/** Runs a reader of one header's text, naming that header in the HubError it may throw. */
function inHeader<T>(field: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!isHubError(error)) throw error;
    const cause = error.detail[0];
    throw failure(error.type, cause?.reason ?? 'the header is malformed', cause?.code ?? 'malformed', field);
  }
}

/**
 * Verifies a message from another hub, cheapest and most basic checks first: headers present and well-formed →
 * certificate resolved → chain checked → signature (over the signing input, the proof folded to the root) → body
 * against content-digest → time window → signer is the participant the message names → request hash, when expected.
 * Every failure is a HubError (see the types in MESSAGES) whose detail names the cause, never a header's value.
 */
/** `certificate.publicKey` makes a new KeyObject on every read; one per certificate lets the verifier keep its key. */
const publicKeys = new WeakMap<X509Certificate, KeyObject>();
function publicKeyOf(certificate: X509Certificate): KeyObject {
  let key = publicKeys.get(certificate);
  if (!key) publicKeys.set(certificate, (key = certificate.publicKey));
  return key;
}

export async function verifyMessage(headers: IncomingHeaders, body: Buffer, options: VerifyOptions): Promise<VerifiedMessage> {
  // 1. headers present and well-formed
  const header = headerReader(headers);
  const jws = header(MESSAGE_HEADERS.signature);
  if (jws === undefined || jws === '') throw failure('trust.signature-missing', 'the x-lienthong-signature header is absent', 'no-signature', MESSAGE_HEADERS.signature);
  const fields = readSignedFields(header);
  const expectResponse = options.expectRequestHash !== undefined;
  if (!expectResponse && fields.requestHash !== undefined) {
    throw failure('trust.signature-malformed', 'a request must not carry x-lienthong-request-hash: this is a signed response', 'unexpected-request-hash', MESSAGE_HEADERS.requestHash);
  }
  if (!expectResponse && fields.status !== undefined) {
    throw failure('trust.signature-malformed', 'a request must not carry x-lienthong-status: that is a signed response\'s', 'unexpected-status', MESSAGE_HEADERS.status);
  }
  const signature = inHeader(MESSAGE_HEADERS.signature, () => readBatchSignature(jws));
  const proof = inHeader(MESSAGE_HEADERS.proof, () => decodeProof(header(MESSAGE_HEADERS.proof) ?? ''));

  // 2. certificate resolved
  const resolved = options.resolveCertificate({ kid: signature.header.kid, x5c: signature.header.x5c });
  if (!resolved) throw failure('trust.certificate-unknown', 'no known certificate matches the signature\'s kid or x5c', 'not-found');
  const { certificate, chain } = resolved;
  if (signature.header.kid !== undefined && kidOf(certificate) !== signature.header.kid) {
    throw failure('trust.certificate-unknown', 'the resolved certificate is not the one the signature\'s kid names', 'kid-mismatch');
  }

  // 3. chain checked
  const now = (options.now ?? (() => new Date()))();
  const chainCheck = options.checkChain(certificate, chain, now);
  if (!chainCheck.ok) throw failure('trust.certificate-invalid', chainCheck.reason, chainCheck.code);

  // 4. signature over the signing input
  const digest = digestOf(fields);
  await verifyBatchSignature(signature, digest, proof, publicKeyOf(certificate));

  // 5. the body is the one signed (checked after the signature, so a changed body is told apart from a forged header)
  if ((options.contentDigest ?? contentDigestOf(body)) !== fields.contentDigest) {
    throw failure('trust.body-mismatch', 'the body\'s SHA-256 differs from the signed content-digest', 'content-digest', MESSAGE_HEADERS.contentDigest);
  }

  // 6. time window
  const time = parseTime(fields.time)!;
  const maxSkewMs = options.maxSkewMs ?? DEFAULT_MAX_SKEW_MS;
  const skew = time.getTime() - now.getTime();
  if (skew < -maxSkewMs) throw failure('trust.stale', `the message is older than ${Math.round(maxSkewMs / 1000)} s`, 'too-old', MESSAGE_HEADERS.time);
  if (skew > maxSkewMs) throw failure('trust.stale', `the message is more than ${Math.round(maxSkewMs / 1000)} s in the future`, 'in-future', MESSAGE_HEADERS.time);

  // 7. the signer is who the message says: the client for a request, the service's provider for a response
  const participant = participantOf(certificate);
  if (participant === undefined) throw failure('trust.wrong-participant', 'the certificate names no participant (no urn:lienthong:participant: URI SAN)', 'no-participant');
  const expectedSigner = options.expectSigner ?? (expectResponse ? formatParticipant(serviceParticipant(parseService(fields.service))) : fields.client);
  if (participant !== expectedSigner) {
    const role = options.expectSigner ? 'the hub expected to answer' : expectResponse ? 'the provider of x-lienthong-service' : 'x-lienthong-client';
    throw failure('trust.wrong-participant', `the certificate belongs to another participant than ${role}`, 'participant-mismatch', expectResponse ? MESSAGE_HEADERS.service : MESSAGE_HEADERS.client);
  }

  // 8. a response answers our request
  if (expectResponse) {
    if (fields.requestHash === undefined) throw failure('trust.request-hash-mismatch', 'the response carries no x-lienthong-request-hash', 'request-hash-missing', MESSAGE_HEADERS.requestHash);
    if (fields.requestHash !== options.expectRequestHash) {
      throw failure('trust.request-hash-mismatch', 'the response answers another request', 'request-hash-mismatch', MESSAGE_HEADERS.requestHash);
    }
    if (options.expectStatus !== undefined && fields.status !== String(options.expectStatus)) {
      throw failure('trust.signature-invalid', fields.status === undefined ? 'the response does not sign its HTTP status (x-lienthong-status)' : 'the response came with another HTTP status than the one it signed', 'status-mismatch', MESSAGE_HEADERS.status);
    }
  }

  return {
    messageId: fields.messageId,
    client: fields.client,
    service: fields.service,
    time,
    certificate,
    participant,
    requestHash: digest.toString('base64url'),
    ...(fields.idempotencyKey === undefined ? {} : { idempotencyKey: fields.idempotencyKey }),
  };
}
