/**
 * WS-Security (OASIS WSS 1.0/1.1) XML signatures for SOAP peers that require them (STACK.md §3,
 * "SOAP rules").
 *
 * Signing adds to the Header a `wsse:Security` block holding a `wsu:Timestamp`, a
 * `wsse:BinarySecurityToken` with our certificate, and an enveloped `ds:Signature` (RSA-SHA256,
 * SHA-256 digests, exclusive C14N) whose References name the Body and the Timestamp by `wsu:Id`.
 *
 * Verification believes nothing the message says about keys or about its own structure:
 *   1. DOCTYPE/ENTITY are refused before any parser sees the text; the text is parsed with xmldom,
 *      strictly (any parser warning rejects), never rebuilt from fast-xml-parser's object;
 *   2. the Envelope holds exactly one Body and at most one Header, with exactly one Security block
 *      holding exactly one Signature and at most one Timestamp; no processing instructions;
 *   3. SignedInfo may only use exclusive C14N and RSA-SHA256/512 with SHA-256/512 digests; every
 *      Reference is a bare `#id` whose transforms are enveloped-signature and exclusive C14N only;
 *   4. every referenced id sits on exactly one element, and those elements include *the* Body (child
 *      of the root Envelope) and *the* Timestamp (child of that Security block);
 *   5. xml-crypto checks the digests and the SignatureValue with each pinned certificate's key in
 *      turn; KeyInfo and BinarySecurityToken are never read (the CVE-2024-32962 trap);
 *   6. the bytes xml-crypto verified for the Body and the Timestamp must equal the canonical form of
 *      the Body and Timestamp found in step 4;
 *   7. the Timestamp's Created/Expires are checked against the clock, with skew: Created not in the
 *      future, Expires not past, Expires − Created not over the maximum lifetime (default 300 s, as
 *      WS-I BSP and common stacks), and Created not older than that lifetime, whatever Expires says.
 *      This bounds how long a captured message can be replayed (lifetime + 2 × skew at most); it does
 *      not stop a replay inside that window (no cache of seen signatures here).
 * Steps 2 to 4 run before any RSA work, so a malformed or wrapped message costs no verification.
 */
import { X509Certificate, randomUUID, type KeyObject } from 'node:crypto';
import { DOMParser, type Document, type Element, type Node } from '@xmldom/xmldom';
import { SignedXml, findAncestorNs } from 'xml-crypto';
import { SOAP11_NS, SOAP12_NS } from '../codec/soap.js';
import { XML_MAX_DEPTH, findExcessiveNesting } from '../codec/xml.js';
import { lineCol } from '../core/text.js';
import { HubError, isHubError } from '../core/errors.js';

export const WSSE_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
export const WSU_NS = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
export const DSIG_NS = 'http://www.w3.org/2000/09/xmldsig#';
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

const EXC_C14N = 'http://www.w3.org/2001/10/xml-exc-c14n#';
const ENVELOPED_SIGNATURE = 'http://www.w3.org/2000/09/xmldsig#enveloped-signature';
const RSA_SHA256 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256';
const RSA_SHA512 = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha512';
const SHA256 = 'http://www.w3.org/2001/04/xmlenc#sha256';
const SHA512 = 'http://www.w3.org/2001/04/xmlenc#sha512';
const X509_V3 = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3';
const BASE64_BINARY = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary';

const SIGNATURE_METHODS = new Set([RSA_SHA256, RSA_SHA512]);
const DIGEST_METHODS = new Set([SHA256, SHA512]);
const REFERENCE_TRANSFORMS = new Set([ENVELOPED_SIGNATURE, EXC_C14N]);
/** xml-crypto resolves a Reference through any attribute with one of these local names, in any namespace: we index them all. */
const ID_ATTRIBUTE_NAMES = new Set(['Id', 'ID', 'id']);
/** A same-document reference to an id. Also keeps quotes out of the XPath xml-crypto builds from it. */
const REFERENCE_URI = /^#([A-Za-z_][A-Za-z0-9_.-]{0,127})$/;
const NCNAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const MAX_REFERENCES = 16;
const XSD_DATE_TIME = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?(Z|[+-](0\d|1[0-4]):[0-5]\d)$/;

const DEFAULT_TIMESTAMP_TTL_SECONDS = 300;
const MAX_TIMESTAMP_TTL_SECONDS = 86_400;
const DEFAULT_MAX_CLOCK_SKEW_SECONDS = 300;
const DEFAULT_MAX_TIMESTAMP_LIFETIME_SECONDS = 300;

const ELEMENT_NODE = 1;
const PROCESSING_INSTRUCTION_NODE = 7;

type SoapVersion = '1.1' | '1.2';

