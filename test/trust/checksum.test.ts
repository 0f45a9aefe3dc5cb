import { thrown } from '../support/errors.js';
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAjv } from '../../src/schema/ajv.js';
import {
  CHECKSUM_PRESETS,
  checkChecksumConfig,
  checksumSettingSchema,
  checksumPreset,
  compileChecksum,
  type ChecksumConfig,
  type ChecksumPresetName,
} from '../../src/trust/checksum.js';

// Fictitious partner, dossier and secret. Expected digests are computed here, independently, over the
// literal text each scheme covers.
const SECRET = 'bi-mat-thu-nghiem-0001';
const sha256hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

const compiled = (name: ChecksumPresetName) => compileChecksum(CHECKSUM_PRESETS[name].config);

const INIT = {
  LoaiBanTin: 'INIT',
  PhienBan: '1.0.6',
  MaDoiTac: 'DOITAC-THU',
  MaThamChieu: 'dvc00014H562503040007',
  SoTien: '50000',
  LoaiHinhThanhToan: 'PAY',
  MaKenhThanhToan: '1',
  MaThietBi: '1',
  NgonNgu: 'vi-VN',
  MaTienTe: 'VND',
  MaNganHang: 'PAYMENT',
  ThongTinGiaoDich: 'THANH TOAN HO SO 000.00.14.H56-250304-0007',
  ThoiGianGD: '20250304091500',
  Ip: '10.0.0.1',
  ThongTinBienLai: { MaHoSo: '000.00.14.H56-250304-0007', HoTenNguoiNop: 'Trần Văn Thử', PhiLePhi: [{ MaPhiLePhi: '1.001234.01', SoTien: '50000' }] },
};
const INIT_TEXT = `INIT|1.0.6|DOITAC-THU|dvc00014H562503040007|50000|PAY|1|1|vi-VN|VND|PAYMENT|THANH TOAN HO SO 000.00.14.H56-250304-0007|20250304091500|10.0.0.1|${SECRET}`;

const CONFIRM = {
  LoaiBanTin: 'CONFIRM',
  MaLoi: '00',
  MaDoiTac: 'DOITAC-THU',
  MaThamChieu: 'dvc00014H562503040007',
  SoTien: 50000,
  MaTienTe: 'VND',
  MaGiaoDich: 'GD-999001',
  MaNganHang: 'NH-THU',
  ThoiGianGD: '20250304091733',
  ThongTinGiaoDich: 'THANH TOAN HO SO 000.00.14.H56-250304-0007',
};

const PAYGOV_REQUEST = {
  partnerCode: 'PAYGOV-MAU',
  accessKey: 'ak-thu-nghiem',
  serviceCode: 'DVC',
  orderId: '000.00.14.H56-000.00.14.H56-250304-0007-01',
  amount: 50000,
  orderInfo: 'Le phi (mau)',
  requestCode: '4242421741075200000',
  ipAddress: '10.0.0.1',
  returnUrl: 'https://motcua.example.invalid/paygov/return',
};

