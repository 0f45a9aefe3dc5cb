/**
 * One-off measurement (not a test, not asserted): decodeSoap throughput on a ~5 KB SOAP 1.1
 * envelope shaped like STACK.md §4's (WS-Security header, 30 body fields with attributes and
 * escaped text). Run: node --import tsx test/codec/soap-decode-rate.ts
 */
import { decodeSoap } from '../../src/codec/soap.js';
import { parseXmlSafely } from '../../src/codec/xml.js';

function envelope(): string {
  const fields = Array.from({ length: 30 }, (_, i) => {
    const n = String(i).padStart(2, '0');
    return `      <qldc:TruongDuLieu${n} loai="chuoi" thuTu="${i}">Giá trị mẫu ${n} của Trần Văn Thử &amp; Lê Thị Mẫu</qldc:TruongDuLieu${n}>`;
  }).join('\n');
  return `<?xml version="1.0" encoding="utf-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:qldc="http://dancuquocgia.bca"
  xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
  xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
  <soapenv:Header>
    <wsse:Security soapenv:mustUnderstand="1">
      <wsu:Timestamp wsu:Id="TS-1"><wsu:Created>2025-03-04T01:15:00Z</wsu:Created><wsu:Expires>2025-03-04T01:20:00Z</wsu:Expires></wsu:Timestamp>
      <wsse:UsernameToken wsu:Id="UT-1"><wsse:Username>motcua-h56</wsse:Username><wsse:Password Type="PasswordText">khong-phai-mat-khau-that</wsse:Password></wsse:UsernameToken>
    </wsse:Security>
  </soapenv:Header>
  <soapenv:Body wsu:Id="Body-1">
    <qldc:TraCuuThongTinCongDan>
      <qldc:MaYeuCau>000.00.14.H56-250304-0007</qldc:MaYeuCau>
      <qldc:SoDinhDanh>038095999901</qldc:SoDinhDanh>
${fields}
    </qldc:TraCuuThongTinCongDan>
  </soapenv:Body>
</soapenv:Envelope>`;
}

function rate(label: string, fn: () => unknown, seconds = 2): void {
  for (let i = 0; i < 300; i++) fn(); // warm up
  let n = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(seconds * 1e9);
  let now = start;
  while (now < until) {
    for (let i = 0; i < 50; i++) fn();
    n += 50;
    now = process.hrtime.bigint();
  }
  const secs = Number(now - start) / 1e9;
  console.log(`${label}: ${Math.round(n / secs)} /s (${((secs / n) * 1e6).toFixed(0)} µs each)`);
}

const xml = envelope();
const bytes = Buffer.from(xml, 'utf8');
console.log(`envelope: ${bytes.length} bytes, node ${process.version}`);
rate('decodeSoap(Buffer)', () => decodeSoap(bytes));
rate('parseXmlSafely(string) only', () => parseXmlSafely(xml));