export interface XmlSigner {
  key: KeyObject;
  certificatePem: string;
}

export interface SignSoapOptions {
  /** Lifetime of the Timestamp (Expires − Created); default 300 s. */
  timestampTtlSeconds?: number;
  now?: Date;
}

export interface VerifySoapOptions {
  /** The peer's pinned certificates: the only keys a signature is checked against. */
  certificates: X509Certificate[] | string[];
  now?: Date;
  /** Tolerance for the peer's clock on Created and Expires; default 300 s. */
  maxClockSkewSeconds?: number;
  /**
   * Longest Timestamp lifetime (Expires − Created) accepted, and the oldest Created accepted (this
   * plus the skew), so a signer cannot make a message replayable for long; default 300 s, at most
   * 86 400 s.
   */
  maxTimestampLifetimeSeconds?: number;
  /**
   * Default true: a Security block without a Timestamp is refused. A Timestamp that is present must be
   * signed, hold one Created and one Expires, and is always checked.
   */
  requireTimestamp?: boolean;
}

export interface VerifiedSoapEnvelope {
  ok: true;
  /** The pinned certificate whose key verified the signature. */
  certificate: X509Certificate;
  /** The id by which the signature covers the Envelope's Body. */
  bodyId: string;
}

// ---------------------------------------------------------------------------------------------
// errors
// ---------------------------------------------------------------------------------------------

type RejectionType = 'trust.signature-missing' | 'trust.signature-malformed' | 'trust.signature-invalid' | 'trust.signature-wrapping' | 'trust.stale';

const REJECTION_MESSAGES: Record<RejectionType, string> = {
  'trust.signature-missing': 'Thiếu chữ ký WS-Security / WS-Security signature missing',
  'trust.signature-malformed': 'Chữ ký WS-Security sai cấu trúc / malformed WS-Security signature',
  'trust.signature-invalid': 'Chữ ký WS-Security không hợp lệ / invalid WS-Security signature',
  'trust.signature-wrapping': 'Chữ ký WS-Security không bao phủ nội dung được đọc / the WS-Security signature does not cover what is read',
  'trust.stale': 'Dấu thời gian WS-Security đã hết hạn, ở tương lai hoặc có thời hạn quá dài / WS-Security timestamp expired, in the future or too long-lived',
};

/** Reasons name elements and rules only: ids and values in the message are attacker-chosen or personal data. */
function rejection(type: RejectionType, reason: string, code: string): HubError {
  return new HubError(type, `${REJECTION_MESSAGES[type]}: ${reason}`, { status: 401, detail: [{ reason, code }] });
}
const missing = (reason: string, code: string) => rejection('trust.signature-missing', reason, code);
const malformed = (reason: string, code: string) => rejection('trust.signature-malformed', reason, code);
const invalid = (reason: string, code: string) => rejection('trust.signature-invalid', reason, code);
const wrapping = (reason: string, code: string) => rejection('trust.signature-wrapping', reason, code);
const stale = (reason: string, code: string) => rejection('trust.stale', reason, code);

/** Our own configuration is wrong (no or unreadable pinned certificates, a bad time limit): not the peer's fault. */
function trustConfigError(reason: string, cause?: unknown, code = 'pinned-certificates'): HubError {
  return new HubError('server.trust-config', `Cấu hình tin cậy không hợp lệ / invalid trust configuration: ${reason}`, {
    status: 500,
    detail: [{ reason, code }],
    cause,
  });
}

/** The envelope to sign is ours, so a failure is the hub's bug or misconfiguration. */
function signingError(reason: string, code: string, cause?: unknown): HubError {
  return new HubError('trust.sign-failed', `Không ký được thông điệp SOAP / cannot sign the SOAP message: ${reason}`, {
    status: 500,
    detail: [{ reason, code }],
    cause,
  });
}

// ---------------------------------------------------------------------------------------------
// signing
// ---------------------------------------------------------------------------------------------

