import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { XMLParser } from 'fast-xml-parser';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { codeLists, people, RESERVED, startPopulationSim, type PopulationSim } from '../../src/sim/index.js';
import { escapeXml } from '../../src/sim/population/soap.js';
import { waitFor } from '../support/wait.js';

const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/';
const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope';
const QLDC = 'http://dancuquocgia.bca';

/** The test reads answers namespace-blind; the simulator's own reader is the strict one. */
const reader = new XMLParser({ removeNSPrefix: true, parseTagValue: false, ignoreAttributes: false, attributeNamePrefix: '@_' });

function lookupEnvelope(fields: Record<string, string>, { version = '1.1', qualified = true, operation = 'TraCuuThongTinCongDan' } = {}) {
  const ns = version === '1.2' ? SOAP12 : SOAP11;
  const q = qualified ? 'qldc:' : '';
  const children = Object.entries(fields)
    .map(([k, v]) => `<${q}${k}>${escapeXml(v)}</${q}${k}>`)
    .join('');
  return (
    `<?xml version="1.0" encoding="utf-8"?><soapenv:Envelope xmlns:soapenv="${ns}" xmlns:qldc="${QLDC}"><soapenv:Header/>` +
    `<soapenv:Body><qldc:${operation}>${children}</qldc:${operation}></soapenv:Body></soapenv:Envelope>`
  );
}

const BASE = { MaYeuCau: 'req-0001', MaDVC: '1.001234.01', MaTichHop: '000.00.00.H56', MaCanBo: 'canbo01' };

let sim: PopulationSim;

async function post(body: string, contentType = 'text/xml; charset=utf-8', signal?: AbortSignal) {
  const res = await fetch(sim.endpoint, { method: 'POST', headers: { 'content-type': contentType, soapaction: '""' }, body, signal });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, xml: reader.parse(text) as Record<string, any> };
}

const congDan = (xml: Record<string, any>) => xml.Envelope.Body.CongdanCollection?.CongDan;
const fault11 = (xml: Record<string, any>) => xml.Envelope.Body.Fault as { faultcode: string; faultstring: { '#text': string } };

beforeAll(async () => {
  sim = await startPopulationSim({ port: 0 });
});

afterAll(async () => {
  await sim.close();
});

afterEach(() => sim.setMode('normal'));

