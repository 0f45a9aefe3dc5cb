import { describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import {
  decodeSoap,
  encodeSoap,
  encodeSoapFault,
  HUB_FAULT_NS,
  SOAP11_NS,
  SOAP12_NS,
  soapActionHeader,
  soapContentType,
  soapVersionMismatch,
} from '../../src/codec/soap.js';

function failure(fn: () => unknown): HubError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  throw new Error('expected a HubError, nothing was thrown');
}

const LOOKUP_11 = `<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:qldc="http://dancuquocgia.bca"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soapenv:Header>
    <qldc:MaYeuCau qldc:lan="1">REQ-0001</qldc:MaYeuCau>
  </soapenv:Header>
  <soapenv:Body>
    <qldc:TraCuuThongTinCongDan>
      <qldc:MaDVC>1.001234.01</qldc:MaDVC>
      <qldc:SoDinhDanh>038095999901</qldc:SoDinhDanh>
      <qldc:HoVaTen>Trần Văn Thử</qldc:HoVaTen>
      <qldc:NgayThangNamSinh xsi:nil="true"/>
      <qldc:GhiChu/>
    </qldc:TraCuuThongTinCongDan>
  </soapenv:Body>
</soapenv:Envelope>`;

describe('decodeSoap', () => {
  it('decodes a SOAP 1.1 envelope: version, header, local names, xsi:nil, raw bytes', () => {
    const raw = Buffer.from(LOOKUP_11, 'utf8');
    const m = decodeSoap(raw);
    expect(m.version).toBe('1.1');
    expect(m.firstBodyElement).toEqual({ name: 'TraCuuThongTinCongDan', ns: 'http://dancuquocgia.bca' });
    expect(m.body).toEqual({
      TraCuuThongTinCongDan: {
        MaDVC: '1.001234.01',
        SoDinhDanh: '038095999901',
        HoVaTen: 'Trần Văn Thử',
        NgayThangNamSinh: null,
        GhiChu: '',
      },
    });
    expect(m.header).toEqual({ MaYeuCau: { '#text': 'REQ-0001', '@_lan': '1' } });
    expect(m.fault).toBeUndefined();
    expect(m.raw.equals(raw)).toBe(true);
  });

  it('decodes a SOAP 1.2 envelope (no header) from a string', () => {
    const m = decodeSoap(
      `<env:Envelope xmlns:env="${SOAP12_NS}"><env:Body><m:Ping xmlns:m="urn:motcua:legacy:v1"><m:At>04/03/2025 08:02</m:At></m:Ping></env:Body></env:Envelope>`,
    );
    expect(m.version).toBe('1.2');
    expect(m.header).toBeUndefined();
    expect(m.firstBodyElement).toEqual({ name: 'Ping', ns: 'urn:motcua:legacy:v1' });
    expect(m.body).toEqual({ Ping: { At: '04/03/2025 08:02' } });
    expect(Buffer.isBuffer(m.raw)).toBe(true);
  });

  it('resolves namespaces itself: unusual prefixes, a default namespace, a prefix redeclared lower down', () => {
    const m = decodeSoap(
      `<zz9:Envelope xmlns:zz9="${SOAP11_NS}" xmlns:ns2="urn:other"><zz9:Body>` +
        `<SyncDocument xmlns="urn:motcua:legacy:v1"><DocCode>000.00.14.H56-250304-0007</DocCode>` +
        `<ns2:Extra xmlns:ns2="urn:inner" ns2:kind="a">v</ns2:Extra></SyncDocument></zz9:Body></zz9:Envelope>`,
    );
    expect(m.version).toBe('1.1');
    expect(m.firstBodyElement).toEqual({ name: 'SyncDocument', ns: 'urn:motcua:legacy:v1' });
    expect(m.body).toEqual({ SyncDocument: { DocCode: '000.00.14.H56-250304-0007', Extra: { '#text': 'v', '@_kind': 'a' } } });
  });

  it('tells 1.1 from 1.2 by namespace, not by prefix', () => {
    const as12 = decodeSoap(`<soap:Envelope xmlns:soap="${SOAP12_NS}"><soap:Body><x/></soap:Body></soap:Envelope>`);
    expect(as12.version).toBe('1.2');
    expect(as12.firstBodyElement).toEqual({ name: 'x' });
  });

  it('keeps repeated elements as arrays and xsi:nil only in the XSI namespace', () => {
    const m = decodeSoap(
      `<s:Envelope xmlns:s="${SOAP11_NS}" xmlns:i="http://www.w3.org/2001/XMLSchema-instance" xmlns:f="urn:fake">` +
        `<s:Body><List><Item>1</Item><Item>2</Item><Nil i:nil="true"/><NotNil f:nil="true"/></List></s:Body></s:Envelope>`,
    );
    expect(m.body).toEqual({ List: { Item: ['1', '2'], Nil: null, NotNil: { '@_nil': 'true' } } });
  });

  it('drops xsi attributes other than nil (xsi:type from .NET and Java stacks), keeping the value as text', () => {
    const m = decodeSoap(
      `<s:Envelope xmlns:s="${SOAP11_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:f="urn:fake">` +
        `<s:Body><TraCuu xsi:schemaLocation="urn:x x.xsd"><ApplicantsId xsi:type="xsd:string">001199999902</ApplicantsId><Ma f:type="x">1</Ma></TraCuu></s:Body></s:Envelope>`,
    );
    expect(m.body).toEqual({ TraCuu: { ApplicantsId: '001199999902', Ma: { '#text': '1', '@_type': 'x' } } });
  });

  it('decodes a SOAP 1.1 fault', () => {
    const m = decodeSoap(
      `<soap:Envelope xmlns:soap="${SOAP11_NS}"><soap:Body><soap:Fault>` +
        `<faultcode>soap:Client</faultcode><faultstring>Sai mã xác thực</faultstring>` +
        `<detail><Loi><Ma>100</Ma><Ten>AUTHEN_ERROR</Ten></Loi></detail></soap:Fault></soap:Body></soap:Envelope>`,
    );
    expect(m.fault).toEqual({ code: 'Client', reason: 'Sai mã xác thực', detail: { Loi: { Ma: '100', Ten: 'AUTHEN_ERROR' } } });
    expect(m.firstBodyElement).toEqual({ name: 'Fault', ns: SOAP11_NS });
  });

  it('decodes a SOAP 1.2 fault with subcode and several Reason texts', () => {
    const m = decodeSoap(
      `<e:Envelope xmlns:e="${SOAP12_NS}" xmlns:p="urn:peer"><e:Body><e:Fault>` +
        `<e:Code><e:Value>e:Receiver</e:Value><e:Subcode><e:Value>p:DATA_INCORRECT</e:Value></e:Subcode></e:Code>` +
        `<e:Reason><e:Text xml:lang="vi">Dữ liệu không đúng</e:Text><e:Text xml:lang="en">Data incorrect</e:Text></e:Reason>` +
        `<e:Detail><p:Ma>500</p:Ma></e:Detail></e:Fault></e:Body></e:Envelope>`,
    );
    expect(m.fault).toEqual({ code: 'Receiver', subcode: 'DATA_INCORRECT', reason: 'Dữ liệu không đúng', detail: { Ma: '500' } });
  });

  it('a Fault element outside the SOAP namespace is not a fault', () => {
    const m = decodeSoap(`<s:Envelope xmlns:s="${SOAP11_NS}"><s:Body><Fault>x</Fault></s:Body></s:Envelope>`);
    expect(m.fault).toBeUndefined();
  });

  it('rejects a non-SOAP root, an Envelope in another namespace, a missing Body', () => {
    expect(failure(() => decodeSoap('<HoSo><Ma>1</Ma></HoSo>')).type).toBe('client.bad-soap');
    expect(failure(() => decodeSoap('<s:Envelope xmlns:s="urn:not-soap"><s:Body/></s:Envelope>')).type).toBe('client.bad-soap');
    expect(failure(() => decodeSoap('<Envelope><Body/></Envelope>')).type).toBe('client.bad-soap');
    expect(failure(() => decodeSoap(`<s:Envelope xmlns:s="${SOAP11_NS}"><s:Header/></s:Envelope>`)).type).toBe('client.bad-soap');
  });

  it('refuses a second Body under another prefix bound to the same namespace (the last one used to win)', () => {
    const xml =
      `<soap:Envelope xmlns:soap="${SOAP11_NS}" xmlns:s2="${SOAP11_NS}" xmlns:q="http://dancuquocgia.bca">` +
      `<soap:Body><q:TraCuu><q:SoDinhDanh>099095999901</q:SoDinhDanh></q:TraCuu></soap:Body>` +
      `<s2:Body><q:TraCuu><q:SoDinhDanh>038095999901</q:SoDinhDanh></q:TraCuu></s2:Body></soap:Envelope>`;
    const e = failure(() => decodeSoap(Buffer.from(xml, 'utf8')));
    expect(e.type).toBe('client.bad-soap');
    expect(e.detail).toEqual([{ field: 'Body', reason: 'more than one Body', code: 'duplicate-body' }]);
    expect(JSON.stringify({ m: e.message, d: e.detail })).not.toMatch(/0[39]8?09599990/);
    // the same with a default namespace, a declaration on the Body itself, and the same prefix twice
    for (const doc of [
      `<soap:Envelope xmlns:soap="${SOAP11_NS}"><soap:Body><a/></soap:Body><Body xmlns="${SOAP11_NS}"><b/></Body></soap:Envelope>`,
      `<soap:Envelope xmlns:soap="${SOAP11_NS}"><soap:Body><a/></soap:Body><x:Body xmlns:x="${SOAP11_NS}"><b/></x:Body></soap:Envelope>`,
      `<soap:Envelope xmlns:soap="${SOAP11_NS}"><soap:Body><a/></soap:Body><soap:Body><b/></soap:Body></soap:Envelope>`,
      `<e:Envelope xmlns:e="${SOAP12_NS}" xmlns:f="${SOAP12_NS}"><e:Body><a/></e:Body><f:Body><b/></f:Body></e:Envelope>`,
    ]) {
      expect(failure(() => decodeSoap(doc)).detail[0]!.code, doc).toBe('duplicate-body');
    }
  });

  it('refuses a second Header, a Header after the Body, and any other element child of the Envelope', () => {
    const env = (inner: string) => `<soap:Envelope xmlns:soap="${SOAP11_NS}" xmlns:h="${SOAP11_NS}" xmlns:o="urn:other">${inner}</soap:Envelope>`;
    const cases: Array<[string, string]> = [
      ['<soap:Header><a/></soap:Header><h:Header><b/></h:Header><soap:Body><x/></soap:Body>', 'duplicate-header'],
      ['<soap:Header/><soap:Header/><soap:Body><x/></soap:Body>', 'duplicate-header'],
      ['<soap:Body><x/></soap:Body><soap:Header><a/></soap:Header>', 'unexpected-element'],
      ['<soap:Body><x/></soap:Body><o:Extra/>', 'unexpected-element'],
      ['<o:Extra/><soap:Body><x/></soap:Body>', 'unexpected-element'],
      ['<o:Body><x/></o:Body><soap:Body><y/></soap:Body>', 'unexpected-element'],
      ['<soap:Trailer/><soap:Body><x/></soap:Body>', 'unexpected-element'],
      ['<Body><x/></Body>', 'unexpected-element'],
    ];
    for (const [inner, code] of cases) {
      const e = failure(() => decodeSoap(env(inner)));
      expect(e.type, inner).toBe('client.bad-soap');
      expect(e.detail[0]!.code, inner).toBe(code);
    }
    expect(decodeSoap(env('<h:Header><a>1</a></h:Header><soap:Body><x>2</x></soap:Body>'))).toMatchObject({ header: { a: '1' }, body: { x: '2' } });
  });

  it('refuses an envelope of the other SOAP version when the endpoint names its own (VersionMismatch)', () => {
    const v11 = `<s:Envelope xmlns:s="${SOAP11_NS}"><s:Body><Op/></s:Body></s:Envelope>`;
    const v12 = `<s:Envelope xmlns:s="${SOAP12_NS}"><s:Body><Op/></s:Body></s:Envelope>`;
    const e = failure(() => decodeSoap(Buffer.from(v12), { version: '1.1' }));
    expect(e.type).toBe('client.bad-soap');
    expect(e.status).toBe(400);
    expect(e.message).toContain('this endpoint speaks SOAP 1.1, the request is a SOAP 1.2 envelope');
    expect(e.detail).toEqual([{ field: 'Envelope', reason: `expected a SOAP 1.1 Envelope (namespace ${SOAP11_NS})`, code: 'version-mismatch' }]);
    expect(failure(() => decodeSoap(v11, { version: '1.2' })).detail[0]!.code).toBe('version-mismatch');
    expect(decodeSoap(v11, { version: '1.1' }).version).toBe('1.1');
    expect(decodeSoap(v12, { version: '1.2' }).version).toBe('1.2');
    expect(decodeSoap(v12).version).toBe('1.2'); // no expectation: both are read, as before
    expect(soapVersionMismatch('1.2', '1.1').detail[0]!.code).toBe('version-mismatch');
  });

  it('reads attribute values as XML does: a literal tab or line break is a space', () => {
    const m = decodeSoap(
      `<s:Envelope xmlns:s="${SOAP11_NS}" xmlns:q="urn:q"><s:Body><q:Op><q:Ma q:loai="a\tb\r\nc\nd" kieu="x&#9;y">1</q:Ma></q:Op></s:Body></s:Envelope>`,
    );
    expect(m.body).toEqual({ Op: { Ma: { '#text': '1', '@_loai': 'a b c d', '@_kieu': 'x\ty' } } });
  });

  it('refuses invalid references and a non-UTF-8 encoding declaration in an envelope', () => {
    const env = (text: string, decl = '') => `${decl}<s:Envelope xmlns:s="${SOAP11_NS}"><s:Body><Op><Id>${text}</Id></Op></s:Body></s:Envelope>`;
    expect(failure(() => decodeSoap(Buffer.from(env('0011999999&#0;02')))).detail[0]!.code).toBe('xml-reference');
    expect(failure(() => decodeSoap(Buffer.from(env('a&nbsp;b')))).detail[0]!.code).toBe('xml-reference');
    expect(failure(() => decodeSoap(Buffer.from(env('1', '<?xml version="1.0" encoding="ISO-8859-1"?>')))).detail[0]!.code).toBe('xml-encoding');
    expect(failure(() => decodeSoap(Buffer.from(`\uFEFF\uFEFF${env('1')}`, 'utf8'))).detail[0]!.code).toBe('xml-bom');
    expect(decodeSoap(Buffer.from(`\uFEFF${env('Tr&#7847;n')}`, 'utf8')).body).toEqual({ Op: { Id: 'Trần' } });
  });

  it('rejects an undeclared prefix', () => {
    const e = failure(() => decodeSoap(`<s:Envelope xmlns:s="${SOAP11_NS}"><s:Body><q:Op/></s:Body></s:Envelope>`));
    expect(e.type).toBe('client.bad-soap');
  });

  it('passes the XML hardening through: DOCTYPE, malformed, prototype names', () => {
    expect(failure(() => decodeSoap(`<!DOCTYPE x><s:Envelope xmlns:s="${SOAP11_NS}"><s:Body/></s:Envelope>`)).type).toBe('client.xml-forbidden');
    expect(failure(() => decodeSoap(`<s:Envelope xmlns:s="${SOAP11_NS}"><s:Body></s:Envelope>`)).type).toBe('client.bad-xml');
    expect(failure(() => decodeSoap(`<s:Envelope xmlns:s="${SOAP11_NS}" xmlns:p="urn:p"><s:Body><p:__proto__>1</p:__proto__></s:Body></s:Envelope>`)).type).toBe(
      'client.xml-forbidden',
    );
  });
});