export function signSoapEnvelope(xml: string, signer: XmlSigner, options: SignSoapOptions = {}): string {
  const now = options.now ?? new Date();
  const ttlSeconds = options.timestampTtlSeconds ?? DEFAULT_TIMESTAMP_TTL_SECONDS;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TIMESTAMP_TTL_SECONDS) {
    throw signingError(`timestampTtlSeconds must be more than 0 and at most ${MAX_TIMESTAMP_TTL_SECONDS}`, 'timestamp-ttl');
  }
  const certificate = signerCertificate(signer);
  const { doc, envelope } = envelopeToSign(xml);

  const security = securityBlockToFill(doc, envelope);
  ensureWsuId(envelope.body, 'id'); // xml-crypto names the Body in its Reference by this wsu:Id
  const timestamp = createTimestamp(doc, security, now, ttlSeconds);
  const token = createBinarySecurityToken(doc, security, certificate);
  security.insertBefore(timestamp.element, security.firstChild);
  security.insertBefore(token.element, timestamp.element.nextSibling);

  const signedXml = new SignedXml({
    privateKey: signer.key,
    signatureAlgorithm: RSA_SHA256,
    canonicalizationAlgorithm: EXC_C14N,
    idMode: 'wssecurity',
    // WSS X.509 token profile: KeyInfo points at the BinarySecurityToken rather than repeating the certificate
    getKeyInfoContent: () =>
      `<wsse:SecurityTokenReference xmlns:wsse="${WSSE_NS}"><wsse:Reference URI="#${token.id}" ValueType="${X509_V3}"/></wsse:SecurityTokenReference>`,
  });
  // structural XPaths, not id lookups: they select exactly the Body and Timestamp located above
  signedXml.addReference({ xpath: bodyXPath(envelope.ns), transforms: [EXC_C14N], digestAlgorithm: SHA256 });
  signedXml.addReference({ xpath: timestampXPath(envelope.ns), transforms: [EXC_C14N], digestAlgorithm: SHA256 });
  try {
    signedXml.computeSignature(doc.toString(), { prefix: 'ds', location: { reference: securityXPath(envelope.ns), action: 'append' } });
  } catch (error) {
    throw signingError('xml-crypto could not compute the signature', 'sign', error);
  }
  return signedXml.getSignedXml();
}

function signerCertificate(signer: XmlSigner): X509Certificate {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(signer.certificatePem);
  } catch (error) {
    throw signingError('the signer certificate cannot be read (expected PEM "BEGIN CERTIFICATE")', 'signer-certificate', error);
  }
  if (signer.key?.type !== 'private' || signer.key.asymmetricKeyType !== 'rsa') {
    throw signingError('the signing key must be an RSA private key (RSA-SHA256)', 'signer-key');
  }
  if (!certificate.checkPrivateKey(signer.key)) throw signingError('the signing key does not belong to the signer certificate', 'signer-key');
  return certificate;
}

function envelopeToSign(xml: string): { doc: Document; envelope: Envelope } {
  try {
    const doc = parseStrictly(withoutBom(xml));
    inspectNodes(doc);
    return { doc, envelope: readEnvelope(doc) };
  } catch (error) {
    const detail = isHubError(error) ? error.detail[0] : undefined;
    throw signingError(detail?.reason ?? 'the envelope cannot be read', detail?.code ?? 'xml-parse', error);
  }
}

/** The Header's Security block (created, with the Header, when absent); it must not hold a Signature or Timestamp yet. */
function securityBlockToFill(doc: Document, envelope: Envelope): Element {
  let header = envelope.header;
  if (!header) {
    header = doc.createElementNS(envelope.ns, qualified(envelope.root.prefix, 'Header'));
    envelope.root.insertBefore(header, envelope.body);
  }
  const blocks = childElements(header, WSSE_NS, 'Security');
  if (blocks.length > 1) throw signingError('the Header holds more than one wsse:Security block', 'security-header');
  const existing = blocks[0];
  if (existing) {
    if (childElements(existing, DSIG_NS, 'Signature').length > 0) throw signingError('the envelope is already signed', 'already-signed');
    if (childElements(existing, WSU_NS, 'Timestamp').length > 0) throw signingError('the Security block already holds a Timestamp', 'timestamp-present');
    return existing;
  }
  // the new block declares the namespaces it uses itself, so the Header is left as it was
  const boundWsse = boundPrefix(header, WSSE_NS);
  const wsse = boundWsse ?? unusedPrefix(header, 'wsse');
  const security = doc.createElementNS(WSSE_NS, `${wsse}:Security`);
  if (boundWsse === undefined) security.setAttributeNS(XMLNS_NS, `xmlns:${wsse}`, WSSE_NS);
  header.appendChild(security);
  const soap = prefixFor(security, envelope.ns, 'soapenv');
  security.setAttributeNS(envelope.ns, `${soap}:mustUnderstand`, envelope.version === '1.1' ? '1' : 'true');
  return security;
}

/** The element's wsu:Id, added when it has none. */
function ensureWsuId(element: Element, kind: string): string {
  const existing = element.getAttributeNS(WSU_NS, 'Id');
  if (existing) return existing;
  const id = `${kind}-${randomUUID()}`;
  element.setAttributeNS(WSU_NS, `${prefixFor(element, WSU_NS, 'wsu')}:Id`, id);
  return id;
}

