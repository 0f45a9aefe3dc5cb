import { X509Certificate, sign as rsaSign, type KeyObject } from 'node:crypto';
import { DOMParser, XMLSerializer, type Document, type Element } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { SOAP11_NS, SOAP12_NS, decodeSoap, encodeSoap, type SoapVersion } from '../../src/codec/soap.js';
import { HubError } from '../../src/core/errors.js';
import { createDevCa, issueCertificate, loadPrivateKey, type PemPair } from '../../src/trust/pki.js';
import { DSIG_NS, WSSE_NS, WSU_NS, signSoapEnvelope, verifySoapEnvelope, type XmlSigner } from '../../src/trust/xml-signature.js';

// Fictitious citizen data.
const QLDC_NS = 'http://dancuquocgia.bca';
const SO_DINH_DANH = '038095999901';
const HO_VA_TEN = 'Nguyễn Thị Thử Nghiệm';
const FORGED_SO_DINH_DANH = '001099999986';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';
const MINUTE = 60_000;

let peer: PemPair;
let peerSigner: XmlSigner;
let peerCertificate: X509Certificate;
let otherPeer: PemPair;
/** Holds a certificate from the same CA as the peer, but is not pinned. */
let intruder: PemPair;
let intruderSigner: XmlSigner;

beforeAll(() => {
  const ca = createDevCa({ commonName: 'CA thử nghiệm liên thông' });
  peer = issueCertificate({ ca, commonName: 'CSDL quốc gia về dân cư (thử)', participant: 'VN/GOV/000.00.00.G01/qldc', usage: 'client' });
  otherPeer = issueCertificate({ ca, commonName: 'Cổng dịch vụ công (thử)', participant: 'VN/GOV/000.00.00.H56/dvc', usage: 'client' });
  intruder = issueCertificate({ ca, commonName: 'Kẻ mạo danh', participant: 'VN/COM/0101234567/erp', usage: 'client' });
  peerSigner = { key: loadPrivateKey(peer.keyPem), certificatePem: peer.certPem };
  peerCertificate = new X509Certificate(peer.certPem);
  intruderSigner = { key: loadPrivateKey(intruder.keyPem), certificatePem: intruder.certPem };
});

// ---------------------------------------------------------------------------------------------
// helpers
// ---------------------------------------------------------------------------------------------

function citizenQuery(version: SoapVersion): string {
  return encodeSoap({
    version,
    namespace: QLDC_NS,
    prefix: 'qldc',
    body: {
      TraCuuCongDan: {
        SoDinhDanh: SO_DINH_DANH,
        HoVaTen: HO_VA_TEN,
        NgaySinh: '1995-03-08',
        NoiThuongTru: 'Số 1 phố Thử Nghiệm, phường Mẫu, Hà Nội',
      },
    },
  });
}

function signedQuery(version: SoapVersion = '1.1', options: { now?: Date; timestampTtlSeconds?: number } = {}): string {
  return signSoapEnvelope(citizenQuery(version), peerSigner, options);
}

function verify(xml: string | Buffer, options: { now?: Date; maxClockSkewSeconds?: number; maxTimestampLifetimeSeconds?: number; requireTimestamp?: boolean } = {}) {
  return verifySoapEnvelope(xml, { certificates: [peer.certPem], ...options });
}

function parse(xml: string): Document {
  return new DOMParser().parseFromString(xml, 'text/xml');
}

/** Parses, lets `change` edit the DOM as an attacker would, serializes again. */
function tamper(xml: string, change: (doc: Document) => void): string {
  const doc = parse(xml);
  change(doc);
  return new XMLSerializer().serializeToString(doc);
}

function only(doc: Document, ns: string, local: string): Element {
  const found = Array.from(doc.getElementsByTagNameNS(ns, local));
  expect(found).toHaveLength(1);
  return found[0]!;
}

function envelopeNs(doc: Document): string {
  return doc.documentElement!.namespaceURI!;
}

/** A header block the attacker controls, to hide the signed original in. */
function attackerWrapper(doc: Document): Element {
  const header = only(doc, envelopeNs(doc), 'Header');
  const wrapper = doc.createElementNS('urn:attacker', 'att:Wrapper');
  header.appendChild(wrapper);
  return wrapper;
}

/** A Body like the signed one, asking about someone else. */
function forgedBody(doc: Document): Element {
  const ns = envelopeNs(doc);
  const body = doc.createElementNS(ns, `${doc.documentElement!.prefix}:Body`);
  const query = doc.createElementNS(QLDC_NS, 'qldc:TraCuuCongDan');
  const id = doc.createElementNS(QLDC_NS, 'qldc:SoDinhDanh');
  id.appendChild(doc.createTextNode(FORGED_SO_DINH_DANH));
  query.appendChild(id);
  body.appendChild(query);
  return body;
}