describe('encodeSoap', () => {
  const body = {
    TraCuuThongTinCongDan: {
      HoVaTen: 'Trần Văn Thử & <Con> "trích" \'dẫn\'',
      SoDinhDanh: '038095999901',
      DanhSach: [{ Ma: '1' }, { Ma: '2' }],
      Ma: ['A', 'B'],
      SoTien: 50000,
      DaThanhToan: false,
      Trong: null,
      Kieu: { '@_loai': 'a&b"c', '#text': 'x<y' },
    },
  };

  for (const version of ['1.1', '1.2'] as const) {
    it(`round-trips Vietnamese text, escapes, arrays, numbers and null (SOAP ${version})`, () => {
      const xml = encodeSoap({ version, body, namespace: 'http://dancuquocgia.bca', prefix: 'qldc' });
      expect(xml).toContain('<qldc:TraCuuThongTinCongDan>');
      expect(xml).toContain('<qldc:HoVaTen>');
      expect(xml).toContain('&amp;');
      expect(xml).toContain('&lt;Con&gt;');
      const m = decodeSoap(xml);
      expect(m.version).toBe(version);
      expect(m.firstBodyElement).toEqual({ name: 'TraCuuThongTinCongDan', ns: 'http://dancuquocgia.bca' });
      expect(m.body).toEqual({
        TraCuuThongTinCongDan: {
          HoVaTen: 'Trần Văn Thử & <Con> "trích" \'dẫn\'',
          SoDinhDanh: '038095999901',
          DanhSach: [{ Ma: '1' }, { Ma: '2' }],
          Ma: ['A', 'B'],
          SoTien: '50000',
          DaThanhToan: 'false',
          Trong: '',
          Kieu: { '@_loai': 'a&b"c', '#text': 'x<y' },
        },
      });
    });
  }

  it('leaves children unqualified when qualifyChildren is false', () => {
    const xml = encodeSoap({ version: '1.1', body: { Op: { Child: 'v' } }, namespace: 'urn:x', prefix: 'm', qualifyChildren: false });
    expect(xml).toContain('<m:Op><Child>v</Child></m:Op>');
    expect(decodeSoap(xml).body).toEqual({ Op: { Child: 'v' } });
  });

  it('writes no prefix without a namespace, and a header as given', () => {
    const xml = encodeSoap({
      version: '1.2',
      body: { Op: 'x' },
      header: { 'h:Token': { '@_xmlns:h': 'urn:auth', '#text': 't' } },
    });
    expect(xml).toContain('<env:Body><Op>x</Op></env:Body>');
    const m = decodeSoap(xml);
    expect(m.header).toEqual({ Token: 't' });
    expect(m.firstBodyElement).toEqual({ name: 'Op' });
  });

  it('refuses element names that could inject markup, and characters XML cannot carry', () => {
    expect(failure(() => encodeSoap({ version: '1.1', body: { 'a><b': 'x' } })).type).toBe('mapping.xml-encode');
    expect(failure(() => encodeSoap({ version: '1.1', body: { a: { '@_x y': '1' } } })).type).toBe('mapping.xml-encode');
    const e = failure(() => encodeSoap({ version: '1.1', body: { Ten: 'Tr\u0000n' } }));
    expect(e.type).toBe('mapping.xml-encode');
    expect(e.message).not.toContain('Tr');
  });
});