function createTimestamp(doc: Document, security: Element, now: Date, ttlSeconds: number): { element: Element; id: string } {
  const wsu = prefixFor(security, WSU_NS, 'wsu');
  const id = `TS-${randomUUID()}`;
  const element = doc.createElementNS(WSU_NS, `${wsu}:Timestamp`);
  element.setAttributeNS(WSU_NS, `${wsu}:Id`, id);
  const created = doc.createElementNS(WSU_NS, `${wsu}:Created`);
  created.appendChild(doc.createTextNode(now.toISOString()));
  const expires = doc.createElementNS(WSU_NS, `${wsu}:Expires`);
  expires.appendChild(doc.createTextNode(new Date(now.getTime() + ttlSeconds * 1000).toISOString()));
  element.appendChild(created);
  element.appendChild(expires);
  return { element, id };
}

function createBinarySecurityToken(doc: Document, security: Element, certificate: X509Certificate): { element: Element; id: string } {
  const wsse = prefixFor(security, WSSE_NS, 'wsse');
  const wsu = prefixFor(security, WSU_NS, 'wsu');
  const id = `X509-${randomUUID()}`;
  const element = doc.createElementNS(WSSE_NS, `${wsse}:BinarySecurityToken`);
  element.setAttribute('EncodingType', BASE64_BINARY);
  element.setAttribute('ValueType', X509_V3);
  element.setAttributeNS(WSU_NS, `${wsu}:Id`, id);
  element.appendChild(doc.createTextNode(certificate.raw.toString('base64')));
  return { element, id };
}

/** A non-empty prefix bound to `ns` where `element` sits; declares `preferred` (or a numbered variant) on it when there is none. */
function prefixFor(element: Element, ns: string, preferred: string): string {
  const bound = boundPrefix(element, ns);
  if (bound !== undefined) return bound;
  const prefix = unusedPrefix(element, preferred);
  element.setAttributeNS(XMLNS_NS, `xmlns:${prefix}`, ns);
  return prefix;
}

function boundPrefix(element: Element, ns: string): string | undefined {
  for (const [prefix, uri] of namespacesInScope(element)) if (prefix !== '' && uri === ns) return prefix;
  return undefined;
}

/** `preferred`, or `preferred2`, `preferred3`…: the first that is not declared where `element` sits. */
function unusedPrefix(element: Element, preferred: string): string {
  const scope = namespacesInScope(element);
  let prefix = preferred;
  for (let n = 2; scope.has(prefix); n++) prefix = `${preferred}${n}`;
  return prefix;
}

/** prefix → namespace for the declarations visible at `element`, nearest first ('' is the default namespace). */
function namespacesInScope(element: Element): Map<string, string> {
  const scope = new Map<string, string>();
  for (let node: Node | null = element; node !== null && node.nodeType === ELEMENT_NODE; node = node.parentNode) {
    for (const attr of (node as Element).attributes) {
      if (attr.namespaceURI !== XMLNS_NS) continue;
      const prefix = attr.prefix === 'xmlns' ? (attr.localName ?? '') : '';
      if (!scope.has(prefix)) scope.set(prefix, attr.value);
    }
  }
  return scope;
}

function qualified(prefix: string | null, local: string): string {
  return prefix ? `${prefix}:${local}` : local;
}

const step = (ns: string, local: string) => `*[local-name()='${local}' and namespace-uri()='${ns}']`;
const bodyXPath = (soapNs: string) => `/${step(soapNs, 'Envelope')}/${step(soapNs, 'Body')}`;
const securityXPath = (soapNs: string) => `/${step(soapNs, 'Envelope')}/${step(soapNs, 'Header')}/${step(WSSE_NS, 'Security')}`;
const timestampXPath = (soapNs: string) => `${securityXPath(soapNs)}/${step(WSU_NS, 'Timestamp')}`;

// ---------------------------------------------------------------------------------------------
// verification
// ---------------------------------------------------------------------------------------------