function setText(element: Element, text: string): void {
  while (element.firstChild) element.removeChild(element.firstChild);
  element.appendChild(element.ownerDocument!.createTextNode(text));
}

function wsuIdsOf(xml: string): string[] {
  return [...xml.matchAll(/wsu:Id="([^"]+)"/g)].map((match) => match[1]!);
}

/** Runs `action`, expects a HubError of `type` with a bilingual message and `code`, quoting nothing from the message. */
function rejection(action: () => unknown, type: string, code: string, xml = ''): HubError {
  let error: unknown;
  try {
    action();
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(HubError);
  const hubError = error as HubError;
  expect({ type: hubError.type, code: hubError.detail[0]?.code }).toEqual({ type, code });
  expect(hubError.message).toMatch(/^[^/]+ \/ /); // "Vietnamese / English"
  expect(hubError.detail).toHaveLength(1);
  expect(hubError.detail[0]!.reason.length).toBeGreaterThan(0);
  const shown = JSON.stringify({ message: hubError.message, detail: hubError.detail });
  for (const secret of [SO_DINH_DANH, FORGED_SO_DINH_DANH, HO_VA_TEN, ...wsuIdsOf(xml)]) expect(shown).not.toContain(secret);
  return hubError;
}

function expectRejected(xml: string | Buffer, type: string, code: string, options: Parameters<typeof verify>[1] = {}): HubError {
  const error = rejection(() => verify(xml, options), type, code, xml.toString());
  expect(error.status).toBe(type === 'client.xml-forbidden' ? 400 : 401);
  return error;
}

/**
 * A message signed by the pinned peer key with references chosen by the test (through xml-crypto
 * itself), for peers whose signatures are valid but do not follow our rules.
 */
function peerSignsWithXmlCrypto(
  references: Array<{ xpath: string; transforms: string[]; isEmptyUri?: boolean; inclusiveNamespacesPrefixList?: string[] }>,
  signedInfoPrefixList?: string[],
): string {
  const envelope =
    `<soap:Envelope xmlns:soap="${SOAP11_NS}" xmlns:wsse="${WSSE_NS}" xmlns:wsu="${WSU_NS}" xmlns:qldc="${QLDC_NS}">` +
    `<soap:Header><wsse:Security/></soap:Header>` +
    `<soap:Body wsu:Id="body-1"><qldc:TraCuuCongDan><qldc:SoDinhDanh>${SO_DINH_DANH}</qldc:SoDinhDanh></qldc:TraCuuCongDan></soap:Body>` +
    `</soap:Envelope>`;
  const signedXml = new SignedXml({
    privateKey: peerSigner.key,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    idMode: 'wssecurity',
    ...(signedInfoPrefixList ? { inclusiveNamespacesPrefixList: signedInfoPrefixList } : {}),
  });
  for (const reference of references) signedXml.addReference({ ...reference, digestAlgorithm: SHA256 });
  signedXml.computeSignature(envelope, { prefix: 'ds', location: { reference: "//*[local-name()='Security']", action: 'append' } });
  return signedXml.getSignedXml();
}

/**
 * A message signed by the pinned peer key (through xml-crypto) over the Body and a Timestamp whose
 * Created and Expires the test chooses (`undefined` leaves the element out), as a peer stack, or an
 * attacker holding the peer's key for a moment, could send it.
 */
function peerSignsTimestamp(created: Date | undefined, expires: Date | undefined): string {
  const times =
    (created ? `<wsu:Created>${created.toISOString()}</wsu:Created>` : '') + (expires ? `<wsu:Expires>${expires.toISOString()}</wsu:Expires>` : '');
  const envelope =
    `<soap:Envelope xmlns:soap="${SOAP11_NS}" xmlns:wsse="${WSSE_NS}" xmlns:wsu="${WSU_NS}" xmlns:qldc="${QLDC_NS}">` +
    `<soap:Header><wsse:Security soap:mustUnderstand="1"><wsu:Timestamp wsu:Id="ts-1">${times}</wsu:Timestamp></wsse:Security></soap:Header>` +
    `<soap:Body wsu:Id="body-1"><qldc:TraCuuCongDan><qldc:SoDinhDanh>${SO_DINH_DANH}</qldc:SoDinhDanh></qldc:TraCuuCongDan></soap:Body>` +
    `</soap:Envelope>`;
  const signedXml = new SignedXml({ privateKey: peerSigner.key, signatureAlgorithm: RSA_SHA256, canonicalizationAlgorithm: EXC_C14N, idMode: 'wssecurity' });
  signedXml.addReference({ xpath: "//*[local-name()='Body']", transforms: [EXC_C14N], digestAlgorithm: SHA256 });
  signedXml.addReference({ xpath: "//*[local-name()='Timestamp']", transforms: [EXC_C14N], digestAlgorithm: SHA256 });
  signedXml.computeSignature(envelope, { prefix: 'ds', location: { reference: "//*[local-name()='Security']", action: 'append' } });
  return signedXml.getSignedXml();
}

/**
 * Lets `change` edit SignedInfo, then signs SignedInfo again with `key` (the pinned peer key unless
 * told otherwise): the result carries a genuine signature over whatever SignedInfo now says.
 */
function resignSignedInfo(xml: string, change: (signedInfo: Element, doc: Document) => void, hash = 'sha256', key: KeyObject = peerSigner.key): string {
  return tamper(xml, (doc) => {
    const signedInfo = only(doc, DSIG_NS, 'SignedInfo');
    change(signedInfo, doc);
    const canonical = new SignedXml().getCanonXml([EXC_C14N], signedInfo);
    setText(only(doc, DSIG_NS, 'SignatureValue'), rsaSign(hash, Buffer.from(canonical), key).toString('base64'));
  });
}

function bodyReference(doc: Document): Element {
  const bodyId = only(doc, envelopeNs(doc), 'Body').getAttributeNS(WSU_NS, 'Id');
  const reference = Array.from(doc.getElementsByTagNameNS(DSIG_NS, 'Reference')).find((r) => r.getAttribute('URI') === `#${bodyId}`);
  expect(reference).toBeDefined();
  return reference!;
}

// ---------------------------------------------------------------------------------------------
// round trips
// ---------------------------------------------------------------------------------------------

describe('signSoapEnvelope → verifySoapEnvelope', () => {
  it('SOAP 1.1: verified by the pinned certificate, Body and Timestamp signed, the Vietnamese body reads back unchanged', () => {
    const xml = signedQuery('1.1');
    const result = verify(xml);
    expect(result.ok).toBe(true);
    expect(result.certificate.fingerprint256).toBe(peerCertificate.fingerprint256);

    const doc = parse(xml);
    const body = only(doc, SOAP11_NS, 'Body');
    const timestamp = only(doc, WSU_NS, 'Timestamp');
    expect(result.bodyId).toBe(body.getAttributeNS(WSU_NS, 'Id'));
    const security = only(doc, WSSE_NS, 'Security');
    expect(security.getAttributeNS(SOAP11_NS, 'mustUnderstand')).toBe('1');
    expect(timestamp.parentNode).toBe(security);
    expect(only(doc, WSSE_NS, 'BinarySecurityToken').textContent).toBe(peerCertificate.raw.toString('base64'));
    expect(only(doc, DSIG_NS, 'Signature').parentNode).toBe(security);
    expect(only(doc, DSIG_NS, 'SignatureMethod').getAttribute('Algorithm')).toBe(RSA_SHA256);
    expect(only(doc, DSIG_NS, 'CanonicalizationMethod').getAttribute('Algorithm')).toBe(EXC_C14N);
    const references = Array.from(doc.getElementsByTagNameNS(DSIG_NS, 'Reference')).map((r) => r.getAttribute('URI'));
    expect(references.sort()).toEqual([`#${result.bodyId}`, `#${timestamp.getAttributeNS(WSU_NS, 'Id')}`].sort());
    for (const digest of Array.from(doc.getElementsByTagNameNS(DSIG_NS, 'DigestMethod'))) expect(digest.getAttribute('Algorithm')).toBe(SHA256);

    const decoded = decodeSoap(xml);
    expect(decoded.version).toBe('1.1');
    expect(decoded.body.TraCuuCongDan).toMatchObject({ SoDinhDanh: SO_DINH_DANH, HoVaTen: HO_VA_TEN });
  });

  it('SOAP 1.2 with its own prefix, an existing header block and an empty wsse:Security to fill', () => {
    const envelope =
      `<?xml version="1.0" encoding="utf-8"?>` +
      `<S12:Envelope xmlns:S12="${SOAP12_NS}" xmlns:wsa="http://www.w3.org/2005/08/addressing">` +
      `<S12:Header><wsa:To>urn:lienthong:qldc</wsa:To><o:Security xmlns:o="${WSSE_NS}" S12:mustUnderstand="true"></o:Security></S12:Header>` +
      `<S12:Body><qldc:TraCuuCongDan xmlns:qldc="${QLDC_NS}"><qldc:SoDinhDanh>${SO_DINH_DANH}</qldc:SoDinhDanh><qldc:HoVaTen>${HO_VA_TEN}</qldc:HoVaTen></qldc:TraCuuCongDan></S12:Body>` +
      `</S12:Envelope>`;
    const xml = signSoapEnvelope(envelope, peerSigner);
    expect(verify(xml).ok).toBe(true);
    expect(xml).toContain('<o:BinarySecurityToken');
    const doc = parse(xml);
    expect(only(doc, WSSE_NS, 'Security').prefix).toBe('o');
    expect(only(doc, 'http://www.w3.org/2005/08/addressing', 'To').textContent).toBe('urn:lienthong:qldc');
    const decoded = decodeSoap(xml);
    expect(decoded.version).toBe('1.2');
    expect(decoded.body.TraCuuCongDan).toEqual({ SoDinhDanh: SO_DINH_DANH, HoVaTen: HO_VA_TEN });
  });

  it('SOAP 1.2 from encodeSoap, and an Envelope in the default namespace (no prefix)', () => {
    expect(verify(signedQuery('1.2')).ok).toBe(true);
    const unprefixed = `<Envelope xmlns="${SOAP12_NS}"><Body><qldc:SoDinhDanh xmlns:qldc="${QLDC_NS}">${SO_DINH_DANH}</qldc:SoDinhDanh></Body></Envelope>`;
    const xml = signSoapEnvelope(unprefixed, peerSigner);
    expect(verify(xml).ok).toBe(true);
    expect(only(parse(xml), WSSE_NS, 'Security').getAttributeNS(SOAP12_NS, 'mustUnderstand')).toBe('true');
    expect(decodeSoap(xml).body.SoDinhDanh).toBe(SO_DINH_DANH);
  });

  it('accepts the raw bytes, tries each pinned certificate in turn and says which one verified', () => {
    const pinned = [new X509Certificate(otherPeer.certPem), peerCertificate];
    const result = verifySoapEnvelope(Buffer.from(signedQuery()), { certificates: pinned });
    expect(result.certificate).toBe(pinned[1]);
  });

  it('never reads KeyInfo: swapping it for another certificate changes nothing', () => {
    const xml = tamper(signedQuery(), (doc) => {
      const keyInfo = only(doc, DSIG_NS, 'KeyInfo');
      while (keyInfo.firstChild) keyInfo.removeChild(keyInfo.firstChild);
      const data = doc.createElementNS(DSIG_NS, 'ds:X509Data');
      const certificate = doc.createElementNS(DSIG_NS, 'ds:X509Certificate');
      certificate.appendChild(doc.createTextNode(new X509Certificate(intruder.certPem).raw.toString('base64')));
      data.appendChild(certificate);
      keyInfo.appendChild(data);
    });
    expect(verify(xml).certificate.fingerprint256).toBe(peerCertificate.fingerprint256);
  });

  it('accepts InclusiveNamespaces PrefixLists on the references and SignedInfo, as WSS4J writes them', () => {
    const xml = peerSignsWithXmlCrypto(
      [{ xpath: "//*[local-name()='Body']", transforms: [EXC_C14N], inclusiveNamespacesPrefixList: ['qldc', 'wsse'] }],
      ['soap'],
    );
    expect(xml).toContain('PrefixList="qldc wsse"');
    expect(verify(xml, { requireTimestamp: false }).bodyId).toBe('body-1');
  });

  it('accepts an enveloped-signature transform before exclusive C14N', () => {
    const xml = peerSignsWithXmlCrypto([
      { xpath: "//*[local-name()='Body']", transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', EXC_C14N] },
    ]);
    expect(verify(xml, { requireTimestamp: false }).bodyId).toBe('body-1');
  });
});

// ---------------------------------------------------------------------------------------------
// tampering, time and keys
// ---------------------------------------------------------------------------------------------

describe('tampered, stale or foreign signatures', () => {
  it('a changed Body value fails', () => {
    const xml = tamper(signedQuery(), (doc) => setText(only(doc, QLDC_NS, 'SoDinhDanh'), FORGED_SO_DINH_DANH));
    expectRejected(xml, 'trust.signature-invalid', 'digest-mismatch');
  });

  it('a changed Timestamp fails', () => {
    const xml = tamper(signedQuery(), (doc) => setText(only(doc, WSU_NS, 'Expires'), new Date(Date.now() + 24 * 60 * MINUTE).toISOString()));
    expectRejected(xml, 'trust.signature-invalid', 'digest-mismatch');
  });

  it('an expired Timestamp fails; within the clock skew it is still accepted', () => {
    const xml = signedQuery('1.1', { now: new Date(Date.now() - 8 * MINUTE), timestampTtlSeconds: 300 }); // expired 3 minutes ago
    expectRejected(xml, 'trust.stale', 'timestamp-expired', { maxClockSkewSeconds: 60 });
    expect(verify(xml, { maxClockSkewSeconds: 300 }).ok).toBe(true);
    expectRejected(signedQuery('1.1', { now: new Date(Date.now() - 60 * MINUTE) }), 'trust.stale', 'timestamp-expired');
  });

  it('a Timestamp from the future fails', () => {
    expectRejected(signedQuery('1.1', { now: new Date(Date.now() + 20 * MINUTE) }), 'trust.stale', 'timestamp-future');
    const now = new Date('2026-03-08T08:00:00Z');
    expect(verify(signedQuery('1.2', { now }), { now }).ok).toBe(true);
  });

  it('a Timestamp created after now + skew fails; within the skew it is accepted', () => {
    const now = new Date('2026-03-08T08:00:00Z');
    const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);
    expectRejected(peerSignsTimestamp(at(301), at(400)), 'trust.stale', 'timestamp-future', { now });
    expect(verify(peerSignsTimestamp(at(300), at(400)), { now }).ok).toBe(true);
    expectRejected(peerSignsTimestamp(at(61), at(120)), 'trust.stale', 'timestamp-future', { now, maxClockSkewSeconds: 60 });
  });

  it('a signature by an unpinned key fails although its certificate rides in the BinarySecurityToken (CVE-2024-32962)', () => {
    const xml = signSoapEnvelope(citizenQuery('1.1'), intruderSigner);
    expect(only(parse(xml), WSSE_NS, 'BinarySecurityToken').textContent).toBe(new X509Certificate(intruder.certPem).raw.toString('base64'));
    expectRejected(xml, 'trust.signature-invalid', 'signature-mismatch');
  });

  it('… and also when the unpinned certificate is embedded in KeyInfo/X509Data', () => {
    const xml = tamper(signSoapEnvelope(citizenQuery('1.2'), intruderSigner), (doc) => {
      const keyInfo = only(doc, DSIG_NS, 'KeyInfo');
      while (keyInfo.firstChild) keyInfo.removeChild(keyInfo.firstChild);
      keyInfo.appendChild(
        new DOMParser().parseFromString(
          `<ds:X509Data xmlns:ds="${DSIG_NS}"><ds:X509Certificate>${new X509Certificate(intruder.certPem).raw.toString('base64')}</ds:X509Certificate></ds:X509Data>`,
          'text/xml',
        ).documentElement!,
      );
    });
    expectRejected(xml, 'trust.signature-invalid', 'signature-mismatch');
  });

  it('a SignedInfo re-signed by an unpinned key fails', () => {
    expectRejected(resignSignedInfo(signedQuery(), () => undefined, 'sha256', intruderSigner.key), 'trust.signature-invalid', 'signature-mismatch');
  });
});

// ---------------------------------------------------------------------------------------------
// signature wrapping
// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Timestamp lifetime: how long a captured message can be replayed
// ---------------------------------------------------------------------------------------------

describe('Timestamp lifetime bounds the replay window', () => {
  const now = new Date('2026-03-08T08:00:00Z');
  const at = (seconds: number) => new Date(now.getTime() + seconds * 1000);

  it('a Timestamp that expires in 2099 is refused now and in 2030 (the review finding)', () => {
    const xml = peerSignsTimestamp(now, new Date('2099-12-31T23:59:59Z'));
    expectRejected(xml, 'trust.stale', 'timestamp-lifetime', { now });
    expectRejected(xml, 'trust.stale', 'timestamp-stale', { now: new Date('2030-01-01T00:00:00Z') });
    // signed just now and verified with the real clock, as the pipeline calls the verifier (no `now`)
    expectRejected(peerSignsTimestamp(new Date(), new Date('2099-12-31T23:59:59Z')), 'trust.stale', 'timestamp-lifetime');
  });

  it('Expires − Created over the maximum lifetime (default 300 s) fails; up to it, it is accepted', () => {
    expect(verify(peerSignsTimestamp(now, at(300)), { now }).ok).toBe(true);
    expectRejected(peerSignsTimestamp(now, at(301)), 'trust.stale', 'timestamp-lifetime', { now });
    expectRejected(peerSignsTimestamp(at(-60), at(3540)), 'trust.stale', 'timestamp-lifetime', { now });
    // also the hub's own signer with a long timestampTtl: a verifier with the default refuses it
    expectRejected(signedQuery('1.1', { now, timestampTtlSeconds: 3600 }), 'trust.stale', 'timestamp-lifetime', { now });
  });

  it('the maximum lifetime is configurable', () => {
    const xml = peerSignsTimestamp(now, at(3600));
    expect(verify(xml, { now, maxTimestampLifetimeSeconds: 3600 }).ok).toBe(true);
    expectRejected(xml, 'trust.stale', 'timestamp-lifetime', { now, maxTimestampLifetimeSeconds: 3599 });
    expectRejected(peerSignsTimestamp(now, at(120)), 'trust.stale', 'timestamp-lifetime', { now, maxTimestampLifetimeSeconds: 60 });
  });

  it('Created older than the maximum lifetime + skew fails even when Expires is later', () => {
    expectRejected(peerSignsTimestamp(at(-20 * 60), at(60 * 60)), 'trust.stale', 'timestamp-stale', { now });
    expectRejected(peerSignsTimestamp(at(-661), at(60)), 'trust.stale', 'timestamp-stale', { now, maxClockSkewSeconds: 60, maxTimestampLifetimeSeconds: 600 });
    expect(verify(peerSignsTimestamp(at(-660), at(-60)), { now, maxClockSkewSeconds: 60, maxTimestampLifetimeSeconds: 600 }).ok).toBe(true);
    // the oldest Created accepted with the defaults: lifetime 300 s + skew 300 s
    expect(verify(peerSignsTimestamp(at(-600), at(-300)), { now }).ok).toBe(true);
    // one second older is expired as well: a Timestamp within the lifetime expires before it goes stale
    expectRejected(peerSignsTimestamp(at(-601), at(-301)), 'trust.stale', 'timestamp-expired', { now });
  });

  it('a signed Timestamp without Created or without Expires is malformed', () => {
    expectRejected(peerSignsTimestamp(undefined, at(300)), 'trust.signature-malformed', 'timestamp-format', { now });
    expectRejected(peerSignsTimestamp(now, undefined), 'trust.signature-malformed', 'timestamp-format', { now });
    expectRejected(peerSignsTimestamp(undefined, undefined), 'trust.signature-malformed', 'timestamp-format', { now });
    // requireTimestamp: false lets a message without a Timestamp through, not one with a bad Timestamp
    expectRejected(peerSignsTimestamp(now, undefined), 'trust.signature-malformed', 'timestamp-format', { now, requireTimestamp: false });
    expectRejected(peerSignsTimestamp(now, at(3600)), 'trust.stale', 'timestamp-lifetime', { now, requireTimestamp: false });
  });

  it('a maximum lifetime that is not a positive number of seconds up to a day is our configuration error', () => {
    const xml = peerSignsTimestamp(now, at(300));
    for (const maxTimestampLifetimeSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, 86_401]) {
      const error = rejection(() => verify(xml, { now, maxTimestampLifetimeSeconds }), 'server.trust-config', 'timestamp-lifetime');
      expect(error.status).toBe(500);
    }
    expect(verify(xml, { now, maxTimestampLifetimeSeconds: 86_400 }).ok).toBe(true);
  });
});