describe('preset schemes, against digests computed independently', () => {
  it('dvcqg-payment-init: |-joined header fields then the secret, lowercase hex', () => {
    const scheme = compiled('dvcqg-payment-init');
    const expected = sha256hex(INIT_TEXT);
    expect(scheme.compute(INIT, SECRET)).toBe(expected);
    const signed = scheme.sign(INIT, SECRET);
    expect(signed.MaXacThuc).toBe(expected);
    expect(INIT).not.toHaveProperty('MaXacThuc');
    expect(scheme.verify(signed, SECRET)).toEqual({ ok: true });
  });

  it('dvcqg-payment-confirm: ThoiGianGD comes before ThongTinGiaoDich; a numeric SoTien is written as JSON writes it', () => {
    const text = `CONFIRM|00|DOITAC-THU|dvc00014H562503040007|50000|VND|GD-999001|NH-THU|20250304091733|THANH TOAN HO SO 000.00.14.H56-250304-0007|${SECRET}`;
    const scheme = compiled('dvcqg-payment-confirm');
    expect(scheme.compute(CONFIRM, SECRET)).toBe(sha256hex(text));
    expect(scheme.verify({ ...CONFIRM, MaXacThuc: sha256hex(text) }, SECRET)).toEqual({ ok: true });
  });

  it('dvcqg-payment-query: LoaiBanTin|PhienBan|MaDoiTac|MaThamChieu|ThoiGianGD|secret', () => {
    const message = { LoaiBanTin: 'GETRECEIPT', PhienBan: '1.0.6', MaDoiTac: 'DOITAC-THU', MaThamChieu: 'dvc00014H562503040007', ThoiGianGD: '20250304100000' };
    expect(compiled('dvcqg-payment-query').compute(message, SECRET)).toBe(sha256hex(`GETRECEIPT|1.0.6|DOITAC-THU|dvc00014H562503040007|20250304100000|${SECRET}`));
  });

  it('paygov-request: secretKey + accessKey + partnerCode + orderId + requestCode + amount, no separator', () => {
    const expected = sha256hex(`${SECRET}ak-thu-nghiemPAYGOV-MAU000.00.14.H56-000.00.14.H56-250304-0007-01424242174107520000050000`);
    const scheme = compiled('paygov-request');
    expect(scheme.compute(PAYGOV_REQUEST, SECRET)).toBe(expected);
    expect(scheme.sign(PAYGOV_REQUEST, SECRET).checksum).toBe(expected);
  });

  it('paygov-receipt: partnerCode before accessKey; absent values count as ""', () => {
    const message = {
      partnerCode: 'PAYGOV-MAU', accessKey: 'ak-thu-nghiem', payerId: '038095999901', payerName: 'Tran Van Thu', payerAddress: 'So 1 pho Gia Dinh',
      payerProvince: 'Thanh Hoa', docCode: '000.00.14.H56-250304-0007', procedureName: 'Dang ky mau', paids: 'WyJHRC05OTkwMDEiXQ==', otherInfo: 'e30=', decisionDate: '04-03-2025',
    };
    const text = `${SECRET}PAYGOV-MAUak-thu-nghiem038095999901Tran Van ThuSo 1 pho Gia DinhThanh Hoa000.00.14.H56-250304-0007Dang ky mauWyJHRC05OTkwMDEiXQ==e30=04-03-2025`;
    expect(compiled('paygov-receipt').compute(message, SECRET)).toBe(sha256hex(text));
  });

  it('paygov-callback (unconfirmed guess) computes what its formula says', () => {
    const scheme = compiled('paygov-callback');
    expect(scheme.formula).toBe('<secret>orderIdamounttransactionNopayDatepaygateerrorCodetransactionCode');
    const message = { orderId: 'X-01', amount: 50000, transactionNo: 'T1', payDate: '20250304091733', paygate: 'PG', errorCode: '00', transactionCode: 'TC1' };
    expect(scheme.compute(message, SECRET)).toBe(sha256hex(`${SECRET}X-0150000T120250304091733PG00TC1`));
  });

  it('every preset is a valid config, frozen, and says how sure its facts are', () => {
    for (const [name, preset] of Object.entries(CHECKSUM_PRESETS)) {
      expect(checkChecksumConfig(preset.config), name).toEqual([]);
      expect(Object.isFrozen(preset.config.parts), name).toBe(true);
      expect(['confirmed', 'partial', 'unconfirmed']).toContain(preset.status);
      if (preset.status !== 'confirmed') expect('note' in preset && typeof preset.note === 'string', name).toBe(true);
    }
    expect(CHECKSUM_PRESETS['paygov-callback'].status).toBe('unconfirmed');
    expect(checksumPreset('dvcqg-payment-init')).toBe(CHECKSUM_PRESETS['dvcqg-payment-init']);
    expect(compiled('dvcqg-payment-init').formula).toBe('LoaiBanTin|PhienBan|MaDoiTac|MaThamChieu|SoTien|LoaiHinhThanhToan|MaKenhThanhToan|MaThietBi|NgonNgu|MaTienTe|MaNganHang|ThongTinGiaoDich|ThoiGianGD|Ip|<secret>');
  });

  it('names an unknown preset with a did-you-mean', () => {
    const error = thrown(() => checksumPreset('dvcqg-payment-inti'));
    expect(error.type).toBe('server.config');
    expect(error.message).toContain("did you mean 'dvcqg-payment-init'?");
  });
});