export function verifySoapEnvelope(xml: string | Buffer, options: VerifySoapOptions): VerifiedSoapEnvelope {
  const pinned = pinnedCertificates(options.certificates);
  const now = (options.now ?? new Date()).getTime();
  const skewSeconds = options.maxClockSkewSeconds ?? DEFAULT_MAX_CLOCK_SKEW_SECONDS;
  if (!Number.isFinite(skewSeconds) || skewSeconds < 0) throw trustConfigError('maxClockSkewSeconds must be a number of seconds, 0 or more', undefined, 'clock-skew');
  const lifetimeSeconds = options.maxTimestampLifetimeSeconds ?? DEFAULT_MAX_TIMESTAMP_LIFETIME_SECONDS;
  if (!Number.isFinite(lifetimeSeconds) || lifetimeSeconds <= 0 || lifetimeSeconds > MAX_TIMESTAMP_TTL_SECONDS) {
    throw trustConfigError(`maxTimestampLifetimeSeconds must be more than 0 and at most ${MAX_TIMESTAMP_TTL_SECONDS}`, undefined, 'timestamp-lifetime');
  }

  const text = messageText(xml);
  const doc = parseStrictly(text);
  const ids = inspectNodes(doc);
  const envelope = readEnvelope(doc);
  const security = readSecurityBlock(envelope);
  if (!security.timestamp && (options.requireTimestamp ?? true)) {
    throw malformed('the wsse:Security block has no wsu:Timestamp', 'timestamp-missing');
  }
  const references = readSignedInfo(security.signature);
  const covered = checkCoverage(references, ids, envelope.body, security.timestamp);

  const { certificate, signedXml } = verifyWithPinnedKeys(text, security.signature, pinned);
  const read: ReadElement[] = [{ reference: covered.body, element: envelope.body, xpath: bodyXPath(envelope.ns) }];
  if (covered.timestamp && security.timestamp) read.push({ reference: covered.timestamp, element: security.timestamp, xpath: timestampXPath(envelope.ns) });
  checkSignedBytes(signedXml, doc, references.length, read);
  if (security.timestamp) checkTimestamp(security.timestamp, now, skewSeconds * 1000, lifetimeSeconds * 1000);
  return { ok: true, certificate, bodyId: covered.body.id };
}

function pinnedCertificates(certificates: readonly (X509Certificate | string)[]): X509Certificate[] {
  if (!Array.isArray(certificates) || certificates.length === 0) throw trustConfigError('no pinned certificate is configured for this peer');
  return certificates.map((certificate) => {
    if (certificate instanceof X509Certificate) return certificate;
    try {
      return new X509Certificate(certificate);
    } catch (error) {
      throw trustConfigError('a pinned certificate cannot be read (expected PEM "BEGIN CERTIFICATE")', error);
    }
  });
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function messageText(xml: string | Buffer): string {
  if (typeof xml === 'string') return withoutBom(xml);
  try {
    return UTF8.decode(xml); // drops a BOM
  } catch {
    throw malformed('the message is not valid UTF-8', 'xml-encoding');
  }
}

function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

// One parser per process: like src/codec/xml.ts's, it keeps no state between documents.
const strictParser = new DOMParser({
  onError: () => {
    throw new Error('not well-formed'); // any warning or error stops parsing
  },
});

/** DOCTYPE/ENTITY refused before parsing (as src/codec/xml.ts does), then xmldom with every warning fatal. */
function parseStrictly(text: string): Document {
  const dtd = /<!(DOCTYPE|ENTITY)/i.exec(text);
  if (dtd) {
    const { line, col } = lineCol(text, dtd.index);
    throw new HubError('client.xml-forbidden', `XML không được chứa DTD / DOCTYPE and ENTITY declarations are not allowed (line ${line}, column ${col})`, {
      status: 400,
      detail: [{ reason: 'DOCTYPE/ENTITY declarations are forbidden (no DTD, no external entities)', code: 'xml-doctype' }],
    });
  }
  if (findExcessiveNesting(text, XML_MAX_DEPTH) >= 0) throw malformed(`element nesting deeper than ${XML_MAX_DEPTH}`, 'xml-depth');
  try {
    return strictParser.parseFromString(text, 'text/xml');
  } catch {
    // xmldom's messages can quote the input: never pass them on
    throw malformed('the message is not well-formed, namespace-correct XML', 'xml-parse');
  }
}

/**
 * One pass over every node. Refuses processing instructions (SOAP forbids them, and xml-crypto's
 * canonicalizer renders a PI's data as text, so a value split by a PI would be signed as one value
 * and read by the hub's decoder as another) and attribute names that start with "xmlns" without
 * being namespace declarations (the canonicalizer drops them, so they would ride along unsigned).
 * Returns every id-like attribute value with the elements that carry it, once per attribute.
 */
function inspectNodes(doc: Document): Map<string, Element[]> {
  const ids = new Map<string, Element[]>();
  const pending: Node[] = [];
  for (let child = doc.firstChild; child !== null; child = child.nextSibling) {
    const isXmlDeclaration = child.nodeType === PROCESSING_INSTRUCTION_NODE && child.nodeName === 'xml' && child === doc.firstChild;
    if (!isXmlDeclaration) pending.push(child);
  }
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE) throw malformed('SOAP messages must not contain processing instructions', 'xml-processing-instruction');
    if (node.nodeType !== ELEMENT_NODE) continue;
    const element = node as Element;
    for (const attr of element.attributes) {
      if (attr.namespaceURI === XMLNS_NS) continue;
      if (attr.name.startsWith('xmlns')) throw malformed('attribute names starting with "xmlns" are reserved', 'xml-reserved-attribute');
      if (!ID_ATTRIBUTE_NAMES.has(attr.localName ?? attr.name)) continue;
      const holders = ids.get(attr.value);
      if (holders) holders.push(element);
      else ids.set(attr.value, [element]);
    }
    for (let child = element.firstChild; child !== null; child = child.nextSibling) pending.push(child);
  }
  return ids;
}

