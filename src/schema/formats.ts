/**
 * Custom string formats for Vietnamese e-government data. Each validator is a pure function
 * (usable directly, e.g. by mappings) and carries a human message for error reports. The
 * messages describe the expected shape only; they never echo the value.
 *
 * Sources: VN-SYSTEMS.md §2 (dossier, agency and procedure codes; native date formats),
 * Circular 07/2016/TT-BCA (CCCD province and century/gender codes).
 */

export interface HubFormat {
  /** Format name used in schemas: `"format": "cccd"`. */
  name: string;
  validate: (value: string) => boolean;
  /** Vietnamese / English description of what is expected. */
  message: string;
}

// ---------------------------------------------------------------------------------------------
// calendar helpers
// ---------------------------------------------------------------------------------------------

/** True when y-m-d is a real Gregorian calendar date (month 1–12, day within the month). */
export function isRealDate(year: number, month: number, day: number): boolean {
  if (!Number.isInteger(year) || !Number.isInteger(month) || !Number.isInteger(day)) return false;
  if (month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

function isTime(h: number, m: number, s = 0): boolean {
  return h >= 0 && h <= 23 && m >= 0 && m <= 59 && s >= 0 && s <= 59;
}

// ---------------------------------------------------------------------------------------------
// personal identifiers
// ---------------------------------------------------------------------------------------------

/**
 * Province/city codes of the place of birth registration, Circular 07/2016/TT-BCA (63 codes,
 * before the 2025 merger; CCCDs already issued keep them).
 */
export const CCCD_PROVINCE_CODES: ReadonlyMap<string, string> = new Map([
  ['001', 'Hà Nội'],
  ['002', 'Hà Giang'],
  ['004', 'Cao Bằng'],
  ['006', 'Bắc Kạn'],
  ['008', 'Tuyên Quang'],
  ['010', 'Lào Cai'],
  ['011', 'Điện Biên'],
  ['012', 'Lai Châu'],
  ['014', 'Sơn La'],
  ['015', 'Yên Bái'],
  ['017', 'Hòa Bình'],
  ['019', 'Thái Nguyên'],
  ['020', 'Lạng Sơn'],
  ['022', 'Quảng Ninh'],
  ['024', 'Bắc Giang'],
  ['025', 'Phú Thọ'],
  ['026', 'Vĩnh Phúc'],
  ['027', 'Bắc Ninh'],
  ['030', 'Hải Dương'],
  ['031', 'Hải Phòng'],
  ['033', 'Hưng Yên'],
  ['034', 'Thái Bình'],
  ['035', 'Hà Nam'],
  ['036', 'Nam Định'],
  ['037', 'Ninh Bình'],
  ['038', 'Thanh Hóa'],
  ['040', 'Nghệ An'],
  ['042', 'Hà Tĩnh'],
  ['044', 'Quảng Bình'],
  ['045', 'Quảng Trị'],
  ['046', 'Thừa Thiên Huế'],
  ['048', 'Đà Nẵng'],
  ['049', 'Quảng Nam'],
  ['051', 'Quảng Ngãi'],
  ['052', 'Bình Định'],
  ['054', 'Phú Yên'],
  ['056', 'Khánh Hòa'],
  ['058', 'Ninh Thuận'],
  ['060', 'Bình Thuận'],
  ['062', 'Kon Tum'],
  ['064', 'Gia Lai'],
  ['066', 'Đắk Lắk'],
  ['067', 'Đắk Nông'],
  ['068', 'Lâm Đồng'],
  ['070', 'Bình Phước'],
  ['072', 'Tây Ninh'],
  ['074', 'Bình Dương'],
  ['075', 'Đồng Nai'],
  ['077', 'Bà Rịa - Vũng Tàu'],
  ['079', 'TP Hồ Chí Minh'],
  ['080', 'Long An'],
  ['082', 'Tiền Giang'],
  ['083', 'Bến Tre'],
  ['084', 'Trà Vinh'],
  ['086', 'Vĩnh Long'],
  ['087', 'Đồng Tháp'],
  ['089', 'An Giang'],
  ['091', 'Kiên Giang'],
  ['092', 'Cần Thơ'],
  ['093', 'Hậu Giang'],
  ['094', 'Sóc Trăng'],
  ['095', 'Bạc Liêu'],
  ['096', 'Cà Mau'],
]);

/**
 * Century of the 4th CCCD digit (even = male, odd = female): 0/1 1900s, 2/3 2000s, 4/5 2100s,
 * 6/7 2200s, 8/9 1800s (as the project brief and dangminhtai/cccd-api read it; the circular's
 * text may instead assign 8/9 to the 2300s: either way such numbers are not issued today).
 */
const CENTURY_BY_DIGIT = [1900, 1900, 2000, 2000, 2100, 2100, 2200, 2200, 1800, 1800] as const;

export interface CccdInfo {
  provinceCode: string;
  gender: 'M' | 'F';
  birthYear: number;
}

const TWELVE_DIGITS = /^\d{12}$/;

/** Decodes a CCCD (12-digit personal identification number); undefined when it is not a valid one. */
export function parseCccd(value: string, now: Date = new Date()): CccdInfo | undefined {
  if (typeof value !== 'string' || !TWELVE_DIGITS.test(value)) return undefined;
  const provinceCode = value.slice(0, 3);
  if (!CCCD_PROVINCE_CODES.has(provinceCode)) return undefined;
  const digit = value.charCodeAt(3) - 0x30;
  const century = CENTURY_BY_DIGIT[digit];
  if (century === undefined) return undefined;
  const birthYear = century + Number(value.slice(4, 6));
  if (birthYear > now.getFullYear()) return undefined;
  return { provinceCode, gender: digit % 2 === 0 ? 'M' : 'F', birthYear };
}

export function isCccd(value: string): boolean {
  return parseCccd(value) !== undefined;
}

/** Legacy 9-digit identity card number (CMND). */
export function isCmnd(value: string): boolean {
  return /^\d{9}$/.test(value);
}

export function isPersonalId(value: string): boolean {
  return isCccd(value) || isCmnd(value);
}

// ---------------------------------------------------------------------------------------------
// agency, dossier and procedure codes
// ---------------------------------------------------------------------------------------------

const AGENCY_CODE = /^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$/;
/** Electronic agency identifier, Decision 20/2020/QĐ-TTg: `000.00.00.H56`. */
export function isAgencyCode(value: string): boolean {
  return AGENCY_CODE.test(value);
}

const DOSSIER_CODE = /^(?:\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}|[A-Z]\d{2}(?:\.\d{2}){0,3})-(\d{6}|\d{8})-\d{4,7}$/;
/**
 * Dossier code (mã hồ sơ) `{agency}-{date}-{seq}`: agency in the strict form (`000.00.14.H56`)
 * or a short form (`H56.14`, `G09.20`); date `yyMMdd` (years 2000–2099) or `yyyyMMdd`, a real
 * calendar date; sequence of 4–7 digits.
 */
export function isDossierCode(value: string): boolean {
  const m = DOSSIER_CODE.exec(value);
  if (!m) return false;
  const date = m[1] as string;
  const year = date.length === 6 ? 2000 + Number(date.slice(0, 2)) : Number(date.slice(0, 4));
  const rest = date.slice(date.length - 4);
  return isRealDate(year, Number(rest.slice(0, 2)), Number(rest.slice(2, 4)));
}

const PROCEDURE_CODE = /^[1-3]\.\d{6}(?:\.\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2})?$/;
/** National procedure code `1.001234`, optionally with a local agency suffix `.000.00.00.H56`. */
export function isProcedureCode(value: string): boolean {
  return PROCEDURE_CODE.test(value);
}

