import { isPlainObject } from '../harness.js';

/**
 * Checks of the DVCQG sync payloads (VN-SYSTEMS §2). Each check returns the path of the first bad field
 * with the reason, or the typed data. All HoSo values are strings on the wire; lists hold objects of strings.
 */

export type Invalid = { field: string; reason: string };
export type Checked<T> = { ok: true; value: T } | { ok: false; error: Invalid };

export type Strings = Record<string, string>;
export type HoSo = Record<string, unknown> & { MaHoSo: string; MaTTHC: string; TrangThaiHoSo: string; NgayTiepNhan: string };
export type StatusItem = { MaHoSo: string; TrangThaiHoSo: string; NgayXuLy?: string };
export type ProgressItem = Strings & { MaHoSo: string; ThoiDiemXuLy: string; TrangThai: string };

/** DVCQG TrangThaiHoSo 1 Mới đăng ký … 10 Đã trả kết quả. */
export const TRANG_THAI_HO_SO = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'] as const;

/** Optional HoSo dates that, when present and non-empty, must be yyyyMMddHHmmss too. */
const HOSO_OPTIONAL_DATES = ['NgayHenTra', 'NgayTra', 'NgayKetThucXuLy', 'NgayTuChoi', 'NgayNopHoSo'];
const PROGRESS_FIELDS = [
  'MaHoSo', 'NguoiXuLy', 'ChucDanh', 'ThoiDiemXuLy', 'PhongBanXuLy', 'NoiDungXuLy', 'TrangThai', 'NgayBatDau', 'NgayKetThucTheoQuyDinh',
] as const;
const MAX_ID = 100;

const bad = (field: string, reason: string): { ok: false; error: Invalid } => ({ ok: false, error: { field, reason } });

/** yyyyMMddHHmmss with a real calendar date and a 24-hour clock. */
export function isTimestamp(value: string): boolean {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59) return false;
  return d <= new Date(Date.UTC(y, mo, 0)).getUTCDate();
}

/** First place under `value` whose leaf is not a string (lists of objects and nested objects are walked). */
function firstNonString(value: unknown, path: string): string | undefined {
  if (typeof value === 'string') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      if (!isPlainObject(value[i])) return `${path}[${i}]`;
      const found = firstNonString(value[i], `${path}[${i}]`);
      if (found) return found;
    }
    return undefined;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const found = firstNonString(v, `${path}.${k}`);
      if (found) return found;
    }
    return undefined;
  }
  return path;
}

function requireId(item: Record<string, unknown>, key: string, at: string): Invalid | undefined {
  const v = item[key];
  if (typeof v !== 'string' || !v.trim()) return { field: `${at}.${key}`, reason: 'bắt buộc, kiểu chuỗi / required string' };
  if (v.length > MAX_ID) return { field: `${at}.${key}`, reason: `tối đa ${MAX_ID} ký tự / at most ${MAX_ID} characters` };
  return undefined;
}

function requireTimestamp(item: Record<string, unknown>, key: string, at: string, optional = false): Invalid | undefined {
  const v = item[key];
  if (optional && (v === undefined || v === '')) return undefined;
  if (typeof v !== 'string' || !isTimestamp(v)) return { field: `${at}.${key}`, reason: 'định dạng yyyyMMddHHmmss / format yyyyMMddHHmmss' };
  return undefined;
}

function requireStatus(item: Record<string, unknown>, key: string, at: string): Invalid | undefined {
  const v = item[key];
  if (typeof v !== 'string' || !(TRANG_THAI_HO_SO as readonly string[]).includes(v)) {
    return { field: `${at}.${key}`, reason: 'giá trị "1".."10" / one of "1".."10"' };
  }
  return undefined;
}

function list(data: unknown): Checked<Record<string, unknown>[]> {
  if (!Array.isArray(data) || data.length === 0) return bad('data', 'mảng khác rỗng / non-empty array');
  for (let i = 0; i < data.length; i++) if (!isPlainObject(data[i])) return bad(`data[${i}]`, 'đối tượng / object');
  return { ok: true, value: data as Record<string, unknown>[] };
}

/** True/False as DVCQG writes them; absent means "False" (create). */
export function checkIsUpdating(value: unknown): Checked<boolean> {
  if (value === undefined) return { ok: true, value: false };
  if (value === 'True') return { ok: true, value: true };
  if (value === 'False') return { ok: true, value: false };
  return bad('isUpdating', '"True" hoặc "False" (chuỗi) / "True" or "False" as a string');
}

export function checkTraCuu(data: unknown): Checked<string> {
  if (!isPlainObject(data)) return bad('data', 'đối tượng {MaHoSo} / object {MaHoSo}');
  const e = requireId(data, 'MaHoSo', 'data');
  return e ? { ok: false, error: e } : { ok: true, value: data.MaHoSo as string };
}

export function checkHoSoList(data: unknown): Checked<HoSo[]> {
  const items = list(data);
  if (!items.ok) return items;
  for (const [i, item] of items.value.entries()) {
    const at = `data[${i}]`;
    const e =
      requireId(item, 'MaHoSo', at) ??
      requireId(item, 'MaTTHC', at) ??
      requireStatus(item, 'TrangThaiHoSo', at) ??
      requireTimestamp(item, 'NgayTiepNhan', at) ??
      HOSO_OPTIONAL_DATES.map((k) => requireTimestamp(item, k, at, true)).find(Boolean);
    if (e) return { ok: false, error: e };
    const nonString = firstNonString(item, at);
    if (nonString) return bad(nonString, 'giá trị phải là chuỗi / value must be a string');
  }
  return { ok: true, value: items.value as HoSo[] };
}

export function checkStatusList(data: unknown): Checked<StatusItem[]> {
  const items = list(data);
  if (!items.ok) return items;
  for (const [i, item] of items.value.entries()) {
    const at = `data[${i}]`;
    const e = requireId(item, 'MaHoSo', at) ?? requireStatus(item, 'TrangThaiHoSo', at) ?? requireTimestamp(item, 'NgayXuLy', at, true);
    if (e) return { ok: false, error: e };
    const nonString = firstNonString(item, at);
    if (nonString) return bad(nonString, 'giá trị phải là chuỗi / value must be a string');
  }
  return { ok: true, value: items.value as StatusItem[] };
}

export function checkProgressList(data: unknown): Checked<ProgressItem[]> {
  const items = list(data);
  if (!items.ok) return items;
  for (const [i, item] of items.value.entries()) {
    const at = `data[${i}]`;
    for (const key of PROGRESS_FIELDS) {
      if (typeof item[key] !== 'string') return bad(`${at}.${key}`, 'bắt buộc, kiểu chuỗi / required string');
    }
    const e =
      requireId(item, 'MaHoSo', at) ??
      requireTimestamp(item, 'ThoiDiemXuLy', at) ??
      requireTimestamp(item, 'NgayBatDau', at, true) ??
      requireTimestamp(item, 'NgayKetThucTheoQuyDinh', at, true);
    if (e) return { ok: false, error: e };
    const nonString = firstNonString(item, at);
    if (nonString) return bad(nonString, 'giá trị phải là chuỗi / value must be a string');
  }
  return { ok: true, value: items.value as ProgressItem[] };
}