interface Envelope {
  root: Element;
  version: SoapVersion;
  ns: string;
  header: Element | undefined;
  body: Element;
}

function readEnvelope(doc: Document): Envelope {
  const root = doc.documentElement;
  const ns = root?.namespaceURI;
  if (!root || root.localName !== 'Envelope' || (ns !== SOAP11_NS && ns !== SOAP12_NS)) {
    throw malformed('the root element must be a SOAP 1.1 or 1.2 Envelope', 'soap-envelope');
  }
  const children = elementChildren(root);
  const headers = children.filter((child) => is(child, ns, 'Header'));
  const bodies = children.filter((child) => is(child, ns, 'Body'));
  if (bodies.length > 1) throw wrapping('the Envelope holds more than one Body', 'duplicate-body');
  if (headers.length > 1) throw wrapping('the Envelope holds more than one Header', 'duplicate-header');
  const body = bodies[0];
  if (!body) throw malformed('the Envelope has no Body', 'soap-structure');
  const header = headers[0];
  const expected = header ? [header, body] : [body];
  if (children.length !== expected.length || children.some((child, i) => child !== expected[i])) {
    throw malformed('the Envelope may hold only an optional Header followed by the Body', 'soap-structure');
  }
  return { root, version: ns === SOAP11_NS ? '1.1' : '1.2', ns, header, body };
}

interface SecurityBlock {
  signature: Element;
  timestamp: Element | undefined;
}

function readSecurityBlock(envelope: Envelope): SecurityBlock {
  if (!envelope.header) throw missing('the Envelope has no Header', 'no-header');
  const blocks = childElements(envelope.header, WSSE_NS, 'Security');
  if (blocks.length === 0) throw missing('the Header has no wsse:Security block', 'no-security-header');
  if (blocks.length > 1) throw wrapping('the Header holds more than one wsse:Security block', 'duplicate-security-header');
  const security = blocks[0]!;
  const signatures = childElements(security, DSIG_NS, 'Signature');
  if (signatures.length === 0) throw missing('the wsse:Security block holds no ds:Signature', 'no-signature');
  if (signatures.length > 1) throw malformed('the wsse:Security block holds more than one ds:Signature', 'signature-count');
  const timestamps = childElements(security, WSU_NS, 'Timestamp');
  if (timestamps.length > 1) throw wrapping('the wsse:Security block holds more than one wsu:Timestamp', 'duplicate-timestamp');
  return { signature: signatures[0]!, timestamp: timestamps[0] };
}

interface SignedReference {
  /** Position among SignedInfo's References, which is also its position in getSignedReferences(). */
  index: number;
  id: string;
  transforms: string[];
  inclusivePrefixes: string[];
}

/** The References of SignedInfo, after checking that the Signature uses only what we allow. */
function readSignedInfo(signature: Element): SignedReference[] {
  const [signedInfo, signatureValue, keyInfo, ...extra] = elementChildren(signature);
  if (!is(signedInfo, DSIG_NS, 'SignedInfo') || !is(signatureValue, DSIG_NS, 'SignatureValue') || (keyInfo && !is(keyInfo, DSIG_NS, 'KeyInfo')) || extra.length > 0) {
    throw malformed('ds:Signature must hold SignedInfo, SignatureValue and an optional KeyInfo, in that order', 'signature-structure');
  }
  if (elementChildren(signatureValue).length > 0 || !/^[A-Za-z0-9+/=\s]+$/.test(signatureValue.textContent ?? '')) {
    throw malformed('SignatureValue must be base64 text', 'signature-value');
  }
  const [canonicalization, signatureMethod, ...references] = elementChildren(signedInfo);
  if (!is(canonicalization, DSIG_NS, 'CanonicalizationMethod') || !is(signatureMethod, DSIG_NS, 'SignatureMethod')) {
    throw malformed('SignedInfo must start with CanonicalizationMethod and SignatureMethod', 'signed-info');
  }
  if (canonicalization.getAttribute('Algorithm') !== EXC_C14N || inclusivePrefixesOf(canonicalization) === undefined) {
    throw malformed('SignedInfo must be canonicalized with exclusive C14N (without comments)', 'canonicalization-method');
  }
  if (!SIGNATURE_METHODS.has(signatureMethod.getAttribute('Algorithm') ?? '') || elementChildren(signatureMethod).length > 0) {
    throw malformed('the signature method must be RSA-SHA256 or RSA-SHA512', 'signature-method');
  }
  if (references.length === 0 || references.length > MAX_REFERENCES) {
    throw malformed(`SignedInfo must hold 1 to ${MAX_REFERENCES} References`, 'signed-info');
  }
  return references.map((reference, index) => readReference(reference, index));
}