describe('encodeSoapFault', () => {
  it('SOAP 1.1: Client/Server fault codes, reason and detail round-trip', () => {
    const xml = encodeSoapFault({ version: '1.1', code: 'Client', reason: 'XML không hợp lệ & sai', detail: { LoiHub: { Loai: 'client.bad-xml' } } });
    expect(xml).toContain('<faultcode>soap:Client</faultcode>');
    expect(decodeSoap(xml).fault).toEqual({ code: 'Client', reason: 'XML không hợp lệ & sai', detail: { LoiHub: { Loai: 'client.bad-xml' } } });
    expect(decodeSoap(encodeSoapFault({ version: '1.1', code: 'Server', reason: 'r' })).fault).toEqual({ code: 'Server', reason: 'r' });
  });

  it('SOAP 1.2: Client → Sender, Server → Receiver, hub codes as a Subcode', () => {
    expect(decodeSoap(encodeSoapFault({ version: '1.2', code: 'Client', reason: 'r' })).fault?.code).toBe('Sender');
    expect(decodeSoap(encodeSoapFault({ version: '1.2', code: 'Server', reason: 'r' })).fault?.code).toBe('Receiver');
    const xml = encodeSoapFault({ version: '1.2', code: 'client.bad-xml', reason: 'XML không hợp lệ' });
    expect(xml).toContain(`xmlns:lt="${HUB_FAULT_NS}"`);
    expect(decodeSoap(xml).fault).toEqual({ code: 'Sender', subcode: 'client.bad-xml', reason: 'XML không hợp lệ' });
  });
});

describe('soapContentType', () => {
  it('gives the media type per version, with the 1.2 action parameter', () => {
    expect(soapContentType('1.1')).toBe('text/xml; charset=utf-8');
    expect(soapContentType('1.1', 'urn:x')).toBe('text/xml; charset=utf-8');
    expect(soapContentType('1.2')).toBe('application/soap+xml; charset=utf-8');
    expect(soapContentType('1.2', 'http://dancuquocgia.bca/TraCuu')).toBe('application/soap+xml; charset=utf-8; action="http://dancuquocgia.bca/TraCuu"');
    expect(soapContentType('1.2', 'a"\r\nX-Evil: 1')).toBe('application/soap+xml; charset=utf-8; action="a%22%0D%0AX-Evil%3A%201"'.replace('%3A', ':'));
    expect(soapActionHeader('urn:op')).toBe('"urn:op"');
  });
});
