import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * The golden mapping tests use fictitious people whose CCCD follows the real structure (VN-SYSTEMS §2, CCCD):
 * digit 4 gives gender and century (0/1 male/female 1900s, 2/3 2000s, 4/5 2100s, 6/7 2200s, 8/9 1800s) and digits
 * 5–6 the year of birth. A fixture whose number contradicts its own gender or birth year teaches the wrong shape,
 * so every person in a golden input (canonical personalId + gender + birthDate.year, or a CSDLQG CongDan with
 * SoDinhDanh + GioiTinh + NgayThangNamSinh.Nam) is checked here.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const CENTURY: Record<string, number> = { '0': 1900, '1': 1900, '2': 2000, '3': 2000, '4': 2100, '5': 2100, '6': 2200, '7': 2200, '8': 1800, '9': 1800 };

/** The gender ('M'/'F') and birth year a 12-digit CCCD encodes. */
function cccdFacts(id: string): { gender: 'M' | 'F'; year: number } {
  const d = id[3]!;
  return { gender: Number(d) % 2 === 0 ? 'M' : 'F', year: CENTURY[d]! + Number(id.slice(4, 6)) };
}

type Person = { where: string; id: string; gender: 'M' | 'F'; year: number };

function* people(value: unknown, where: string): Generator<Person> {
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) yield* people(v, `${where}[${i}]`);
    return;
  }
  if (!value || typeof value !== 'object') return;
  const o = value as Record<string, any>;
  // Canonical CitizenRecord / lookup shapes.
  if (typeof o.personalId === 'string' && /^\d{12}$/.test(o.personalId) && (o.gender === 'M' || o.gender === 'F') && o.birthDate?.year) {
    yield { where, id: o.personalId, gender: o.gender, year: Number(o.birthDate.year) };
  }
  // CSDLQG CongDan (GioiTinh 1 nam, 2 nữ).
  if (typeof o.SoDinhDanh === 'string' && /^\d{12}$/.test(o.SoDinhDanh) && (o.GioiTinh === '1' || o.GioiTinh === '2') && o.NgayThangNamSinh?.Nam) {
    yield { where, id: o.SoDinhDanh, gender: o.GioiTinh === '1' ? 'M' : 'F', year: Number(o.NgayThangNamSinh.Nam) };
  }
  for (const [k, v] of Object.entries(o)) yield* people(v, `${where}.${k}`);
}

function* goldenFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* goldenFiles(path);
    else if (entry.name.endsWith('.test.yaml')) yield path;
  }
}

describe('CCCD fixtures in golden mapping tests', () => {
  it('reads gender and century from digit 4 and the year from digits 5–6', () => {
    expect(cccdFacts('038095999901')).toEqual({ gender: 'M', year: 1995 });
    expect(cccdFacts('038195999914')).toEqual({ gender: 'F', year: 1995 });
    expect(cccdFacts('038323999904')).toEqual({ gender: 'F', year: 2023 });
    expect(cccdFacts('079201999910')).toEqual({ gender: 'M', year: 2001 });
  });

  it('every person in a golden input has a CCCD that agrees with their gender and birth year', () => {
    const wrong: string[] = [];
    let seen = 0;
    for (const path of goldenFiles(join(root, 'mappings'))) {
      const file = relative(root, path).split('\\').join('/');
      const doc = parseYaml(readFileSync(path, 'utf8')) as { cases?: Array<{ name: string; input?: unknown; inputSchema?: boolean }> };
      for (const c of doc.cases ?? []) {
        if (c.inputSchema === false) continue; // deliberately broken inputs
        for (const p of people(c.input, 'input')) {
          seen++;
          const facts = cccdFacts(p.id);
          if (facts.gender !== p.gender || facts.year !== p.year) {
            wrong.push(`${file} › ${c.name} › ${p.where}: ${p.id} says ${facts.gender} ${facts.year}, the fixture says ${p.gender} ${p.year}`);
          }
        }
      }
    }
    expect(seen).toBeGreaterThan(5);
    expect(wrong).toEqual([]);
  });
});