function readReference(reference: Element, index: number): SignedReference {
  if (!is(reference, DSIG_NS, 'Reference')) throw malformed('after SignatureMethod, SignedInfo may hold only References', 'signed-info');
  const uri = REFERENCE_URI.exec(reference.getAttribute('URI') ?? '');
  if (!uri) throw wrapping('every Reference URI must be a same-document "#id" (no empty, XPointer or external URI)', 'reference-uri');
  const [transformList, digestMethod, digestValue, ...extra] = elementChildren(reference);
  if (!is(transformList, DSIG_NS, 'Transforms')) {
    throw wrapping('every Reference must list its transforms, ending with exclusive C14N', 'reference-transform');
  }
  if (!is(digestMethod, DSIG_NS, 'DigestMethod') || !is(digestValue, DSIG_NS, 'DigestValue') || extra.length > 0) {
    throw malformed('a Reference must hold Transforms, DigestMethod and DigestValue, in that order', 'reference-structure');
  }
  if (!DIGEST_METHODS.has(digestMethod.getAttribute('Algorithm') ?? '') || elementChildren(digestMethod).length > 0) {
    throw malformed('the digest method must be SHA-256 or SHA-512', 'digest-method');
  }

  const transformElements = elementChildren(transformList);
  const transforms = transformElements.map((t) => (is(t, DSIG_NS, 'Transform') ? (t.getAttribute('Algorithm') ?? '') : ''));
  const last = transformElements[transformElements.length - 1];
  const inclusivePrefixes = last ? inclusivePrefixesOf(last) : undefined;
  if (!transformsAllowed(transforms, transformElements) || inclusivePrefixes === undefined) {
    throw wrapping('Reference transforms may only be enveloped-signature and exclusive C14N, ending with exclusive C14N', 'reference-transform');
  }
  return { index, id: uri[1]!, transforms, inclusivePrefixes };
}

/** Each allowed transform at most once, exclusive C14N last, and no parameters but the last one's PrefixList. */
function transformsAllowed(transforms: string[], transformElements: Element[]): boolean {
  return (
    transforms.length >= 1 &&
    transforms.every((algorithm) => REFERENCE_TRANSFORMS.has(algorithm)) &&
    new Set(transforms).size === transforms.length &&
    transforms[transforms.length - 1] === EXC_C14N &&
    transformElements.slice(0, -1).every((t) => elementChildren(t).length === 0)
  );
}

/** The PrefixList of an exclusive C14N method or transform; undefined when it holds anything but one InclusiveNamespaces. */
function inclusivePrefixesOf(element: Element): string[] | undefined {
  const children = elementChildren(element);
  if (children.length === 0) return [];
  const only = children[0];
  if (children.length > 1 || !is(only, EXC_C14N, 'InclusiveNamespaces') || elementChildren(only).length > 0) return undefined;
  const prefixes = (only.getAttribute('PrefixList') ?? '').split(/\s+/).filter((prefix) => prefix !== '');
  return prefixes.every((prefix) => NCNAME.test(prefix)) ? prefixes : undefined;
}

/**
 * The defence against signature wrapping: each referenced id must name exactly one element of the
 * document, and the References must reach the very Body and Timestamp the hub reads.
 */
function checkCoverage(
  references: SignedReference[],
  ids: Map<string, Element[]>,
  body: Element,
  timestamp: Element | undefined,
): { body: SignedReference; timestamp: SignedReference | undefined } {
  let bodyReference: SignedReference | undefined;
  let timestampReference: SignedReference | undefined;
  const seen = new Set<string>();
  for (const reference of references) {
    if (seen.has(reference.id)) throw wrapping('two References name the same id', 'duplicate-reference');
    seen.add(reference.id);
    const holders = ids.get(reference.id) ?? [];
    if (holders.length === 0) throw wrapping('a Reference names an id that no element carries', 'reference-unresolved');
    if (holders.length > 1) throw wrapping('a referenced id is carried by more than one element or attribute', 'duplicate-id');
    if (holders[0] === body) bodyReference = reference;
    if (holders[0] === timestamp) timestampReference = reference;
  }
  if (!bodyReference) throw wrapping('no Reference covers the Body of the Envelope', 'body-not-signed');
  if (timestamp && !timestampReference) throw wrapping('no Reference covers the Timestamp of the Security block', 'timestamp-not-signed');
  return { body: bodyReference, timestamp: timestampReference };
}

