import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { HubError } from '../core/errors.js';
import { suggestion } from '../core/suggest.js';
import type { JsonSchema } from '../schema/set.js';
import { deepFreeze, isPlainObject } from '../core/objects.js';

/**
 * Message-level checksums of the Vietnamese payment systems (the DVCQG payment platform's `MaXacThuc`,
 * PayGov's `checksum`), as configuration rather than code: a scheme names the fields it covers, in
 * order, where the shared secret goes, the separator, the digest and its text encoding.
 *
 *   { field: 'MaXacThuc', algorithm: 'sha256', encoding: 'hex', separator: '|',
 *     parts: [{ path: 'LoaiBanTin' }, { path: 'PhienBan' }, …, { secret: true }] }
 *
 * The digest is taken over the UTF-8 bytes of the parts joined by the separator. A config object never
 * holds the secret, only the marker `{ secret: true }` for where it goes, so a config may be logged and
 * shown in `lienthong check` freely; the secret is handed to each call.
 *
 * Known schemes ship as presets (CHECKSUM_PRESETS) in the same form, each with where its facts come from.
 */

export const CHECKSUM_ALGORITHMS = ['sha256', 'hmac-sha256'] as const;
export const CHECKSUM_ENCODINGS = ['hex', 'hex-upper', 'base64'] as const;
export const MISSING_FIELD_POLICIES = ['empty', 'error'] as const;

/** `sha256`: the secret is one of the parts. `hmac-sha256`: the secret is the HMAC key and is not a part. */
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];
/** How `compute` and `sign` write the digest. `verify` accepts hex digits in either case (see below). */
export type ChecksumEncoding = (typeof CHECKSUM_ENCODINGS)[number];
/** What an absent (or null) field contributes: the empty string, or a refusal. */
export type MissingFieldPolicy = (typeof MISSING_FIELD_POLICIES)[number];

/** A field of the message (dotted path, e.g. `ThongTinBienLai.MaHoSo`), fixed text, or the secret. */
export type ChecksumPart = { path: string } | { literal: string } | { secret: true };

export interface ChecksumConfig {
  /** Top-level field of the message that carries the checksum, e.g. `MaXacThuc`. */
  field: string;
  algorithm: ChecksumAlgorithm;
  encoding: ChecksumEncoding;
  /** Put between the parts (default '': plain concatenation). */
  separator?: string;
  parts: ChecksumPart[];
  /**
   * Default 'empty', because that is what the real counterparts compute: OpenCPS reads fields with
   * Liferay's `JSONObject.getString`, which gives "" for an absent key, and Thanh Hóa's .NET code
   * interpolates properties, which renders null as "". A hub that refused absent fields would reject
   * messages both consider valid (an empty `MaNganHang`, a missing `Ip`) and could not sign them.
   * 'error' is for schemes whose peers are known to require every field.
   */
  missing?: MissingFieldPolicy;
}

export type ChecksumVerdict =
  | { ok: true }
  | { ok: false; code: 'no-checksum' | 'malformed' | 'mismatch' | 'missing-field' | 'bad-field'; reason: string };