describe('population simulator: TraCuuThongTinCongDan', () => {
  it('answers a known person with every field, Vietnamese diacritics intact', async () => {
    const { status, type, text, xml } = await post(
      lookupEnvelope({ ...BASE, SoDinhDanh: '038095999901', HoVaTen: 'Trần Văn Thử', NgayThangNamSinh: '19950312' }),
    );
    expect(status).toBe(200);
    expect(type).toBe('text/xml; charset=utf-8');
    expect(text).toContain(`xmlns:qldc="${QLDC}"`);
    expect(text).toContain('<qldc:CongdanCollection><qldc:CongDan><qldc:SoDinhDanh>038095999901</qldc:SoDinhDanh>');
    const p = congDan(xml);
    expect(p).toMatchObject({
      SoDinhDanh: '038095999901',
      SoCMND: '173999901',
      HoVaTen: { Ho: 'Trần', ChuDem: 'Văn', Ten: 'Thử' },
      GioiTinh: '1',
      DanToc: '01',
      TinhTrangHonNhan: '2',
      NgayThangNamSinh: { Nam: '1995', NgayThangNam: '19950312' },
      QueQuan: { MaTinhThanh: '38', ChiTiet: 'Thôn Giả Định, xã Thử Lộc', QuocGia: 'VN' },
      ThuongTru: { MaTinhThanh: '38', MaQuanHuyen: '380', MaPhuongXa: '14755' },
      QuocTich: 'VN',
      Cha: { HoVaTen: 'Trần Văn Mẫu', QuocTich: 'VN', SoDinhDanh: '038065999905', SoCMND: '171999905' },
      Me: { HoVaTen: 'Lê Thị Thử', SoDinhDanh: '038167999906' },
      VoChong: { HoVaTen: 'Nguyễn Thị Giả', SoDinhDanh: '038196999903' },
      ChuHo: { QuanHe: '04', HoVaTen: 'Trần Văn Mẫu', SoDinhDanh: '038065999905' },
      SoSoHoKhau: '380000001',
    });
    expect(Object.keys(p)).toEqual([
      'SoDinhDanh', 'SoCMND', 'HoVaTen', 'GioiTinh', 'DanToc', 'TonGiao', 'TinhTrangHonNhan', 'NhomMau', 'NgayThangNamSinh',
      'NoiDangKyKhaiSinh', 'QueQuan', 'ThuongTru', 'NoiOHienTai', 'QuocTich', 'Cha', 'Me', 'VoChong', 'ChuHo', 'SoSoHoKhau',
    ]);
  });

  it('matches names ignoring case and diacritics, dates as yyyyMMdd or dd/MM/yyyy, children unqualified', async () => {
    for (const [HoVaTen, NgayThangNamSinh] of [['LE THI MAU', '01/05/1999'], ['  lê   thị mẫu ', '19990501'], ['Le Thi Mau', '']]) {
      const { xml } = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '001199999902', HoVaTen, NgayThangNamSinh }, { qualified: false }));
      expect(congDan(xml)?.HoVaTen).toEqual({ Ho: 'Lê', ChuDem: 'Thị', Ten: 'Mẫu' });
      expect(congDan(xml)?.ThuongTru?.ChiTiet).toBe('Số 1 phố Giả Định');
    }
    const dang = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '040050999911', HoVaTen: 'DANG VAN KIEM' }));
    expect(congDan(dang.xml)?.HoVaTen?.Ho).toBe('Đặng');
  });

  it('year-only birth date: answers Nam without NgayThangNam and matches on the year', async () => {
    const { xml } = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '040050999911', NgayThangNamSinh: '01/01/1950' }));
    expect(congDan(xml).NgayThangNamSinh).toEqual({ Nam: '1950' });
    const other = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '040050999911', NgayThangNamSinh: '19510101' }));
    expect(congDan(other.xml)).toBeUndefined();
  });

  it('not found → 200 with an empty CongdanCollection', async () => {
    const { status, text, xml } = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '038095999999' }));
    expect(status).toBe(200);
    expect(text).toContain('<qldc:CongdanCollection/>');
    expect(xml.Envelope.Body).toHaveProperty('CongdanCollection', '');
  });

  it('a name or birth date that does not match → empty collection', async () => {
    const name = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '038095999901', HoVaTen: 'Trần Văn Khác' }));
    expect(name.text).toContain('<qldc:CongdanCollection/>');
    const date = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '038095999901', NgayThangNamSinh: '13/03/1995' }));
    expect(date.text).toContain('<qldc:CongdanCollection/>');
  });

  it('missing or malformed SoDinhDanh, or a bad date format → Client fault', async () => {
    for (const fields of [{ ...BASE }, { ...BASE, SoDinhDanh: '' }, { ...BASE, SoDinhDanh: '12345' }, { ...BASE, SoDinhDanh: '038095999901', NgayThangNamSinh: '1995.03.12' }]) {
      const { status, type, xml } = await post(lookupEnvelope(fields));
      expect(status).toBe(500);
      expect(type).toBe('text/xml; charset=utf-8');
      expect(fault11(xml).faultcode).toBe('soap:Client');
    }
  });

  it('reserved CCCD 038099999990 → Server fault "Hệ thống đang bận"', async () => {
    const { status, xml } = await post(lookupEnvelope({ ...BASE, SoDinhDanh: RESERVED.FAULT }));
    expect(status).toBe(500);
    expect(fault11(xml).faultcode).toBe('soap:Server');
    expect(fault11(xml).faultstring['#text']).toContain('Hệ thống đang bận');
  });

  it('other listed operations → Client fault "operation not supported by simulator"; unknown ones too', async () => {
    const { status, xml } = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '038095999901' }, { operation: 'XacThucThongTinCongDan' }));
    expect(status).toBe(500);
    expect(fault11(xml).faultcode).toBe('soap:Client');
    expect(fault11(xml).faultstring['#text']).toContain('operation not supported by simulator');
    const unknown = await post(lookupEnvelope({ SoDinhDanh: '038095999901' }, { operation: 'XoaCongDan' }));
    expect(fault11(unknown.xml).faultstring['#text']).toContain('unknown operation');
  });

  it('an operation outside the qldc namespace → Client fault', async () => {
    const body = `<s:Envelope xmlns:s="${SOAP11}"><s:Body><TraCuuThongTinCongDan xmlns="urn:other"><SoDinhDanh>038095999901</SoDinhDanh></TraCuuThongTinCongDan></s:Body></s:Envelope>`;
    const { xml } = await post(body);
    expect(fault11(xml).faultcode).toBe('soap:Client');
  });

  it('accepts a default-namespace envelope and POST /', async () => {
    const body =
      `<Envelope xmlns="${SOAP11}"><Body><TraCuuThongTinCongDan xmlns="${QLDC}"><SoDinhDanh>079201999910</SoDinhDanh></TraCuuThongTinCongDan></Body></Envelope>`;
    const res = await fetch(`${sim.url}/`, { method: 'POST', headers: { 'content-type': 'text/xml' }, body });
    const xml = reader.parse(await res.text()) as Record<string, any>;
    expect(res.status).toBe(200);
    expect(congDan(xml).HoVaTen).toEqual({ Ho: 'Vũ', ChuDem: 'Minh Ví', Ten: 'Dụ' });
  });
});