describe('verification', () => {
  const scheme = compiled('dvcqg-payment-init');
  const signed = scheme.sign(INIT, SECRET);

  it('refuses a wrong checksum, a tampered field and a wrong secret as a mismatch, without quoting values or the secret', () => {
    const verdicts = [
      scheme.verify({ ...signed, MaXacThuc: sha256hex('something else') }, SECRET),
      scheme.verify({ ...signed, SoTien: '5000000' }, SECRET),
      scheme.verify(signed, 'another-secret'),
    ];
    for (const verdict of verdicts) {
      expect(verdict).toMatchObject({ ok: false, code: 'mismatch' });
      const text = JSON.stringify(verdict);
      for (const secretOrValue of [SECRET, 'another-secret', '5000000', 'DOITAC-THU', signed.MaXacThuc]) expect(text).not.toContain(secretOrValue);
    }
  });

  it('does not cover what the scheme does not name (ThongTinBienLai is outside MaXacThuc)', () => {
    expect(scheme.verify({ ...signed, ThongTinBienLai: { MaHoSo: 'changed' } }, SECRET)).toEqual({ ok: true });
  });

  it('tells an absent checksum from a malformed one', () => {
    const { MaXacThuc: _, ...unsigned } = signed;
    expect(scheme.verify(unsigned, SECRET)).toMatchObject({ ok: false, code: 'no-checksum' });
    expect(scheme.verify({ ...signed, MaXacThuc: '' }, SECRET)).toMatchObject({ ok: false, code: 'no-checksum' });
    expect(scheme.verify({ ...signed, MaXacThuc: 42 }, SECRET)).toMatchObject({ ok: false, code: 'no-checksum' });
    expect(scheme.verify({ ...signed, MaXacThuc: signed.MaXacThuc.slice(0, 63) }, SECRET)).toMatchObject({ ok: false, code: 'malformed' });
    expect(scheme.verify({ ...signed, MaXacThuc: `${signed.MaXacThuc}00` }, SECRET)).toMatchObject({ ok: false, code: 'malformed' });
    expect(scheme.verify({ ...signed, MaXacThuc: `z${signed.MaXacThuc.slice(1)}` }, SECRET)).toMatchObject({ ok: false, code: 'malformed' });
    expect(scheme.verify('not an object', SECRET)).toMatchObject({ ok: false, code: 'malformed' });
  });

  it('needs the secret: an empty one is a config error, not a mismatch', () => {
    for (const action of [() => scheme.verify(signed, ''), () => scheme.compute(INIT, ''), () => scheme.sign(INIT, undefined as unknown as string)]) {
      const error = thrown(action);
      expect(error.type).toBe('server.config');
      expect(error.detail[0]?.code).toBe('no-secret');
    }
  });
});

describe('case handling', () => {
  const base: ChecksumConfig = { field: 'sig', algorithm: 'sha256', encoding: 'hex', separator: '|', parts: [{ path: 'a' }, { secret: true }] };
  const message = { a: 'gia-tri' };
  const digest = createHash('sha256').update(`gia-tri|${SECRET}`).digest();

  it('hex writes lowercase and accepts either case', () => {
    const scheme = compileChecksum(base);
    expect(scheme.compute(message, SECRET)).toBe(digest.toString('hex'));
    expect(scheme.verify({ ...message, sig: digest.toString('hex').toUpperCase() }, SECRET)).toEqual({ ok: true });
  });

  it('hex-upper writes uppercase and accepts either case', () => {
    const scheme = compileChecksum({ ...base, encoding: 'hex-upper' });
    expect(scheme.compute(message, SECRET)).toBe(digest.toString('hex').toUpperCase());
    expect(scheme.verify({ ...message, sig: digest.toString('hex') }, SECRET)).toEqual({ ok: true });
  });

  it('base64 is exact: changed case or non-canonical text is refused', () => {
    const scheme = compileChecksum({ ...base, encoding: 'base64' });
    const b64 = digest.toString('base64');
    expect(scheme.compute(message, SECRET)).toBe(b64);
    expect(scheme.verify({ ...message, sig: b64 }, SECRET)).toEqual({ ok: true });
    const swapped = [...b64].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    expect(scheme.verify({ ...message, sig: swapped }, SECRET)).toMatchObject({ ok: false });
    expect(scheme.verify({ ...message, sig: b64.replace(/=+$/, '') }, SECRET)).toMatchObject({ ok: false, code: 'malformed' });
    expect(scheme.verify({ ...message, sig: ` ${b64}` }, SECRET)).toMatchObject({ ok: false, code: 'malformed' });
  });

  it('hmac-sha256 keys the digest with the secret instead of covering it', () => {
    const scheme = compileChecksum({ field: 'sig', algorithm: 'hmac-sha256', encoding: 'hex', separator: '|', parts: [{ path: 'a' }, { literal: 'v2' }] });
    expect(scheme.compute(message, SECRET)).toBe(createHmac('sha256', SECRET).update('gia-tri|v2').digest('hex'));
  });
});