export interface CompiledChecksum {
  readonly config: Readonly<ChecksumConfig>;
  /** The covered text in words, with the secret as `<secret>`: `LoaiBanTin|PhienBan|…|<secret>`. Safe to log. */
  readonly formula: string;
  /** The checksum of `message` as the encoding writes it. Throws `client.bad-request` for a field it cannot hash. */
  compute(message: unknown, secret: string): string;
  /** Whether `message[field]` is the checksum of the message. Never throws for anything in the message. */
  verify(message: unknown, secret: string): ChecksumVerdict;
  /** A copy of `message` with the checksum field set (the original is not changed). */
  sign<T extends object>(message: T, secret: string): T & Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// config problems
// ---------------------------------------------------------------------------------------------

const CONFIG_KEYS = ['field', 'algorithm', 'encoding', 'separator', 'parts', 'missing'];
const PART_KEYS = ['path', 'literal', 'secret'];


function isDottedPath(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.split('.').every((segment) => segment.length > 0);
}

function oneOfText(values: readonly string[]): string {
  return values.join(', ');
}

/** Every problem of a checksum config, in words that say how to fix it; [] when it is usable. */
export function checkChecksumConfig(config: unknown): string[] {
  if (!isPlainObject(config)) return ['the checksum config must be an object with field, algorithm, encoding and parts'];
  const problems: string[] = [];
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.includes(key)) problems.push(`unknown key '${key}': ${suggestion(key, CONFIG_KEYS, 'keys')}`);
  }

  const { field, algorithm, encoding, separator, parts, missing } = config;
  if (typeof field !== 'string' || field.length === 0) {
    problems.push('field: give the message field that carries the checksum, e.g. MaXacThuc');
  } else if (field.includes('.')) {
    problems.push('field: must be a top-level field name (no dots)');
  }
  if (!CHECKSUM_ALGORITHMS.includes(algorithm as ChecksumAlgorithm)) problems.push(`algorithm: must be one of ${oneOfText(CHECKSUM_ALGORITHMS)}`);
  if (!CHECKSUM_ENCODINGS.includes(encoding as ChecksumEncoding)) problems.push(`encoding: must be one of ${oneOfText(CHECKSUM_ENCODINGS)}`);
  if (separator !== undefined && typeof separator !== 'string') problems.push('separator: must be a string (use "" for plain concatenation)');
  if (missing !== undefined && !MISSING_FIELD_POLICIES.includes(missing as MissingFieldPolicy)) problems.push(`missing: must be one of ${oneOfText(MISSING_FIELD_POLICIES)}`);

  if (!Array.isArray(parts) || parts.length === 0) {
    problems.push('parts: must be a non-empty list of { path }, { literal } or { secret: true }');
    return problems;
  }
  let secrets = 0;
  let paths = 0;
  parts.forEach((part: unknown, i) => {
    const at = `parts[${i}]`;
    if (!isPlainObject(part)) {
      problems.push(`${at}: must be { path: <field> }, { literal: <text> } or { secret: true }`);
      return;
    }
    const keys = Object.keys(part);
    for (const key of keys) {
      if (!PART_KEYS.includes(key)) problems.push(`${at}: unknown key '${key}': ${suggestion(key, PART_KEYS, 'keys')}`);
    }
    const kinds = keys.filter((key) => PART_KEYS.includes(key));
    if (kinds.length !== 1) {
      problems.push(`${at}: must have exactly one of path, literal or secret`);
      return;
    }
    if (kinds[0] === 'path') {
      paths++;
      if (!isDottedPath(part.path)) {
        problems.push(`${at}.path: must be a field name or a dotted path of names, e.g. ThongTinBienLai.MaHoSo`);
      } else if (typeof field === 'string' && (part.path === field || part.path.startsWith(`${field}.`))) {
        problems.push(`${at}.path: the checksum cannot cover its own field ${field}`);
      }
    } else if (kinds[0] === 'literal') {
      if (typeof part.literal !== 'string') problems.push(`${at}.literal: must be a string`);
    } else {
      secrets++;
      if (part.secret !== true) problems.push(`${at}.secret: must be true (the secret itself is never written in config)`);
    }
  });
  if (algorithm === 'sha256' && secrets !== 1) {
    problems.push(
      secrets === 0
        ? 'parts: a sha256 checksum needs one { secret: true } part; without the secret anyone can compute the checksum'
        : `parts: has ${secrets} { secret: true } parts; a scheme puts the secret in one place`,
    );
  }
  if (algorithm === 'hmac-sha256' && secrets > 0) problems.push('parts: an hmac-sha256 checksum takes the secret as its key; remove the { secret: true } part');
  if (paths === 0) problems.push('parts: name at least one message field; a checksum over literals and the secret alone protects nothing');
  return problems;
}

/**
 * JSON Schema (2020-12) of a connector's checksum setting (`operations.<id>.checksum.request|response`): a preset
 * and/or a scheme written out, plus the secret. src/config/write-schemas.ts writes it into
 * schemas/config/connector.schema.json as `$defs.Checksum`. The rules across fields (and the preset's fields filled
 * in) are checkChecksumConfig's, on checksumSettingConfig.
 */