describe('population simulator: hostile and broken input', () => {
  it.each([
    ['malformed XML', `<soapenv:Envelope xmlns:soapenv="${SOAP11}"><soapenv:Body><a></soapenv:Body>`],
    ['DOCTYPE / XXE', `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><soapenv:Envelope xmlns:soapenv="${SOAP11}"><soapenv:Body>&xxe;</soapenv:Body></soapenv:Envelope>`],
    ['entity bomb', `<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><soapenv:Envelope xmlns:soapenv="${SOAP11}"><soapenv:Body>&b;</soapenv:Body></soapenv:Envelope>`],
    ['not SOAP', '<TraCuuThongTinCongDan><SoDinhDanh>038095999901</SoDinhDanh></TraCuuThongTinCongDan>'],
    ['two roots', `<a/><b/>`],
    ['empty body', `<soapenv:Envelope xmlns:soapenv="${SOAP11}"><soapenv:Body/></soapenv:Envelope>`],
    ['empty', ''],
  ])('%s → SOAP 1.1 Client fault, not a crash', async (_label, body) => {
    const { status, type, text, xml } = await post(body);
    expect(status).toBe(500);
    expect(type).toBe('text/xml; charset=utf-8');
    expect(fault11(xml).faultcode).toBe('soap:Client');
    expect(text).not.toContain('root:');
  });

  it('keeps serving after hostile input', async () => {
    const { xml } = await post(lookupEnvelope({ ...BASE, SoDinhDanh: '001192999908' }));
    expect(congDan(xml).HoVaTen.Ten).toBe('Nghiệm');
  });
});

describe('population simulator: SOAP 1.2', () => {
  it('answers in a SOAP 1.2 envelope with application/soap+xml', async () => {
    const { status, type, text, xml } = await post(
      lookupEnvelope({ ...BASE, SoDinhDanh: '079088999909' }, { version: '1.2' }),
      'application/soap+xml; charset=utf-8; action="TraCuuThongTinCongDan"',
    );
    expect(status).toBe(200);
    expect(type).toBe('application/soap+xml; charset=utf-8');
    expect(text).toContain(`xmlns:soap="${SOAP12}"`);
    expect(congDan(xml).HoVaTen).toEqual({ Ho: 'Hoàng', ChuDem: 'Văn Mô', Ten: 'Phỏng' });
  });

  it('Client faults are env:Sender with HTTP 400, Server faults env:Receiver with HTTP 500', async () => {
    const client = await post(lookupEnvelope({ ...BASE }, { version: '1.2' }), 'application/soap+xml');
    expect(client.status).toBe(400);
    expect(client.xml.Envelope.Body.Fault.Code.Value).toBe('soap:Sender');
    const server = await post(lookupEnvelope({ ...BASE, SoDinhDanh: RESERVED.FAULT }, { version: '1.2' }), 'application/soap+xml');
    expect(server.status).toBe(500);
    expect(server.xml.Envelope.Body.Fault.Code.Value).toBe('soap:Receiver');
    expect(server.xml.Envelope.Body.Fault.Reason.Text['#text']).toContain('Hệ thống đang bận');
  });

  it('a malformed body sent as application/soap+xml gets a SOAP 1.2 fault', async () => {
    const res = await post('<broken', 'application/soap+xml');
    expect(res.status).toBe(400);
    expect(res.type).toBe('application/soap+xml; charset=utf-8');
  });
});

