import { people, type CongDan } from './people.js';
import { congDanXml } from './congdan-xml.js';
import { SoapFault } from './soap.js';

/** Name comparison ignores case, diacritics (đ = d) and spacing, as officers type names every which way. */
export function normaliseName(name: string): string {
  return name
    .normalize('NFD')
    .replace(/\p{M}/gu, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

const fullName = (p: CongDan) => [p.HoVaTen.Ho, p.HoVaTen.ChuDem, p.HoVaTen.Ten].filter(Boolean).join(' ');

/** A requested birth date as yyyyMMdd or yyyy; accepts yyyyMMdd, dd/MM/yyyy, yyyy-MM-dd, yyyy. */
export function parseBirthDate(value: string): string {
  const v = value.trim();
  let m: RegExpExecArray | null;
  if (/^\d{8}$/.test(v) || /^\d{4}$/.test(v)) return v;
  if ((m = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(v))) return `${m[3]}${m[2]}${m[1]}`;
  if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v))) return `${m[1]}${m[2]}${m[3]}`;
  throw new SoapFault('Client', 'NgayThangNamSinh không hợp lệ (yyyyMMdd hoặc dd/MM/yyyy) / invalid birth date format');
}

interface Resident {
  person: CongDan;
  name: string;
  xml: string;
}

const residents = new Map<string, Resident>(
  people.map((p) => [p.SoDinhDanh, { person: p, name: normaliseName(fullName(p)), xml: congDanXml(p) }]),
);

export interface LookupQuery {
  SoDinhDanh?: string;
  HoVaTen?: string;
  NgayThangNamSinh?: string;
}

/**
 * The `CongDan` XML of the person matching the query, or undefined. SoDinhDanh must match; a given name and
 * birth date must match too. A year-only birth date on record is compared by year.
 */
export function lookup(q: LookupQuery): string | undefined {
  const id = q.SoDinhDanh?.trim() ?? '';
  if (id === '') throw new SoapFault('Client', 'Thiếu SoDinhDanh / SoDinhDanh is required');
  if (!/^\d{12}$/.test(id)) throw new SoapFault('Client', 'SoDinhDanh phải gồm 12 chữ số / SoDinhDanh must be 12 digits');
  const wantDate = q.NgayThangNamSinh?.trim() ? parseBirthDate(q.NgayThangNamSinh) : undefined;
  const r = residents.get(id);
  if (!r) return undefined;
  if (q.HoVaTen?.trim() && normaliseName(q.HoVaTen) !== r.name) return undefined;
  if (wantDate) {
    const onRecord = r.person.NgayThangNamSinh.NgayThangNam ?? r.person.NgayThangNamSinh.Nam;
    const precision = Math.min(onRecord.length, wantDate.length);
    if (onRecord.slice(0, precision) !== wantDate.slice(0, precision)) return undefined;
  }
  return r.xml;
}