describe('signature wrapping', () => {
  it('the signed Body moved into a header wrapper and a forged Body inserted fails', () => {
    const xml = tamper(signedQuery(), (doc) => {
      const signedBody = only(doc, SOAP11_NS, 'Body');
      attackerWrapper(doc).appendChild(signedBody);
      doc.documentElement!.appendChild(forgedBody(doc));
    });
    expect(decodeSoap(xml).body.TraCuuCongDan).toEqual({ SoDinhDanh: FORGED_SO_DINH_DANH }); // what the hub would have read
    expectRejected(xml, 'trust.signature-wrapping', 'body-not-signed');
  });

  it('a forged Body carrying the signed Body’s wsu:Id (duplicate Id) fails', () => {
    const xml = tamper(signedQuery(), (doc) => {
      const signedBody = only(doc, SOAP11_NS, 'Body');
      const forged = forgedBody(doc);
      forged.setAttributeNS(XMLNS_NS, 'xmlns:wsu', WSU_NS);
      forged.setAttributeNS(WSU_NS, 'wsu:Id', signedBody.getAttributeNS(WSU_NS, 'Id')!);
      attackerWrapper(doc).appendChild(signedBody);
      doc.documentElement!.appendChild(forged);
    });
    expectRejected(xml, 'trust.signature-wrapping', 'duplicate-id');
  });

  it('a forged Body that takes the wsu:Id away from the moved original fails', () => {
    const xml = tamper(signedQuery(), (doc) => {
      const signedBody = only(doc, SOAP11_NS, 'Body');
      const id = signedBody.getAttributeNS(WSU_NS, 'Id')!;
      signedBody.removeAttributeNS(WSU_NS, 'Id');
      const forged = forgedBody(doc);
      forged.setAttributeNS(XMLNS_NS, 'xmlns:wsu', WSU_NS);
      forged.setAttributeNS(WSU_NS, 'wsu:Id', id);
      attackerWrapper(doc).appendChild(signedBody);
      doc.documentElement!.appendChild(forged);
    });
    expectRejected(xml, 'trust.signature-invalid', 'digest-mismatch');
  });

  it.each([
    ['an unqualified Id', (element: Element, id: string) => element.setAttribute('Id', id)],
    ['an ID in another namespace', (element: Element, id: string) => element.setAttributeNS('urn:attacker', 'att:ID', id)],
  ])('the Body’s id repeated as %s on a different element fails', (_label, addId) => {
    const xml = tamper(signedQuery(), (doc) => {
      const note = doc.createElementNS('urn:attacker', 'att:Note');
      addId(note, only(doc, SOAP11_NS, 'Body').getAttributeNS(WSU_NS, 'Id')!);
      attackerWrapper(doc).appendChild(note);
    });
    expectRejected(xml, 'trust.signature-wrapping', 'duplicate-id');
  });

  it('a second id attribute with the same value on the Body itself is ambiguous and fails', () => {
    const xml = tamper(signedQuery(), (doc) => {
      const body = only(doc, SOAP11_NS, 'Body');
      body.setAttribute('Id', body.getAttributeNS(WSU_NS, 'Id')!);
    });
    // two id attributes with the same value are as ambiguous as two elements: xml-crypto resolves either
    expectRejected(xml, 'trust.signature-wrapping', 'duplicate-id');
  });

  it('a second Body fails', () => {
    const xml = tamper(signedQuery('1.2'), (doc) => doc.documentElement!.appendChild(forgedBody(doc)));
    expectRejected(xml, 'trust.signature-wrapping', 'duplicate-body');
  });

  it('the signed Timestamp moved out and a fresh unsigned one put in its place fails', () => {
    const xml = tamper(signedQuery('1.1', { now: new Date(Date.now() - 60 * MINUTE) }), (doc) => {
      const signedTimestamp = only(doc, WSU_NS, 'Timestamp');
      const security = only(doc, WSSE_NS, 'Security');
      const fresh = signedTimestamp.cloneNode(true) as Element;
      fresh.setAttributeNS(WSU_NS, 'wsu:Id', 'TS-fresh');
      setText(fresh.getElementsByTagNameNS(WSU_NS, 'Created')[0]!, new Date().toISOString());
      setText(fresh.getElementsByTagNameNS(WSU_NS, 'Expires')[0]!, new Date(Date.now() + 5 * MINUTE).toISOString());
      attackerWrapper(doc).appendChild(signedTimestamp);
      security.insertBefore(fresh, security.firstChild);
    });
    expectRejected(xml, 'trust.signature-wrapping', 'timestamp-not-signed');
  });

  it('a second Security block fails', () => {
    const xml = tamper(signedQuery(), (doc) => only(doc, SOAP11_NS, 'Header').appendChild(doc.createElementNS(WSSE_NS, 'wsse:Security')));
    expectRejected(xml, 'trust.signature-wrapping', 'duplicate-security-header');
  });

  it.each([
    ['an XPointer', '#xpointer(/)'],
    ['an XPointer id()', "#xpointer(id('x'))"],
    ['an external', 'http://example.invalid/body.xml'],
    ['a cid:', 'cid:body@example.invalid'],
  ])('a Reference by %s URI fails, even when the pinned key signed it', (_label, uri) => {
    const xml = resignSignedInfo(signedQuery(), (signedInfo) => bodyReference(signedInfo.ownerDocument!).setAttribute('URI', uri));
    expectRejected(xml, 'trust.signature-wrapping', 'reference-uri');
  });

  it('a Reference to the whole document (URI="") fails, even when the pinned key signed it', () => {
    const xml = peerSignsWithXmlCrypto([{ xpath: '/*', transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', EXC_C14N], isEmptyUri: true }]);
    expect(xml).toContain('URI=""');
    expectRejected(xml, 'trust.signature-wrapping', 'reference-uri', { requireTimestamp: false });
  });

  it('an XPath filter transform fails, even when the pinned key signed it', () => {
    const xml = resignSignedInfo(signedQuery(), (_signedInfo, doc) => {
      const transforms = bodyReference(doc).getElementsByTagNameNS(DSIG_NS, 'Transforms')[0]!;
      const xpathTransform = doc.createElementNS(DSIG_NS, 'ds:Transform');
      xpathTransform.setAttribute('Algorithm', 'http://www.w3.org/TR/1999/REC-xpath-19991116');
      const expression = doc.createElementNS(DSIG_NS, 'ds:XPath');
      expression.appendChild(doc.createTextNode("ancestor-or-self::*[local-name()='Body']"));
      xpathTransform.appendChild(expression);
      transforms.insertBefore(xpathTransform, transforms.firstChild);
    });
    expectRejected(xml, 'trust.signature-wrapping', 'reference-transform');
  });

  it('an inclusive C14N transform fails, even when the pinned key signed it', () => {
    const xml = peerSignsWithXmlCrypto([{ xpath: "//*[local-name()='Body']", transforms: ['http://www.w3.org/TR/2001/REC-xml-c14n-20010315'] }]);
    expectRejected(xml, 'trust.signature-wrapping', 'reference-transform', { requireTimestamp: false });
  });

  it('a processing instruction that splits a signed value fails (it canonicalizes as text, the decoder drops it)', () => {
    const xml = tamper(signedQuery(), (doc) => {
      const element = only(doc, QLDC_NS, 'SoDinhDanh');
      setText(element, SO_DINH_DANH.slice(0, 4));
      element.appendChild(doc.createProcessingInstruction('x', SO_DINH_DANH.slice(4)));
    });
    expect((decodeSoap(xml).body.TraCuuCongDan as Record<string, unknown>).SoDinhDanh).not.toBe(SO_DINH_DANH);
    expectRejected(xml, 'trust.signature-malformed', 'xml-processing-instruction');
  });

  it('an "xmlns…" attribute, which canonicalization would leave unsigned, fails', () => {
    const xml = tamper(signedQuery(), (doc) => only(doc, QLDC_NS, 'SoDinhDanh').setAttribute('xmlnsFake', 'unsigned'));
    expectRejected(xml, 'trust.signature-malformed', 'xml-reserved-attribute');
  });
});

// ---------------------------------------------------------------------------------------------
// refused before any verification
// ---------------------------------------------------------------------------------------------

describe('missing, malformed and forbidden', () => {
  it('an unsigned envelope gives signature-missing', () => {
    expectRejected(citizenQuery('1.1'), 'trust.signature-missing', 'no-header');
    const withHeader = encodeSoap({ version: '1.2', body: { Ping: 'x' }, header: { 'wsa:To': { '@_xmlns:wsa': 'http://www.w3.org/2005/08/addressing', '#text': 'urn:x' } } });
    expectRejected(withHeader, 'trust.signature-missing', 'no-security-header');
    const emptySecurity = tamper(signedQuery(), (doc) => {
      const signature = only(doc, DSIG_NS, 'Signature');
      signature.parentNode!.removeChild(signature);
    });
    expectRejected(emptySecurity, 'trust.signature-missing', 'no-signature');
  });

  it('a Signature outside the Security block does not count', () => {
    const xml = tamper(signedQuery(), (doc) => attackerWrapper(doc).appendChild(only(doc, DSIG_NS, 'Signature')));
    expectRejected(xml, 'trust.signature-missing', 'no-signature');
  });

  it('two Signatures in the Security block are malformed', () => {
    const xml = tamper(signedQuery(), (doc) => {
      const signature = only(doc, DSIG_NS, 'Signature');
      signature.parentNode!.appendChild(signature.cloneNode(true));
    });
    expectRejected(xml, 'trust.signature-malformed', 'signature-count');
  });

  it('a Timestamp is required unless requireTimestamp is false', () => {
    const xml = peerSignsWithXmlCrypto([{ xpath: "//*[local-name()='Body']", transforms: [EXC_C14N] }]);
    expectRejected(xml, 'trust.signature-malformed', 'timestamp-missing');
    expect(verify(xml, { requireTimestamp: false })).toMatchObject({ ok: true, bodyId: 'body-1' });
  });

  it('RSA-SHA1, even when signed by the pinned key, is malformed', () => {
    const xml = resignSignedInfo(
      signedQuery(),
      (signedInfo) => signedInfo.getElementsByTagNameNS(DSIG_NS, 'SignatureMethod')[0]!.setAttribute('Algorithm', 'http://www.w3.org/2000/09/xmldsig#rsa-sha1'),
      'sha1',
    );
    expectRejected(xml, 'trust.signature-malformed', 'signature-method');
  });

  it('the unchanged SignedInfo re-signed by the pinned key still verifies (the re-signing helper is sound)', () => {
    expect(verify(resignSignedInfo(signedQuery(), () => undefined)).ok).toBe(true);
  });

  it('a DOCTYPE or ENTITY is refused before parsing, with client.xml-forbidden', () => {
    const xml = signedQuery();
    const withDoctype = xml.replace('?>', '?><!DOCTYPE soap:Envelope [<!ENTITY x "038095999901">]>');
    expectRejected(withDoctype, 'client.xml-forbidden', 'xml-doctype');
    expectRejected(Buffer.from(xml.replace('?>', '?><!ENTITY x SYSTEM "file:///etc/passwd">')), 'client.xml-forbidden', 'xml-doctype');
  });

  it('XML that is not well-formed, or not an Envelope, is malformed', () => {
    expectRejected(signedQuery().replace('</soap:Body>', ''), 'trust.signature-malformed', 'xml-parse');
    expectRejected('<qldc:SoDinhDanh xmlns:qldc="http://dancuquocgia.bca">038095999901</qldc:SoDinhDanh>', 'trust.signature-malformed', 'soap-envelope');
    expectRejected(Buffer.from([0x3c, 0x61, 0xff, 0x3e]), 'trust.signature-malformed', 'xml-encoding');
  });

  it('no pinned certificate is our configuration error, not the peer’s', () => {
    const error = rejection(() => verifySoapEnvelope(signedQuery(), { certificates: [] }), 'server.trust-config', 'pinned-certificates');
    expect(error.status).toBe(500);
  });
});

describe('signing refuses what it cannot sign', () => {
  it('a document that is not a SOAP envelope, an envelope already signed, a key that is not the certificate’s', () => {
    rejection(() => signSoapEnvelope('<a/>', peerSigner), 'trust.sign-failed', 'soap-envelope');
    rejection(() => signSoapEnvelope(signedQuery(), peerSigner), 'trust.sign-failed', 'already-signed');
    rejection(() => signSoapEnvelope(citizenQuery('1.1'), { key: peerSigner.key, certificatePem: intruder.certPem }), 'trust.sign-failed', 'signer-key');
  });
});