describe('population simulator: modes, slowness, bookkeeping', () => {
  const ok = () => lookupEnvelope({ ...BASE, SoDinhDanh: '038196999903' });

  it('setMode and POST /__sim/mode switch between normal, fault, down-500', async () => {
    sim.setMode('fault');
    const busy = await post(ok());
    expect(busy.status).toBe(500);
    expect(fault11(busy.xml).faultstring['#text']).toContain('Hệ thống đang bận');

    const set = await fetch(`${sim.url}/__sim/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ mode: 'down-500' }) });
    expect(await set.json()).toEqual({ mode: 'down-500' });
    const down = await post(ok());
    expect(down.status).toBe(500);
    expect(down.type).toContain('text/html');
    expect(((await (await fetch(`${sim.url}/health`)).json()) as { mode: string }).mode).toBe('down-500');

    const bad = await fetch(`${sim.url}/__sim/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"sideways"}' });
    expect(bad.status).toBe(400);

    await fetch(`${sim.url}/__sim/mode`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"mode":"normal"}' });
    expect((await post(ok())).status).toBe(200);
  });

  it('slow mode delays the answer; latencyMs adds to every answer', async () => {
    const slowSim = await startPopulationSim({ slowMs: 300, latencyMs: 50 });
    // Observed through callers that give up, not by timing answers: a caller's timer shorter than the
    // simulator's sleep runs out first (timers fire in order), however loaded the machine is.
    const lookup = (signal?: AbortSignal) => fetch(slowSim.endpoint, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: ok(), signal });
    try {
      await expect(lookup(AbortSignal.timeout(25))).rejects.toThrow(); // under the 50 ms latency
      expect((await lookup()).status).toBe(200);
      slowSim.setMode('slow');
      expect(((await (await fetch(`${slowSim.url}/health`)).json()) as { mode: string }).mode).toBe('slow');
      await expect(lookup(AbortSignal.timeout(200))).rejects.toThrow(); // over the latency, under latency + slowMs
      expect((await lookup()).status).toBe(200);
    } finally {
      await slowSim.close();
    }
  });

  it('the slow CCCD outlasts a caller timeout, and close() does not wait for it', async () => {
    const other = await startPopulationSim({});
    const slow = fetch(other.endpoint, {
      method: 'POST',
      headers: { 'content-type': 'text/xml' },
      body: lookupEnvelope({ ...BASE, SoDinhDanh: RESERVED.SLOW }),
      signal: AbortSignal.timeout(300),
    });
    await expect(slow).rejects.toThrow();
    const pending = fetch(other.endpoint, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: lookupEnvelope({ ...BASE, SoDinhDanh: RESERVED.SLOW }) }).then(
      (res) => res.status,
      () => 'closed',
    );
    // The simulator records a call on arrival: once both are there, the second one is asleep.
    await waitFor(() => other.received().length === 2, 10_000, 'the second slow call to arrive');
    // Were the 30 s sleep not cut, close() would outlast the test's timeout.
    await other.close();
    expect([503, 'closed']).toContain(await pending); // a sleeping request is cut short, never answered late
  });

  it('records operation and time only, also over GET /__sim/received', async () => {
    const fresh = await startPopulationSim({});
    try {
      await fetch(fresh.endpoint, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: ok() });
      await fetch(fresh.endpoint, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: lookupEnvelope({ SoDinhDanh: '038095999901' }, { operation: 'XacThucThongTinCongDan' }) });
      await fetch(fresh.endpoint, { method: 'POST', headers: { 'content-type': 'text/xml' }, body: '<nope' });
      const received = fresh.received();
      expect(received.map((r) => r.operation)).toEqual(['TraCuuThongTinCongDan', 'XacThucThongTinCongDan', '(invalid)']);
      for (const r of received) expect(Object.keys(r).sort()).toEqual(['at', 'operation']);
      expect(new Date(received[0]!.at).toString()).not.toBe('Invalid Date');
      const over = (await (await fetch(`${fresh.url}/__sim/received`)).json()) as unknown[];
      expect(over).toEqual(received);
      expect(JSON.stringify(over)).not.toContain('0381');
      const health = await fetch(`${fresh.url}/health`);
      expect(await health.json()).toEqual({ status: 'ok', mode: 'normal' });
    } finally {
      await fresh.close();
    }
  });
});