export function checksumSettingSchema(): JsonSchema {
  const part = (key: string, schema: Record<string, unknown>, description: string) => ({
    type: 'object',
    additionalProperties: false,
    required: [key],
    properties: { [key]: schema },
    description,
  });
  return {
    description: 'Mã kiểm tra toàn vẹn của thông điệp (MaXacThuc, checksum) / message checksum (payment platforms): a preset, or a scheme written out (the fields it covers, in order, and where the secret goes), plus the secret. The hub computes it on the messages it sends and verifies it (constant time) on those it receives.',
    type: 'object',
    additionalProperties: false,
    required: ['secret'],
    properties: {
      preset: { enum: Object.keys(CHECKSUM_PRESETS), description: "A known scheme; fields given beside it override the preset's." },
      field: { type: 'string', minLength: 1, pattern: '^[^.]+$', description: 'Top-level message field that carries the checksum, e.g. MaXacThuc.' },
      algorithm: { enum: [...CHECKSUM_ALGORITHMS], description: 'sha256: the secret is one of the parts; hmac-sha256: the secret is the HMAC key.' },
      encoding: { enum: [...CHECKSUM_ENCODINGS], description: 'How the digest is written: lowercase hex, uppercase hex or base64. Verification accepts hex in either case.' },
      separator: { type: 'string', default: '', description: 'Put between the parts; "" concatenates.' },
      missing: { enum: [...MISSING_FIELD_POLICIES], default: 'empty', description: 'An absent or null field counts as "" (empty), or makes the message unverifiable (error).' },
      parts: {
        type: 'array',
        minItems: 1,
        description: 'What is hashed, in order.',
        items: {
          oneOf: [
            part('path', { type: 'string', minLength: 1, pattern: '^[^.]+(\\.[^.]+)*$' }, 'A message field: a name or a dotted path such as ThongTinBienLai.MaHoSo.'),
            part('literal', { type: 'string' }, 'Fixed text.'),
            part('secret', { const: true }, 'Where the shared secret goes (sha256 only).'),
          ],
        },
      },
      secret: { type: 'string', minLength: 1, description: 'The shared secret; write ${ENV_VAR}, never the value.' },
    },
  };
}

// ---------------------------------------------------------------------------------------------
// compiling and running
// ---------------------------------------------------------------------------------------------

type CompiledPart = { kind: 'path'; path: string; segments: string[] } | { kind: 'literal'; text: string } | { kind: 'secret' };

/** Why a field cannot be hashed; names the field, never its value. */
class FieldProblem {
  constructor(readonly path: string, readonly code: 'missing-field' | 'bad-field', readonly reason: string) {}
}