describe('fields: paths, values and the missing-field policy', () => {
  const config: ChecksumConfig = { field: 'sig', algorithm: 'sha256', encoding: 'hex', separator: '|', parts: [{ path: 'head.id' }, { path: 'items.0.amount' }, { path: 'note' }, { secret: true }] };

  it('reads dotted paths and list positions; numbers and booleans as JSON writes them', () => {
    const scheme = compileChecksum(config);
    expect(scheme.compute({ head: { id: 'H1' }, items: [{ amount: 12.5 }], note: true }, SECRET)).toBe(sha256hex(`H1|12.5|true|${SECRET}`));
  });

  it('by default counts an absent or null field as "" (what the real peers compute)', () => {
    const scheme = compileChecksum(config);
    const expected = sha256hex(`H1|||${SECRET}`);
    expect(scheme.compute({ head: { id: 'H1' } }, SECRET)).toBe(expected);
    expect(scheme.compute({ head: { id: 'H1' }, items: [], note: null }, SECRET)).toBe(expected);
    expect(scheme.compute({ head: { id: 'H1' }, items: [{ amount: '' }], note: '' }, SECRET)).toBe(expected);
  });

  it("with missing: 'error' refuses to compute and fails verification, naming the field", () => {
    const scheme = compileChecksum({ ...config, missing: 'error' });
    const message = { head: { id: 'H1' }, items: [{ amount: 1 }] };
    const error = thrown(() => scheme.compute(message, SECRET));
    expect(error.type).toBe('client.bad-request');
    expect(error.detail[0]).toMatchObject({ field: 'note', code: 'missing-field' });
    expect(scheme.verify({ ...message, sig: sha256hex('x') }, SECRET)).toMatchObject({ ok: false, code: 'missing-field' });
    // present but empty is still present
    expect(scheme.compute({ ...message, note: '' }, SECRET)).toBe(sha256hex(`H1|1||${SECRET}`));
  });

  it('refuses objects, lists and non-finite numbers as field values', () => {
    const scheme = compileChecksum(config);
    for (const note of [{ nested: 'x' }, ['x'], Number.POSITIVE_INFINITY]) {
      const message = { head: { id: 'H1' }, items: [{ amount: 1 }], note };
      expect(thrown(() => scheme.compute(message, SECRET)).detail[0]).toMatchObject({ field: 'note', code: 'bad-field' });
      expect(scheme.verify({ ...message, sig: sha256hex('x') }, SECRET)).toMatchObject({ ok: false, code: 'bad-field' });
    }
    expect(thrown(() => scheme.compute([1, 2], SECRET)).detail[0]?.code).toBe('not-an-object');
  });

  it('reads only the message\'s own fields, never inherited ones', () => {
    const scheme = compileChecksum({ field: 'sig', algorithm: 'sha256', encoding: 'hex', parts: [{ path: 'constructor.name' }, { path: 'toString' }, { secret: true }] });
    expect(scheme.compute({}, SECRET)).toBe(sha256hex(SECRET));
  });

  it('puts literals where the config says', () => {
    const scheme = compileChecksum({ field: 'sig', algorithm: 'sha256', encoding: 'hex', separator: ';', parts: [{ literal: 'v1' }, { path: 'a' }, { secret: true }] });
    expect(scheme.compute({ a: 'b' }, SECRET)).toBe(sha256hex(`v1;b;${SECRET}`));
    expect(scheme.formula).toBe('"v1";a;<secret>');
  });
});