describe('fictitious people', () => {
  const CENTURY: Record<string, [number, '1' | '2']> = { '0': [1900, '1'], '1': [1900, '2'], '2': [2000, '1'], '3': [2000, '2'] };
  const byId = new Map(people.map((p) => [p.SoDinhDanh, p]));

  it('has ~20 people with unique, structurally valid test CCCDs', () => {
    expect(people.length).toBeGreaterThanOrEqual(20);
    expect(byId.size).toBe(people.length);
    for (const p of people) {
      expect(p.SoDinhDanh).toMatch(/^\d{3}[0-3]\d{2}9999\d{2}$/);
      const [century, gender] = CENTURY[p.SoDinhDanh[3]!]!;
      expect(p.GioiTinh).toBe(gender);
      expect(p.NgayThangNamSinh.Nam).toBe(String(century + Number(p.SoDinhDanh.slice(4, 6))));
      expect(p.NoiDangKyKhaiSinh.MaTinhThanh).toBe(p.SoDinhDanh.slice(1, 3));
      if (p.NgayThangNamSinh.NgayThangNam) {
        const d = p.NgayThangNamSinh.NgayThangNam;
        expect(d.slice(0, 4)).toBe(p.NgayThangNamSinh.Nam);
        const date = new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}T00:00:00Z`);
        expect(date.toISOString().slice(0, 10).replaceAll('-', '')).toBe(d);
      }
      if (p.SoCMND) expect(p.SoCMND).toMatch(/^\d{9}$/);
      expect(byId.get(p.ChuHo.SoDinhDanh)?.SoSoHoKhau).toBe(p.SoSoHoKhau);
    }
    expect(people.some((p) => !p.NgayThangNamSinh.NgayThangNam)).toBe(true);
    expect(people.some((p) => p.SoCMND)).toBe(true);
    expect(people.some((p) => p.Cha && p.Me && p.VoChong)).toBe(true);
    expect(byId.has(RESERVED.FAULT) || byId.has(RESERVED.SLOW)).toBe(false);
  });

  it('relatives with a personal id are residents with the same name', () => {
    for (const p of people) {
      for (const rel of [p.Cha, p.Me, p.VoChong, p.NguoiDaiDien]) {
        if (!rel?.SoDinhDanh) continue;
        const r = byId.get(rel.SoDinhDanh);
        expect(r, `${p.SoDinhDanh} → ${rel.SoDinhDanh}`).toBeDefined();
        expect([r!.HoVaTen.Ho, r!.HoVaTen.ChuDem, r!.HoVaTen.Ten].filter(Boolean).join(' ')).toBe(rel.HoVaTen);
        if (rel === p.VoChong) expect(r!.VoChong?.SoDinhDanh).toBe(p.SoDinhDanh);
      }
    }
  });
});

describe('population simulator: code lists agree with the hub', () => {
  const table = parseYaml(readFileSync(new URL('../../mappings/codes/csdldc-ethnicity.yaml', import.meta.url), 'utf8')) as {
    entries: Record<string, string>;
  };

  it('DanToc is the national list of 54 ethnic groups, as the hub\'s csdldc-ethnicity table has it', () => {
    expect(Object.keys(table.entries).sort()).toEqual(Array.from({ length: 54 }, (_, i) => String(i + 1).padStart(2, '0')));
    expect(codeLists.DanToc).toEqual(table.entries);
    expect(table.entries['01']).toBe('Kinh');
    expect(table.entries['54']).toBe('Rơ-măm');
  });

  it('every resident\'s codes are in the simulator\'s lists', () => {
    for (const p of people) {
      expect(Object.keys(codeLists.DanToc), p.SoDinhDanh).toContain(p.DanToc);
      expect(Object.keys(codeLists.TonGiao), p.SoDinhDanh).toContain(p.TonGiao);
      expect(Object.keys(codeLists.TinhTrangHonNhan), p.SoDinhDanh).toContain(p.TinhTrangHonNhan);
      expect(Object.keys(codeLists.NhomMau), p.SoDinhDanh).toContain(p.NhomMau);
      expect(Object.keys(codeLists.QuanHe), p.SoDinhDanh).toContain(p.ChuHo.QuanHe);
    }
  });

  it('the CSDLQG mapping\'s golden input carries the codes the simulator answers for the same person', () => {
    const golden = parseYaml(readFileSync(new URL('../../mappings/csdldc/TraCuuThongTinCongDan.in.test.yaml', import.meta.url), 'utf8')) as {
      cases: Array<{ input: { CongdanCollection: { CongDan: Record<string, any> } } }>;
    };
    const g = golden.cases[0]!.input.CongdanCollection.CongDan;
    const sim = people.find((p) => p.SoDinhDanh === g.SoDinhDanh)!;
    expect(sim).toBeDefined();
    for (const key of ['GioiTinh', 'DanToc', 'TonGiao', 'TinhTrangHonNhan', 'NhomMau', 'QuocTich'] as const) expect(g[key], key).toBe(sim[key]);
    expect(g.NgayThangNamSinh).toEqual(sim.NgayThangNamSinh);
    expect(g.ChuHo).toEqual(sim.ChuHo);
    expect(g.Cha).toMatchObject({ HoVaTen: sim.Cha!.HoVaTen, SoDinhDanh: sim.Cha!.SoDinhDanh, QuocTich: sim.Cha!.QuocTich });
  });
});