function read(message: unknown, segments: string[]): unknown {
  let node: unknown = message;
  for (const segment of segments) {
    if (Array.isArray(node) && /^\d+$/.test(segment)) node = node[Number(segment)];
    else if (isPlainObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

/** The text a field contributes: strings as they are, numbers and booleans as JSON writes them. */
function fieldText(message: unknown, part: Extract<CompiledPart, { kind: 'path' }>, missing: MissingFieldPolicy): string | FieldProblem {
  const value = read(message, part.segments);
  if (value === undefined || value === null) {
    return missing === 'empty' ? '' : new FieldProblem(part.path, 'missing-field', `the message has no ${part.path}, which the checksum covers`);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    return Number.isFinite(value) ? String(value) : new FieldProblem(part.path, 'bad-field', `${part.path} is not a finite number`);
  }
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return new FieldProblem(part.path, 'bad-field', `${part.path} is an object or a list; a checksum covers text and numbers only`);
}

function noSecret(): HubError {
  return new HubError('server.config', 'Thiếu khóa bí mật của mã kiểm tra / the checksum secret is missing', {
    status: 500,
    detail: [{ field: 'secret', reason: 'configure the shared secret (e.g. through an ${ENV} variable)', code: 'no-secret' }],
  });
}

function notAMessage(): HubError {
  return new HubError('client.bad-request', 'Thông điệp phải là một đối tượng JSON / the message must be a JSON object', {
    status: 400,
    detail: [{ reason: 'a checksum is computed over the fields of a JSON object', code: 'not-an-object' }],
  });
}

const DIGEST_BYTES = 32;
const HEX_DIGEST = /^[0-9a-fA-F]{64}$/;

/** The received checksum as digest bytes, or undefined when it is not a digest in this encoding. */
function decodeReceived(text: string, encoding: ChecksumEncoding): Buffer | undefined {
  if (encoding === 'base64') {
    // Node's base64 decoder skips characters it does not know; re-encoding finds any such text
    const bytes = Buffer.from(text, 'base64');
    return bytes.length === DIGEST_BYTES && bytes.toString('base64') === text ? bytes : undefined;
  }
  // Hex is a number written in base 16, and peers differ in case (C# "x2" vs "X2"); both mean the same digest.
  return HEX_DIGEST.test(text) ? Buffer.from(text, 'hex') : undefined;
}

function encodeDigest(digest: Buffer, encoding: ChecksumEncoding): string {
  if (encoding === 'base64') return digest.toString('base64');
  const hex = digest.toString('hex');
  return encoding === 'hex-upper' ? hex.toUpperCase() : hex;
}

/** Compiles a checksum scheme once; throws `server.config` listing every problem of the config. */
export function compileChecksum(config: ChecksumConfig): CompiledChecksum {
  const problems = checkChecksumConfig(config);
  if (problems.length) {
    throw new HubError('server.config', `Cấu hình mã kiểm tra không hợp lệ / invalid checksum config: ${problems.join('; ')}`, {
      status: 500,
      detail: problems.map((reason) => ({ field: 'checksum', reason, code: 'bad-checksum-config' })),
    });
  }
  const frozen: Readonly<ChecksumConfig> = Object.freeze({ ...config, parts: Object.freeze(config.parts.map((p) => Object.freeze({ ...p }))) as ChecksumPart[] });
  const { field, algorithm, encoding } = frozen;
  const separator = frozen.separator ?? '';
  const missing = frozen.missing ?? 'empty';
  const parts: CompiledPart[] = frozen.parts.map((part) => {
    if ('path' in part) return { kind: 'path', path: part.path, segments: part.path.split('.') };
    if ('literal' in part) return { kind: 'literal', text: part.literal };
    return { kind: 'secret' };
  });
  const formula = parts.map((p) => (p.kind === 'path' ? p.path : p.kind === 'literal' ? JSON.stringify(p.text) : '<secret>')).join(separator);

  const digestOf = (message: unknown, secret: string): Buffer | FieldProblem => {
    const texts: string[] = [];
    for (const part of parts) {
      if (part.kind === 'secret') {
        texts.push(secret);
      } else if (part.kind === 'literal') {
        texts.push(part.text);
      } else {
        const text = fieldText(message, part, missing);
        if (text instanceof FieldProblem) return text;
        texts.push(text);
      }
    }
    const covered = texts.join(separator);
    const hash = algorithm === 'hmac-sha256' ? createHmac('sha256', secret) : createHash('sha256');
    return hash.update(covered, 'utf8').digest();
  };

  const requireUsable = (message: unknown, secret: string) => {
    if (typeof secret !== 'string' || secret.length === 0) throw noSecret();
    if (!isPlainObject(message)) throw notAMessage();
  };

  const compute = (message: unknown, secret: string): string => {
    requireUsable(message, secret);
    const digest = digestOf(message, secret);
    if (digest instanceof FieldProblem) {
      throw new HubError('client.bad-request', `Không tính được ${field} / cannot compute ${field}: ${digest.reason}`, {
        status: 400,
        detail: [{ field: digest.path, reason: digest.reason, code: digest.code }],
      });
    }
    return encodeDigest(digest, encoding);
  };

  return {
    config: frozen,
    formula,
    compute,

    verify(message, secret) {
      if (typeof secret !== 'string' || secret.length === 0) throw noSecret();
      if (!isPlainObject(message)) return { ok: false, code: 'malformed', reason: 'the message is not a JSON object' };
      const received = message[field];
      if (typeof received !== 'string' || received.length === 0) return { ok: false, code: 'no-checksum', reason: `the message has no ${field}` };
      const receivedDigest = decodeReceived(received, encoding);
      if (!receivedDigest) {
        const expected = encoding === 'base64' ? 'a base64 SHA-256 digest (44 characters)' : 'a SHA-256 digest in hex (64 digits)';
        return { ok: false, code: 'malformed', reason: `${field} is not ${expected}` };
      }
      const digest = digestOf(message, secret);
      if (digest instanceof FieldProblem) return { ok: false, code: digest.code, reason: digest.reason };
      // both sides are 32 bytes here, as timingSafeEqual requires
      if (!timingSafeEqual(digest, receivedDigest)) {
        return { ok: false, code: 'mismatch', reason: `${field} does not match the message: a covered field was changed, or the secret differs` };
      }
      return { ok: true };
    },

    sign(message, secret) {
      return { ...message, [field]: compute(message, secret) } as typeof message & Record<string, string>;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// presets: the known schemes, as config
// ---------------------------------------------------------------------------------------------

/**
 * - confirmed: field order, separator, secret position and hex case all read in public code.
 * - partial: seen in code, but with a gap the note names (one source that never enforced it, an assumed case).
 * - unconfirmed: no public code computes it; the parts are our guess, to be checked against the peer.
 */
export type PresetStatus = 'confirmed' | 'partial' | 'unconfirmed';

export interface ChecksumPreset {
  config: ChecksumConfig;
  status: PresetStatus;
  /** What is not confirmed, for `lienthong check` to repeat; absent when confirmed. */
  note?: string;
}

const SECRET: ChecksumPart = { secret: true };
const fields = (...paths: string[]): ChecksumPart[] => paths.map((path) => ({ path }));

/** Presets are shared by every connector that names them: none of them may change one for the others. */
export const CHECKSUM_PRESETS = deepFreeze({
  /**
   * DVCQG payment platform, INIT (the one-stop system asks for a payment URL), field `MaXacThuc`:
   * SHA-256, lowercase hex, UTF-8, of
   *   LoaiBanTin|PhienBan|MaDoiTac|MaThamChieu|SoTien|LoaiHinhThanhToan|MaKenhThanhToan|MaThietBi|NgonNgu|MaTienTe|MaNganHang|ThongTinGiaoDich|ThoiGianGD|Ip|<secret>
   * Two independent implementations agree: OpenCPS `modules/pay-gate-integration/…/util/PayGateUtil.java`
   * (the 15-argument `generateChecksum`, later versions; earlier versions used HMAC-SHA256 over the same
   * fields without the secret, since replaced) and Thanh Hóa `Infrastructure/DvcPayment/DvcPaymentService.cs`
   * (`InitPayment`, digest written with "x2"). `ThongTinBienLai` (receipt details) is not covered.
   */
  'dvcqg-payment-init': {
    status: 'confirmed',
    config: {
      field: 'MaXacThuc', algorithm: 'sha256', encoding: 'hex', separator: '|', missing: 'empty',
      parts: [...fields('LoaiBanTin', 'PhienBan', 'MaDoiTac', 'MaThamChieu', 'SoTien', 'LoaiHinhThanhToan', 'MaKenhThanhToan', 'MaThietBi', 'NgonNgu', 'MaTienTe', 'MaNganHang', 'ThongTinGiaoDich', 'ThoiGianGD', 'Ip'), SECRET],
    },
  },
  /**
   * DVCQG payment platform, confirmation callback to the one-stop system, field `MaXacThuc`:
   * SHA-256, lowercase hex, UTF-8, of
   *   LoaiBanTin|MaLoi|MaDoiTac|MaThamChieu|SoTien|MaTienTe|MaGiaoDich|MaNganHang|ThoiGianGD|ThongTinGiaoDich|<secret>
   * (note ThoiGianGD before ThongTinGiaoDich, the reverse of INIT). Two independent implementations agree:
   * OpenCPS `PayGateUtil.java` (the 11-argument `generateChecksum`, later versions, as called from
   * `PayGateIntegrationActionImpl.ppConfirmTransaction`, where the refusal is commented out) and Thanh Hóa
   * `ConfirmDvcPaymentCommandHandler` (the same string, hashed by `DvcPaymentService.CreateMaXacThuc` with
   * "x2"), which refuses a mismatch ("Mã xác thực không chính xác"). Both replies echo the callback's
   * MaXacThuc and ThoiGianGD; no reply scheme of its own exists.
   */
  'dvcqg-payment-confirm': {
    status: 'confirmed',
    config: {
      field: 'MaXacThuc', algorithm: 'sha256', encoding: 'hex', separator: '|', missing: 'empty',
      parts: [...fields('LoaiBanTin', 'MaLoi', 'MaDoiTac', 'MaThamChieu', 'SoTien', 'MaTienTe', 'MaGiaoDich', 'MaNganHang', 'ThoiGianGD', 'ThongTinGiaoDich'), SECRET],
    },
  },
  /**
   * DVCQG payment platform, look-ups by reference (get bill, receipt PDF "biên lai", payment status),
   * field `MaXacThuc`: SHA-256, lowercase hex, of
   *   LoaiBanTin|PhienBan|MaDoiTac|MaThamChieu|ThoiGianGD|<secret>
   * Two sources agree: OpenCPS `PayGateUtil.java` (`generateGetBillChecksum` and the 6-argument
   * `generateChecksum`) and Thanh Hóa `DvcPaymentService.cs` (`GetBienLaiDvcPayment`, whose comment reads
   * "loaiBanTin|PhienBan|MaDoiTac|MaThamChieu|ThoiGianGD|MaBiMat", and `CheckPaymentStatus`).
   */
  'dvcqg-payment-query': {
    status: 'confirmed',
    config: {
      field: 'MaXacThuc', algorithm: 'sha256', encoding: 'hex', separator: '|', missing: 'empty',
      parts: [...fields('LoaiBanTin', 'PhienBan', 'MaDoiTac', 'MaThamChieu', 'ThoiGianGD'), SECRET],
    },
  },
  /**
   * PayGov payment request (sent through the LGSP), field `checksum`: SHA-256 of the plain concatenation
   *   secretKey + accessKey + partnerCode + orderId + requestCode + amount
   * Source: OpenCPS `PayGateIntegrationActionImpl.getUrlRedirectToPaygov` → `PayGateTerm.genChecksum`, as
   * recorded in VN-SYSTEMS.md; sent only for partner PAYGOV-HAUGIANG there. Not confirmed: the body of
   * `genChecksum` was not in the stored copies we read, so the hex case is assumed lowercase, as in the
   * sibling PayGov receipt checksum of the same code base (`%064x`).
   */
  'paygov-request': {
    status: 'partial',
    note: 'field order as recorded from OpenCPS; lowercase hex assumed',
    config: {
      field: 'checksum', algorithm: 'sha256', encoding: 'hex', separator: '', missing: 'empty',
      parts: [SECRET, ...fields('accessKey', 'partnerCode', 'orderId', 'requestCode', 'amount')],
    },
  },
  /**
   * PayGov receipt request (biên lai, Hậu Giang, through the LGSP), field `checksum`: SHA-256, lowercase
   * hex (`String.format("%064x", …)`), of the plain concatenation
   *   secretKey + partnerCode + accessKey + payerId + payerName + payerAddress + payerDistrict + payerProvince
   *   + docCode + procedureName + paids + otherInfo + decisionDate
   * (note partnerCode before accessKey, the reverse of the payment request; absent values sent as "").
   * Source: an OpenCPS backend-api-rest controller ("Case in bien lai paygov Hau Giang", `generateCheckSumHG`).
   */
  'paygov-receipt': {
    status: 'confirmed',
    config: {
      field: 'checksum', algorithm: 'sha256', encoding: 'hex', separator: '', missing: 'empty',
      parts: [SECRET, ...fields('partnerCode', 'accessKey', 'payerId', 'payerName', 'payerAddress', 'payerDistrict', 'payerProvince', 'docCode', 'procedureName', 'paids', 'otherInfo', 'decisionDate')],
    },
  },
  /**
   * PayGov payment result callback `{orderId, amount, transactionNo, payDate, paygate, errorCode,
   * transactionCode, checksum}`. UNCONFIRMED: OpenCPS (`ppConfirmTransactionPaygov`) reads `checksum`
   * but never checks it, and no public code computes it. The parts below are a guess in PayGov's style
   * (secret first, plain concatenation, the callback's fields in the order they are documented).
   * A wrong guess fails closed (every callback refused), so test it against the peer first.
   */
  'paygov-callback': {
    status: 'unconfirmed',
    note: 'no public code computes this checksum; the field order is a guess',
    config: {
      field: 'checksum', algorithm: 'sha256', encoding: 'hex', separator: '', missing: 'empty',
      parts: [SECRET, ...fields('orderId', 'amount', 'transactionNo', 'payDate', 'paygate', 'errorCode', 'transactionCode')],
    },
  },
} satisfies Record<string, ChecksumPreset>);

export type ChecksumPresetName = keyof typeof CHECKSUM_PRESETS;

export function checksumPreset(name: string): ChecksumPreset {
  const names = Object.keys(CHECKSUM_PRESETS);
  if (!Object.hasOwn(CHECKSUM_PRESETS, name)) {
    throw new HubError('server.config', `Không có mẫu mã kiểm tra '${name.slice(0, 64)}' / unknown checksum preset: ${suggestion(name, names, 'presets')}`, {
      status: 500,
      detail: [{ field: 'preset', reason: `use one of ${names.join(', ')}`, code: 'unknown-preset' }],
    });
  }
  return CHECKSUM_PRESETS[name as ChecksumPresetName];
}

/**
 * A connector's checksum setting (a preset and/or a scheme written out, plus the secret) as the scheme
 * to compile: the preset's config with the fields given beside it taking precedence.
 */
export function checksumSettingConfig(setting: { preset?: string; secret?: unknown }): unknown {
  const { preset, secret: _secret, ...own } = setting;
  const base = preset === undefined ? {} : checksumPreset(preset).config;
  return { ...structuredClone(base), ...own };
}