describe('config problems', () => {
  const good: ChecksumConfig = { field: 'MaXacThuc', algorithm: 'sha256', encoding: 'hex', separator: '|', parts: [{ path: 'LoaiBanTin' }, { secret: true }] };

  it.each<[string, unknown, RegExp]>([
    ['not an object', 'MaXacThuc', /must be an object/],
    ['a misspelt key', { ...good, encodng: 'hex' }, /unknown key 'encodng': did you mean 'encoding'\?/],
    ['no field', { ...good, field: '' }, /^field: give the message field/],
    ['a nested field', { ...good, field: 'a.b' }, /top-level field name/],
    ['an unknown algorithm', { ...good, algorithm: 'md5' }, /algorithm: must be one of sha256, hmac-sha256/],
    ['an unknown encoding', { ...good, encoding: 'HEX' }, /encoding: must be one of hex, hex-upper, base64/],
    ['a non-string separator', { ...good, separator: 1 }, /separator: must be a string/],
    ['an unknown missing policy', { ...good, missing: 'skip' }, /missing: must be one of empty, error/],
    ['no parts', { ...good, parts: [] }, /parts: must be a non-empty list/],
    ['a part of two kinds', { ...good, parts: [{ path: 'a', literal: 'b' }, { secret: true }] }, /parts\[0\]: must have exactly one of path, literal or secret/],
    ['a part that is not an object', { ...good, parts: ['LoaiBanTin', { secret: true }] }, /parts\[0\]: must be \{ path/],
    ['a bad path', { ...good, parts: [{ path: 'a..b' }, { secret: true }] }, /parts\[0\]\.path: must be a field name or a dotted path/],
    ['a part covering the checksum itself', { ...good, parts: [{ path: 'MaXacThuc' }, { secret: true }] }, /cannot cover its own field MaXacThuc/],
    ['a non-string literal', { ...good, parts: [{ path: 'a' }, { literal: 5 }, { secret: true }] }, /parts\[1\]\.literal: must be a string/],
    ['a secret written in config', { ...good, parts: [{ path: 'a' }, { secret: 'hunter2' }] }, /parts\[1\]\.secret: must be true/],
    ['sha256 without the secret', { ...good, parts: [{ path: 'a' }] }, /needs one \{ secret: true \} part/],
    ['two secrets', { ...good, parts: [{ secret: true }, { path: 'a' }, { secret: true }] }, /has 2 \{ secret: true \} parts/],
    ['hmac with a secret part', { ...good, algorithm: 'hmac-sha256' }, /takes the secret as its key/],
    ['no message field at all', { ...good, parts: [{ literal: 'x' }, { secret: true }] }, /name at least one message field/],
  ])('finds %s', (_, config, problem) => {
    const problems = checkChecksumConfig(config);
    expect(problems.some((p) => problem.test(p)), problems.join('\n')).toBe(true);
  });

  it('accepts a good config, and compileChecksum refuses a bad one with server.config listing every problem', () => {
    expect(checkChecksumConfig(good)).toEqual([]);
    const error = thrown(() => compileChecksum({ ...good, algorithm: 'md5', encoding: 'hex-lower' } as unknown as ChecksumConfig));
    expect(error.type).toBe('server.config');
    expect(error.detail).toHaveLength(2);
  });

  it('compiles a copy: changing the config afterwards changes nothing', () => {
    const config: ChecksumConfig = { ...good, parts: [{ path: 'LoaiBanTin' }, { secret: true }] };
    const scheme = compileChecksum(config);
    (config.parts[0] as { path: string }).path = 'Other';
    expect(scheme.compute({ LoaiBanTin: 'INIT' }, SECRET)).toBe(sha256hex(`INIT|${SECRET}`));
  });

  it('the connector schema\'s checksum setting (strict Ajv) takes every preset by name or written out, with a secret, and refuses bad shapes', () => {
    const validate = createAjv({ allErrors: true }).compile(checksumSettingSchema());
    const secret = '${PAYMENT_SECRET}';
    for (const [name, preset] of Object.entries(CHECKSUM_PRESETS)) {
      expect(validate({ preset: name, secret }), JSON.stringify(validate.errors)).toBe(true);
      expect(validate({ ...preset.config, secret }), JSON.stringify(validate.errors)).toBe(true);
    }
    expect(validate({ ...good, secret })).toBe(true);
    expect(validate(good)).toBe(false); // no secret
    expect(validate({ preset: 'no-such-preset', secret })).toBe(false);
    expect(validate({ ...good, secret, algoritm: 'sha256' })).toBe(false);
    expect(validate({ ...good, secret, parts: [{ secret: false }] })).toBe(false);
    expect(validate({ ...good, secret, parts: [] })).toBe(false);
    expect(validate({ ...good, secret, field: 'a.b' })).toBe(false);
  });
});
