import { isPlainObject } from '../harness.js';

/**
 * Checks of the EMC `TrackingMCDT` body (VN-SYSTEMS §2; TH `EMCRequestBody.cs`). Code fields may arrive as
 * numbers or numeric strings (TH sends strings); they are recorded as given. SiteId is a JSON number only: TH declares
 * it `int? SiteId`, so it serialises as a number, never as text.
 */

export type EmcTracking = {
  CodeProfile: string;
  SiteId: number;
  CodeTTHC: string;
  NameTTHC: string;
  MaHoSo: string;
  Status: string | number;
  FormsReception: string | number;
  FormsPayments: string | number;
  Level: string | number;
  IsFromDVCQG: string | number;
  IsDVCBC: string | number;
  Data?: string | null;
  User?: string | null;
};

/**
 * EMC code lists (VN-SYSTEMS §2 "EMC"; TH `EMCRequestBody.cs` enums). Status: 0 Khác, 1 TiếpNhận, 2 ĐangXửLý,
 * 3 TrảKếtQuả; 4 PhânCôngXửLý is declared in TH's StatusEnum though TH never sends it (VN-SYSTEMS' status mapping
 * only yields 0..3), so it is kept as a code EMC defines rather than refused on a guess.
 * FormsReception: 1 online, 2 direct. FormsPayments: 0 none, 1 online, 2 direct. Level: 0/1 direct partial/full,
 * 3/4 online partial/full. IsFromDVCQG: 0/1. IsDVCBC: 0 counter, 1 VNPost, 2 other.
 */
export const EMC_CODES = {
  Status: [0, 1, 2, 3, 4],
  FormsReception: [1, 2],
  FormsPayments: [0, 1, 2],
  Level: [0, 1, 3, 4],
  IsFromDVCQG: [0, 1],
  IsDVCBC: [0, 1, 2],
} as const;

const TEXT_FIELDS = ['CodeProfile', 'CodeTTHC', 'NameTTHC', 'MaHoSo'] as const;
const USER_KEYS = ['ID_local', 'ID_QG', 'TYPE', 'LOCATION'];
const MAX_TEXT = 500;

export type EmcInvalid = { field: string; reason: string };

/**
 * A code given as a non-negative integer or as its canonical decimal string ("1"; not "01", "+1", " 1" or "1.0"):
 * TH writes each code as `((int)Enum).ToString()`, and a padded or signed form is no code of the lists.
 */
function codeOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string' && /^(?:0|[1-9]\d{0,8})$/.test(value)) return Number(value);
  return undefined;
}

export function checkTracking(body: unknown): { ok: true; value: EmcTracking } | { ok: false; error: EmcInvalid } {
  const bad = (field: string, reason: string) => ({ ok: false as const, error: { field, reason } });
  if (!isPlainObject(body)) return bad('(body)', 'đối tượng JSON / JSON object');
  for (const key of TEXT_FIELDS) {
    const v = body[key];
    if (typeof v !== 'string' || !v.trim()) return bad(key, 'bắt buộc, kiểu chuỗi / required string');
    if (v.length > MAX_TEXT) return bad(key, `tối đa ${MAX_TEXT} ký tự / at most ${MAX_TEXT} characters`);
  }
  const site = body.SiteId;
  if (typeof site !== 'number' || !Number.isInteger(site) || site <= 0 || site > 2_147_483_647) {
    return bad('SiteId', 'số nguyên dương kiểu số JSON (int), không phải chuỗi / positive integer as a JSON number (int), not a string');
  }
  for (const [key, allowed] of Object.entries(EMC_CODES)) {
    const code = codeOf(body[key]);
    if (code === undefined || !(allowed as readonly number[]).includes(code)) return bad(key, `một trong ${allowed.join('|')} / one of ${allowed.join('|')}`);
  }
  if (body.Data !== undefined && body.Data !== null && typeof body.Data !== 'string') return bad('Data', 'chuỗi / string');
  if (body.User !== undefined && body.User !== null) {
    if (typeof body.User !== 'string') return bad('User', 'chuỗi JSON {ID_local,ID_QG,TYPE,LOCATION} / JSON string');
    let user: unknown;
    try {
      user = JSON.parse(body.User);
    } catch {
      return bad('User', 'chuỗi JSON {ID_local,ID_QG,TYPE,LOCATION} / JSON string');
    }
    if (!isPlainObject(user) || !USER_KEYS.every((k) => k in user)) {
      return bad('User', `cần các khóa ${USER_KEYS.join(',')} / needs keys ${USER_KEYS.join(',')}`);
    }
  }
  return { ok: true, value: body as EmcTracking };
}