function verifyWithPinnedKeys(text: string, signature: Element, pinned: X509Certificate[]): { certificate: X509Certificate; signedXml: SignedXml } {
  for (const certificate of pinned) {
    // The key comes from the pinned certificate only; KeyInfo is never asked (CVE-2024-32962).
    const signedXml = new SignedXml({ publicCert: certificate.publicKey, getCertFromKeyInfo: () => null });
    let valid: boolean;
    try {
      signedXml.loadSignature(signature);
      valid = signedXml.checkSignature(text);
    } catch {
      // xml-crypto throws when the SignatureValue does not verify with this key, or the key cannot do RSA
      continue;
    }
    // false means a digest did not match: that does not depend on the key, so no other key can help
    if (!valid) throw invalid('a signed element does not match its digest', 'digest-mismatch');
    return { certificate, signedXml };
  }
  throw invalid('the signature does not verify with any pinned certificate', 'signature-mismatch');
}

interface ReadElement {
  reference: SignedReference;
  element: Element;
  /** Selects `element` structurally; xml-crypto needs it to find the ancestor namespaces a PrefixList names. */
  xpath: string;
}

/**
 * xml-crypto re-parses the text with its own xmldom (0.8, ours is 0.9) and resolves ids itself. Comparing
 * the bytes it verified with the canonical form of the elements we located ties the signature to our
 * tree, whatever the two parsers might disagree on.
 */
function checkSignedBytes(
  signedXml: SignedXml,
  doc: Document,
  referenceCount: number,
  read: ReadElement[],
): void {
  const signedBytes = signedXml.getSignedReferences();
  if (signedBytes.length !== referenceCount) throw wrapping('the verified References differ from the ones read', 'signed-content-mismatch');
  for (const { reference, element, xpath } of read) {
    // exclusive C14N needs ancestor namespaces only for the prefixes its PrefixList names
    const ancestorNamespaces = reference.inclusivePrefixes.length > 0 ? findAncestorNs(doc, xpath) : [];
    const ours = signedXml.getCanonXml(reference.transforms, element, {
      inclusiveNamespacesPrefixList: reference.inclusivePrefixes,
      ancestorNamespaces,
    });
    if (ours !== signedBytes[reference.index]) throw wrapping('the signed bytes differ from the element that is read', 'signed-content-mismatch');
  }
}

/**
 * The order decides which code a Timestamp that breaks several rules gets: an old, long-lived one is
 * `timestamp-stale`, a fresh long-lived one `timestamp-lifetime`. Given the lifetime rule, a stale
 * Created would also be expired; the stale rule is kept on its own so it holds even if the lifetime
 * rule changes.
 */
function checkTimestamp(timestamp: Element, nowMs: number, skewMs: number, maxLifetimeMs: number): void {
  const created = timestampTime(timestamp, 'Created');
  const expires = timestampTime(timestamp, 'Expires');
  if (expires < created) throw malformed('the Timestamp expires before it was created', 'timestamp-order');
  if (created - skewMs > nowMs) throw stale('the Timestamp was created in the future, beyond the allowed clock skew', 'timestamp-future');
  if (expires + skewMs < nowMs) throw stale('the Timestamp has expired', 'timestamp-expired');
  if (created + maxLifetimeMs + skewMs < nowMs) throw stale('the Timestamp was created longer ago than the maximum lifetime and clock skew allow', 'timestamp-stale');
  if (expires - created > maxLifetimeMs) throw stale('the Timestamp lifetime (Expires minus Created) is longer than the maximum allowed', 'timestamp-lifetime');
}

function timestampTime(timestamp: Element, local: 'Created' | 'Expires'): number {
  const elements = childElements(timestamp, WSU_NS, local);
  const element = elements[0];
  if (elements.length !== 1 || !element || elementChildren(element).length > 0) {
    throw malformed(`the Timestamp must hold exactly one wsu:${local}`, 'timestamp-format');
  }
  const text = (element.textContent ?? '').trim();
  const time = XSD_DATE_TIME.test(text) ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(time)) throw malformed(`wsu:${local} must be an xsd:dateTime with a time zone`, 'timestamp-format');
  return time;
}

// ---------------------------------------------------------------------------------------------
// DOM helpers
// ---------------------------------------------------------------------------------------------

function elementChildren(element: Element): Element[] {
  const children: Element[] = [];
  for (let child = element.firstChild; child !== null; child = child.nextSibling) {
    if (child.nodeType === ELEMENT_NODE) children.push(child as Element);
  }
  return children;
}

function childElements(element: Element, ns: string, local: string): Element[] {
  return elementChildren(element).filter((child) => is(child, ns, local));
}

function is(element: Element | undefined, ns: string, local: string): element is Element {
  return element !== undefined && element.localName === local && element.namespaceURI === ns;
}