const VN_PHONE = /^(?:0|\+84|84)(?:[35789]\d{8}|2\d{9})$/;
/** Mobile `0[35789]xxxxxxxx` or landline `02xxxxxxxxx`, also written `+84…`/`84…`; digits only. */
export function isVnPhone(value: string): boolean {
  return VN_PHONE.test(value);
}

// ---------------------------------------------------------------------------------------------
// native date formats
// ---------------------------------------------------------------------------------------------

const DMY = /^(\d{2})\/(\d{2})\/(\d{4})$/;
export function isDateDmy(value: string): boolean {
  const m = DMY.exec(value);
  return !!m && isRealDate(Number(m[3]), Number(m[2]), Number(m[1]));
}

const DMY_HM = /^(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2})$/;
export function isDateTimeDmyHm(value: string): boolean {
  const m = DMY_HM.exec(value);
  return !!m && isRealDate(Number(m[3]), Number(m[2]), Number(m[1])) && isTime(Number(m[4]), Number(m[5]));
}

const COMPACT_DT = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/;
export function isDateTimeCompact(value: string): boolean {
  const m = COMPACT_DT.exec(value);
  return (
    !!m && isRealDate(Number(m[1]), Number(m[2]), Number(m[3])) && isTime(Number(m[4]), Number(m[5]), Number(m[6]))
  );
}

