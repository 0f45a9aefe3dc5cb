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

/**
 * HoSo code lists (VN-SYSTEMS §2 "Other code lists"). The portal's field mandatory flags are not public (OCPS marks
 * many fields "ko bb"), so these are checked when present: an absent field passes, any other value is refused.
 */
/** KenhThucHien: 1 trực tiếp, 2 trực tuyến, 3 bưu chính công ích. */
export const KENH_THUC_HIEN = ['1', '2', '3'] as const;
/** LoaiDoiTuong: 1 công dân, 2 doanh nghiệp, 3 cơ quan nhà nước, 4 tổ chức/khác. */
export const LOAI_DOI_TUONG = ['1', '2', '3', '4'] as const;
/** DinhDanhCHS[].LoaiDinhDanh: 1 số định danh 12 số, 2 CMND 9 số. */
export const LOAI_DINH_DANH = ['1', '2'] as const;
/** DanhSachLePhi[].LoaiPhiLePhi: 1 phí, 2 lệ phí. */
export const LOAI_PHI_LE_PHI = ['1', '2'] as const;
/**
 * MaTTHC as the portal knows it: the national code `d.dddddd` (1.001234). A province's local code carries its
 * agency suffix (1.001234.000.00.00.H56) and is mapped to the national one before it reaches DVCQG
 * (VN-SYSTEMS §2 "Procedure code": ketnoi.json, OCPS serviceCodeDVCQG), so the suffixed form is refused here.
 */
export const MA_TTHC = /^\d\.\d{6}$/;

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

/** A code from `allowed`, as a string; absent passes when optional. */
function requireCode(item: Record<string, unknown>, key: string, at: string, allowed: readonly string[], optional = false): Invalid | undefined {
  const v = item[key];
  if (optional && v === undefined) return undefined;
  if (typeof v !== 'string' || !allowed.includes(v)) {
    return { field: `${at}.${key}`, reason: `một trong ${allowed.map((c) => `"${c}"`).join('|')} / one of ${allowed.map((c) => `"${c}"`).join('|')}` };
  }
  return undefined;
}

function requireProcedureCode(item: Record<string, unknown>, key: string, at: string): Invalid | undefined {
  const e = requireId(item, key, at);
  if (e) return e;
  if (!MA_TTHC.test(item[key] as string)) {
    return { field: `${at}.${key}`, reason: 'mã TTHC quốc gia dạng d.dddddd, ví dụ 1.001234 / national procedure code d.dddddd, e.g. 1.001234' };
  }
  return undefined;
}

/** The code `key` of every object in the optional list `item[listKey]` (non-objects are left to firstNonString). */
function requireCodesIn(item: Record<string, unknown>, listKey: string, key: string, at: string, allowed: readonly string[]): Invalid | undefined {
  const items = item[listKey];
  if (!Array.isArray(items)) return undefined;
  for (const [i, entry] of items.entries()) {
    if (!isPlainObject(entry)) continue;
    const e = requireCode(entry, key, `${at}.${listKey}[${i}]`, allowed, true);
    if (e) return e;
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

/**
 * TraCuuHoSo as OpenCPS sends it (DVCQGIntegrationActionImpl.searchDossier): the dossier code in a top-level,
 * lower-case `mahoso`, beside `session`, `madonvi` and `service`, with no `data`. The same shape appears in public
 * clients of the DVCQG adapter (`{session, service:"TraCuuHoSo", mahoso}`). The hub itself never sends TraCuuHoSo:
 * it sends DongBoHoSoMC and resends as an update on "đã tồn tại".
 */
export function checkTraCuu(body: Record<string, unknown>): Checked<string> {
  const e = requireId(body, 'mahoso', '$');
  if (e) return bad('mahoso', e.reason);
  return { ok: true, value: body.mahoso as string };
}

export function checkHoSoList(data: unknown): Checked<HoSo[]> {
  const items = list(data);
  if (!items.ok) return items;
  for (const [i, item] of items.value.entries()) {
    const at = `data[${i}]`;
    const e =
      requireId(item, 'MaHoSo', at) ??
      requireProcedureCode(item, 'MaTTHC', at) ??
      requireStatus(item, 'TrangThaiHoSo', at) ??
      requireTimestamp(item, 'NgayTiepNhan', at) ??
      HOSO_OPTIONAL_DATES.map((k) => requireTimestamp(item, k, at, true)).find(Boolean) ??
      requireCode(item, 'KenhThucHien', at, KENH_THUC_HIEN, true) ??
      requireCode(item, 'LoaiDoiTuong', at, LOAI_DOI_TUONG, true);
    if (e) return { ok: false, error: e };
    const nonString = firstNonString(item, at);
    if (nonString) return bad(nonString, 'giá trị phải là chuỗi / value must be a string');
    const listed =
      requireCodesIn(item, 'DinhDanhCHS', 'LoaiDinhDanh', at, LOAI_DINH_DANH) ??
      requireCodesIn(item, 'DanhSachLePhi', 'LoaiPhiLePhi', at, LOAI_PHI_LE_PHI);
    if (listed) return { ok: false, error: listed };
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
      // The progress TrangThai takes the dossier status list 1..10, as OCPS fills it (getMappingStatus).
      requireStatus(item, 'TrangThai', at) ??
      requireTimestamp(item, 'ThoiDiemXuLy', at) ??
      requireTimestamp(item, 'NgayBatDau', at, true) ??
      requireTimestamp(item, 'NgayKetThucTheoQuyDinh', at, true);
    if (e) return { ok: false, error: e };
    const nonString = firstNonString(item, at);
    if (nonString) return bad(nonString, 'giá trị phải là chuỗi / value must be a string');
  }
  return { ok: true, value: items.value as ProgressItem[] };
}
