import { isPlainObject } from '../harness.js';

/**
 * Checks of the INIT message as the simulated platform applies them (VN-SYSTEMS §2 "Payment platform
 * INIT"): every header field a string, the fixed values Thanh Hóa's code sends, amounts in digits,
 * ThoiGianGD a real yyyyMMddHHmmss time, and the receipt details the platform prints.
 */

export type InitInvalid = { field: string; reason: string };

export interface InitMessage extends Record<string, unknown> {
  LoaiBanTin: 'INIT';
  MaDoiTac: string;
  MaThamChieu: string;
  SoTien: string;
  ThongTinGiaoDich: string;
  ThoiGianGD: string;
  ThongTinBienLai: Record<string, unknown> & { MaHoSo: string };
}

const FIXED: Record<string, readonly string[]> = {
  LoaiBanTin: ['INIT'],
  LoaiHinhThanhToan: ['PAY'],
  NgonNgu: ['vi-VN', 'en-US'],
  MaTienTe: ['VND'],
};
const REQUIRED_TEXT = ['PhienBan', 'MaDoiTac', 'MaThamChieu', 'MaKenhThanhToan', 'MaThietBi', 'ThongTinGiaoDich', 'Ip'] as const;
const RECEIPT_TEXT = ['MaDichVu', 'MaTTHC', 'TenTTHC', 'MaDonVi', 'TenDonVi', 'MaHoSo', 'NoiDungThanhToan'] as const;
const MAX_TEXT = 255;
const AMOUNT = /^\d{1,15}$/;

/** yyyyMMddHHmmss with a real calendar date and a 24-hour clock. */
export function isCompactTime(value: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.trim().length > 0 && value.length <= MAX_TEXT;
}

function checkLines(list: unknown, field: string, keys: readonly string[]): InitInvalid | undefined {
  if (!Array.isArray(list) || list.length === 0) return { field, reason: 'danh sách không rỗng / non-empty list' };
  for (const [i, line] of list.entries()) {
    if (!isPlainObject(line)) return { field: `${field}[${i}]`, reason: 'đối tượng / object' };
    for (const key of keys) {
      if (!isText(line[key])) return { field: `${field}[${i}].${key}`, reason: 'bắt buộc, kiểu chuỗi / required string' };
    }
    if (!AMOUNT.test(String(line.SoTien))) return { field: `${field}[${i}].SoTien`, reason: 'chữ số / digits' };
  }
  return undefined;
}

export function checkInit(body: Record<string, unknown>): { ok: true; value: InitMessage } | { ok: false; error: InitInvalid } {
  const bad = (field: string, reason: string) => ({ ok: false as const, error: { field, reason } });
  for (const [field, allowed] of Object.entries(FIXED)) {
    if (!allowed.includes(body[field] as string)) return bad(field, `một trong ${allowed.join('|')} / one of ${allowed.join('|')}`);
  }
  for (const field of REQUIRED_TEXT) {
    if (!isText(body[field])) return bad(field, 'bắt buộc, kiểu chuỗi / required string');
  }
  if (typeof body.MaNganHang !== 'string') return bad('MaNganHang', 'kiểu chuỗi / string');
  if (typeof body.SoTien !== 'string' || !/^[1-9]\d{0,14}$/.test(body.SoTien)) return bad('SoTien', 'số nguyên dương bằng chữ số / positive amount in digits');
  if (typeof body.ThoiGianGD !== 'string' || !isCompactTime(body.ThoiGianGD)) return bad('ThoiGianGD', 'yyyyMMddHHmmss (24 giờ) / 24-hour yyyyMMddHHmmss');

  const receipt = body.ThongTinBienLai;
  if (!isPlainObject(receipt)) return bad('ThongTinBienLai', 'bắt buộc / required');
  for (const field of RECEIPT_TEXT) {
    if (!isText(receipt[field])) return bad(`ThongTinBienLai.${field}`, 'bắt buộc, kiểu chuỗi / required string');
  }
  const fees = checkLines(receipt.PhiLePhi, 'ThongTinBienLai.PhiLePhi', ['LoaiPhiLePhi', 'MaPhiLePhi', 'TenPhiLePhi', 'SoTien']);
  if (fees) return { ok: false, error: fees };
  const lines = checkLines(receipt.DSKhoanNop, 'ThongTinBienLai.DSKhoanNop', ['NoiDung', 'SoTien']);
  if (lines) return { ok: false, error: lines };
  return { ok: true, value: body as InitMessage };
}