const COMPACT_D = /^(\d{4})(\d{2})(\d{2})$/;
export function isDateCompact(value: string): boolean {
  const m = COMPACT_D.exec(value);
  return !!m && isRealDate(Number(m[1]), Number(m[2]), Number(m[3]));
}

// ---------------------------------------------------------------------------------------------
// the registry
// ---------------------------------------------------------------------------------------------

export const HUB_FORMATS: readonly HubFormat[] = Object.freeze([
  {
    name: 'cccd',
    validate: isCccd,
    message:
      'phải là số CCCD 12 chữ số với mã tỉnh, mã thế kỷ/giới tính và năm sinh hợp lệ / must be a 12-digit CCCD number with a valid province code, century/gender digit and a birth year not in the future',
  },
  { name: 'cmnd', validate: isCmnd, message: 'phải là số CMND 9 chữ số / must be a 9-digit CMND number' },
  {
    name: 'personalId',
    validate: isPersonalId,
    message: 'phải là số CCCD 12 chữ số hoặc CMND 9 chữ số hợp lệ / must be a valid 12-digit CCCD or 9-digit CMND number',
  },
  {
    name: 'agencyCode',
    validate: isAgencyCode,
    message: 'phải là mã định danh cơ quan dạng 000.00.00.H56 / must be an agency code like 000.00.00.H56',
  },
  {
    name: 'dossierCode',
    validate: isDossierCode,
    message:
      'phải là mã hồ sơ dạng {mã cơ quan}-{yyMMdd}-{số thứ tự}, ví dụ 000.00.14.H56-250304-0007 / must be a dossier code {agency}-{yyMMdd or yyyyMMdd, a real date}-{4–7 digit sequence}',
  },
  {
    name: 'procedureCode',
    validate: isProcedureCode,
    message: 'phải là mã thủ tục dạng 1.001234 (có thể kèm .000.00.00.H56) / must be a procedure code like 1.001234, optionally with a .000.00.00.H56 suffix',
  },
  {
    name: 'vnPhone',
    validate: isVnPhone,
    message:
      'phải là số điện thoại Việt Nam chỉ gồm chữ số (0xxxxxxxxx, +84…, cố định 02xxxxxxxxx) / must be a Vietnamese phone number, digits only (0xxxxxxxxx, +84…, landline 02xxxxxxxxx)',
  },
  { name: 'date-dmy', validate: isDateDmy, message: 'phải là ngày dạng dd/MM/yyyy có thật / must be a real date written dd/MM/yyyy' },
  {
    name: 'datetime-dmy-hm',
    validate: isDateTimeDmyHm,
    message: 'phải là thời điểm dạng dd/MM/yyyy HH:mm (24 giờ) / must be a real date and 24-hour time written dd/MM/yyyy HH:mm',
  },
  {
    name: 'datetime-compact',
    validate: isDateTimeCompact,
    message: 'phải là thời điểm dạng yyyyMMddHHmmss (24 giờ) / must be a real date and 24-hour time written yyyyMMddHHmmss',
  },
  { name: 'date-compact', validate: isDateCompact, message: 'phải là ngày dạng yyyyMMdd có thật / must be a real date written yyyyMMdd' },
]);

/** Messages for the ISO formats taken from ajv-formats. */
export const ISO_FORMAT_MESSAGES: Readonly<Record<string, string>> = Object.freeze({
  date: 'phải là ngày ISO 8601 dạng yyyy-MM-dd / must be an ISO 8601 date (yyyy-MM-dd)',
  'date-time': 'phải là thời điểm ISO 8601 có múi giờ, ví dụ 2025-03-04T09:15:00+07:00 / must be an ISO 8601 date-time with an offset, e.g. 2025-03-04T09:15:00+07:00',
  email: 'phải là địa chỉ email hợp lệ / must be a valid email address',
  uri: 'phải là URI tuyệt đối hợp lệ / must be a valid absolute URI',
  uuid: 'phải là UUID / must be a UUID',
});

/** The ajv-formats formats the hub enables. */
export const ISO_FORMATS = Object.freeze(Object.keys(ISO_FORMAT_MESSAGES)) as readonly string[];

const MESSAGES = new Map<string, string>([
  ...HUB_FORMATS.map((f) => [f.name, f.message] as [string, string]),
  ...Object.entries(ISO_FORMAT_MESSAGES),
]);

/** Human message for a format, or undefined when the hub does not know it. */
export function formatMessage(name: string): string | undefined {
  return MESSAGES.get(name);
}
