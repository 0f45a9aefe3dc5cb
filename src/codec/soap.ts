/**
 * SOAP 1.1 / 1.2 envelopes <-> plain objects.
 *
 * Decoding goes through the hardened `parseXmlSafely` with prefixes kept, then resolves the
 * `xmlns:*` declarations itself (STACK.md §4 pitfall 5): the envelope namespace tells 1.1 from
 * 1.2, whatever prefix the peer chose. What the rest of the hub sees is prefix-free: Body
 * children keyed by local name, `xmlns` attributes dropped, other attributes as `@_local`,
 * `xsi:nil="true"` as null. The raw bytes are kept for signature verification.
 *
 * The Envelope must hold exactly an optional Header then one Body, told by namespace and local
 * name: a second Body under another prefix bound to the same namespace is refused, not read (a
 * WAF or a signature check would look at one Body and the hub at another). Attribute values come
 * normalised by `parseXmlSafely` (XML 1.0 §3.3.3: a literal tab or line break reads as a space).
 *
 * Encoding builds with fast-xml-parser's XMLBuilder (which escapes text and attributes); names
 * and characters are checked first, so a bad key can never inject markup.
 */
import { XMLBuilder } from 'fast-xml-parser';
import { HubError } from '../core/errors.js';
import { isShowableName } from '../core/personal-data.js';
import { parseXmlSafely, xmlBytesToText } from './xml.js';
import { isPlainObject } from '../core/objects.js';

export const SOAP11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';
export const XSI_NS = 'http://www.w3.org/2001/XMLSchema-instance';
/** Namespace of the hub's own fault subcodes (SOAP 1.2 `Subcode/Value`). */
export const HUB_FAULT_NS = 'urn:lienthong:fault';

export type SoapVersion = '1.1' | '1.2';

export interface SoapMessage {
  version: SoapVersion;
  /** Header blocks keyed by local name (prefix-free like `body`); absent when there is no Header. */
  header?: Record<string, unknown>;
  /** Local name and namespace URI of the Body's first child: usually the operation. */
  firstBodyElement?: { name: string; ns?: string };
  /** The Body's children keyed by local name. */
  body: Record<string, unknown>;
  fault?: SoapFault;
  /** The bytes as received: signatures are verified over these, never over `body`. */
  raw: Buffer;
}

export interface SoapFault {
  /** Local part of the fault code QName: 1.1 `Client`/`Server`/`Client.Xyz`…; 1.2 `Sender`/`Receiver`/… */
  code: string;
  /** Local part of the first SOAP 1.2 `Subcode/Value`, when present. */
  subcode?: string;
  reason: string;
  detail?: unknown;
}

const BAD_SOAP = 'SOAP không hợp lệ / invalid SOAP message';
const FORBIDDEN_NAMES = new Set(['__proto__', 'constructor', 'prototype']);

type Scope = ReadonlyMap<string, string>;
type Obj = Record<string, unknown>;

// ---------------------------------------------------------------------------------------------
// decode
// ---------------------------------------------------------------------------------------------

export interface DecodeSoapOptions {
  /**
   * The SOAP version the endpoint speaks. An envelope of the other version is refused
   * (client.bad-soap, detail code `version-mismatch`): SOAP 1.1 §4.4.1 VersionMismatch, SOAP 1.2 §5.4.6.
   */
  version?: SoapVersion | undefined;
}

export function decodeSoap(raw: Buffer | string, options: DecodeSoapOptions = {}): SoapMessage {
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  const text = typeof raw === 'string' ? raw : xmlBytesToText(raw);
  const doc = parseXmlSafely(text);

  const rootName = Object.keys(doc)[0] ?? '';
  const rootNode = doc[rootName];
  const rootScope = extendScope(new Map([['xml', 'http://www.w3.org/XML/1998/namespace']]), rootNode);
  const root = resolveName(rootName, rootScope, true);
  const version: SoapVersion | undefined =
    root.local !== 'Envelope' ? undefined : root.ns === SOAP11_NS ? '1.1' : root.ns === SOAP12_NS ? '1.2' : undefined;
  if (!version) {
    throw new HubError('client.bad-soap', `${BAD_SOAP}: the root element must be a SOAP 1.1 or 1.2 Envelope`, {
      detail: [{ field: root.local, reason: `expected Envelope in ${SOAP11_NS} or ${SOAP12_NS}`, code: 'soap-envelope' }],
    });
  }
  if (options.version !== undefined && version !== options.version) throw soapVersionMismatch(options.version, version);
  const envNs = version === '1.1' ? SOAP11_NS : SOAP12_NS;
  const envelope = isPlainObject(rootNode) ? rootNode : {};

  // The Envelope's element children, in document order (fast-xml-parser keeps first-seen order; a name repeated
  // under one prefix is an array), must be [Header] Body: SOAP 1.2 §5.1, WS-I BP R1011 for 1.1.
  let headerNode: { value: unknown; scope: Scope } | undefined;
  let bodyNode: { value: unknown; scope: Scope } | undefined;
  for (const [key, value] of Object.entries(envelope)) {
    if (key.startsWith('@_') || key === '#text') continue;
    const scope = extendScope(rootScope, Array.isArray(value) ? value[0] : value);
    const q = resolveName(key, scope, true);
    const part = q.ns !== envNs ? undefined : q.local === 'Header' ? 'Header' : q.local === 'Body' ? 'Body' : undefined;
    if (part === undefined) {
      throw structureError(`the Envelope may hold only a Header and a Body, found ${safeName(q.local)}${q.ns === envNs ? '' : ' (not in the envelope namespace)'}`, 'unexpected-element', q.local);
    }
    if (Array.isArray(value) || (part === 'Header' ? headerNode : bodyNode) !== undefined) {
      throw structureError(`more than one ${part}`, part === 'Header' ? 'duplicate-header' : 'duplicate-body', part);
    }
    if (part === 'Header' && bodyNode) throw structureError('the Header must come before the Body', 'unexpected-element', 'Header');
    if (part === 'Header') headerNode = { value, scope };
    else bodyNode = { value, scope };
  }
  if (!bodyNode) {
    throw new HubError('client.bad-soap', `${BAD_SOAP}: the Envelope has no Body`, {
      detail: [{ field: 'Body', reason: 'Body element is required', code: 'soap-structure' }],
    });
  }

  // The Body's and Header's own attributes (wsu:Id for WS-Security, encodingStyle) belong to the envelope, not the message.
  const body = childrenOf(bodyNode.value, bodyNode.scope, false);
  const message: SoapMessage = { version, body, raw: bytes };
  if (headerNode) message.header = childrenOf(headerNode.value, headerNode.scope, false);

  const first = firstChild(bodyNode.value, bodyNode.scope);
  if (first) {
    message.firstBodyElement = first.ns === undefined ? { name: first.local } : { name: first.local, ns: first.ns };
    if (first.local === 'Fault' && first.ns === envNs) message.fault = readFault(version, body.Fault);
  }
  return message;
}

/**
 * The error for an envelope of the other SOAP version than the endpoint's. Exported for callers that decode first and
 * check later; its detail code `version-mismatch` lets the fault writer answer with a VersionMismatch fault code.
 */
export function soapVersionMismatch(expected: SoapVersion, found: SoapVersion): HubError {
  const ns = expected === '1.1' ? SOAP11_NS : SOAP12_NS;
  return new HubError('client.bad-soap', `${BAD_SOAP}: this endpoint speaks SOAP ${expected}, the request is a SOAP ${found} envelope`, {
    detail: [{ field: 'Envelope', reason: `expected a SOAP ${expected} Envelope (namespace ${ns})`, code: 'version-mismatch' }],
  });
}

function structureError(reason: string, code: string, field: string): HubError {
  return new HubError('client.bad-soap', `${BAD_SOAP}: ${reason}`, { detail: [{ field: safeName(field), reason, code }] });
}

function readFault(version: SoapVersion, node: unknown): SoapFault {
  const one = first(node);
  const f = isPlainObject(one) ? one : {};
  if (version === '1.1') {
    const fault: SoapFault = { code: localPart(text(f.faultcode)), reason: text(f.faultstring) };
    if (f.detail !== undefined) fault.detail = f.detail;
    return fault;
  }
  const code = isPlainObject(f.Code) ? f.Code : {};
  const fault: SoapFault = { code: localPart(text(code.Value)), reason: text(first(isPlainObject(f.Reason) ? f.Reason.Text : undefined)) };
  const sub = isPlainObject(code.Subcode) ? code.Subcode : undefined;
  if (sub) fault.subcode = localPart(text(sub.Value));
  if (f.Detail !== undefined) fault.detail = f.Detail;
  return fault;
}

function first(v: unknown): unknown {
  return Array.isArray(v) ? v[0] : v;
}

function text(v: unknown): string {
  const x = first(v);
  if (typeof x === 'string') return x;
  if (isPlainObject(x) && typeof x['#text'] === 'string') return x['#text'];
  return '';
}

function localPart(qname: string): string {
  const i = qname.indexOf(':');
  return i < 0 ? qname : qname.slice(i + 1);
}

interface QName {
  local: string;
  ns?: string;
}

/** Adds the `xmlns` / `xmlns:p` declarations carried by one element to its parent's scope. */
function extendScope(scope: Scope, node: unknown): Scope {
  if (!isPlainObject(node)) return scope;
  let next: Map<string, string> | undefined;
  for (const key in node) {
    if (!key.startsWith('@_xmlns')) continue;
    const value = node[key];
    if (typeof value !== 'string') continue;
    if (key === '@_xmlns') (next ??= new Map(scope)).set('', value);
    else if (key.charCodeAt(7) === 0x3a /* : */) (next ??= new Map(scope)).set(key.slice(8), value);
  }
  return next ?? scope;
}

function resolveName(qname: string, scope: Scope, isElement: boolean): QName {
  const i = qname.indexOf(':');
  const prefix = i < 0 ? '' : qname.slice(0, i);
  const local = i < 0 ? qname : qname.slice(i + 1);
  if (FORBIDDEN_NAMES.has(local)) {
    throw new HubError('client.xml-forbidden', `XML chứa tên bị cấm / forbidden element or attribute name: ${local}`, {
      detail: [{ reason: `name "${local}" is not allowed`, code: 'xml-forbidden-name' }],
    });
  }
  // unprefixed attributes are in no namespace; unprefixed elements take the default namespace
  if (prefix === '' && !isElement) return { local };
  const ns = scope.get(prefix);
  if (prefix !== '' && ns === undefined) {
    throw new HubError('client.bad-soap', `${BAD_SOAP}: undeclared namespace prefix "${safeName(prefix)}"`, {
      detail: [{ field: safeName(local), reason: `namespace prefix "${safeName(prefix)}" is not declared`, code: 'xml-namespace' }],
    });
  }
  return ns === undefined || ns === '' ? { local } : { local, ns };
}

function safeName(name: string): string {
  return isShowableName(name) ? name : '…';
}

function firstChild(node: unknown, scope: Scope): QName | undefined {
  if (!isPlainObject(node)) return undefined;
  for (const key in node) {
    if (key.startsWith('@_') || key === '#text') continue;
    const value = node[key];
    return resolveName(key, extendScope(scope, Array.isArray(value) ? value[0] : value), true);
  }
  return undefined;
}

/** Element children (and non-namespace attributes) of one element, keyed by local name. */
function childrenOf(node: unknown, scope: Scope, attributes = true): Obj {
  const out: Obj = {};
  if (!isPlainObject(node)) return out;
  for (const key in node) {
    const value = node[key];
    if (key.startsWith('@_')) {
      if (!attributes) continue;
      const attr = key.slice(2);
      if (attr === 'xmlns' || attr.startsWith('xmlns:')) continue;
      const name = resolveName(attr, scope, false);
      // xsi:type, xsi:schemaLocation… describe the document, not the data (legacy .NET and Java stacks add xsi:type).
      if (name.ns === XSI_NS) continue;
      add(out, `@_${name.local}`, value);
    } else if (key === '#text') {
      out['#text'] = value;
    } else {
      // an element's own xmlns declarations apply to its own name
      const local = resolveName(key, extendScope(scope, Array.isArray(value) ? value[0] : value), true).local;
      const values = Array.isArray(value) ? value.map((v) => strip(v, scope)) : strip(value, scope);
      add(out, local, values);
    }
  }
  return out;
}

/** One element's value, prefix-free: a string, null (xsi:nil) or an object. */
function strip(node: unknown, parentScope: Scope): unknown {
  if (!isPlainObject(node)) return node;
  const scope = extendScope(parentScope, node);
  for (const key in node) {
    if (!key.startsWith('@_') || key.startsWith('@_xmlns')) continue;
    const q = resolveName(key.slice(2), scope, false);
    if (q.local === 'nil' && q.ns === XSI_NS) {
      const v = node[key];
      if (v === 'true' || v === '1') return null;
    }
  }
  const out = childrenOf(node, scope);
  const keys = Object.keys(out);
  if (keys.length === 0) return '';
  if (keys.length === 1 && keys[0] === '#text') return out['#text'];
  return out;
}

/** Elements with the same local name from different prefixes merge into one repeated element. */
function add(out: Obj, key: string, value: unknown): void {
  if (!Object.hasOwn(out, key)) {
    out[key] = value;
    return;
  }
  const prev = out[key];
  out[key] = [...(Array.isArray(prev) ? prev : [prev]), ...(Array.isArray(value) ? value : [value])];
}


// ---------------------------------------------------------------------------------------------
// encode
// ---------------------------------------------------------------------------------------------

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  textNodeName: '#text',
  suppressEmptyNode: false,
  suppressBooleanAttributes: false,
  processEntities: true,
  format: false,
});

const ENV_PREFIX: Record<SoapVersion, string> = { '1.1': 'soap', '1.2': 'env' };

export interface EncodeSoapOptions {
  version: SoapVersion;
  /**
   * Body content: element name → value. Strings/numbers/booleans become text, null an empty
   * element, arrays repeated elements, objects nested elements; keys `@_name` are attributes
   * and `#text` is text beside child elements.
   */
  body: Record<string, unknown>;
  /** Namespace of the body elements, bound to `prefix` on the Envelope. */
  namespace?: string;
  /** Prefix for `namespace`; default "m". */
  prefix?: string;
  /** Qualify descendants of the body elements with `prefix` too (default true). */
  qualifyChildren?: boolean;
  /**
   * Header blocks, written as given: keys are used verbatim (e.g. `wsse:Security`), so declare
   * their namespaces with `@_xmlns:…` attributes inside.
   */
  header?: Record<string, unknown>;
}

/** Why a connector's namespace prefix cannot be written (the envelope's own, reserved, or not a name), or undefined. */
export function soapPrefixProblem(version: SoapVersion, prefix: string): string | undefined {
  if (!NCNAME.test(prefix)) return `"${safeName(prefix)}" is not an XML name`;
  if (prefix === ENV_PREFIX[version]) return `"${prefix}" is the SOAP ${version} envelope's own prefix`;
  if (/^xml/i.test(prefix)) return `prefixes starting with "xml" are reserved`;
  return undefined;
}

export function encodeSoap(opts: EncodeSoapOptions): string {
  const env = ENV_PREFIX[opts.version];
  const envNs = opts.version === '1.1' ? SOAP11_NS : SOAP12_NS;
  const prefix = opts.namespace ? (opts.prefix ?? 'm') : undefined;
  if (prefix !== undefined && soapPrefixProblem(opts.version, prefix)) {
    throw encodeError(`invalid namespace prefix "${safeName(prefix)}"`);
  }
  const qualifyChildren = opts.qualifyChildren ?? true;

  const envelope: Obj = { [`@_xmlns:${env}`]: envNs };
  if (prefix !== undefined && opts.namespace !== undefined) envelope[`@_xmlns:${prefix}`] = opts.namespace;
  if (opts.header && Object.keys(opts.header).length > 0) envelope[`${env}:Header`] = toXmlTree(opts.header, undefined, false, 0);
  envelope[`${env}:Body`] = toXmlTree(opts.body, prefix, qualifyChildren, 0);
  return `<?xml version="1.0" encoding="utf-8"?>${builder.build({ [`${env}:Envelope`]: envelope }) as string}`;
}

export interface EncodeSoapFaultOptions {
  version: SoapVersion;
  /**
   * `Client` / `Server` (1.1 names; in 1.2 they become `Sender` / `Receiver`), any SOAP code
   * (`VersionMismatch`, `MustUnderstand`, `Sender`, `Receiver`, `DataEncodingUnknown`), or a
   * refinement `Client.xyz` / `Server.xyz`. Any other string is a hub-specific code: 1.1 writes
   * `Server.<code>` (or `Client.<code>` when it starts with "client"), 1.2 the matching class
   * with `<code>` as a Subcode in HUB_FAULT_NS.
   */
  code: 'Client' | 'Server' | string;
  /** Human text for the caller; must not contain payload values. */
  reason: string;
  detail?: Record<string, unknown>;
}

const SOAP_CODES_12 = new Set(['VersionMismatch', 'MustUnderstand', 'DataEncodingUnknown', 'Sender', 'Receiver']);

export function encodeSoapFault(opts: EncodeSoapFaultOptions): string {
  const env = ENV_PREFIX[opts.version];
  const envNs = opts.version === '1.1' ? SOAP11_NS : SOAP12_NS;
  const { cls, sub } = splitFaultCode(opts.code);
  const envelope: Obj = { [`@_xmlns:${env}`]: envNs };
  let fault: Obj;
  if (opts.version === '1.1') {
    fault = { faultcode: `${env}:${sub ? `${cls}.${sub}` : cls}`, faultstring: checkText(opts.reason, 'faultstring') };
    if (opts.detail) fault.detail = toXmlTree(opts.detail, undefined, false, 0);
  } else {
    const value12 = cls === 'Client' ? 'Sender' : cls === 'Server' ? 'Receiver' : cls;
    const code: Obj = { [`${env}:Value`]: `${env}:${value12}` };
    if (sub) {
      envelope['@_xmlns:lt'] = HUB_FAULT_NS;
      code[`${env}:Subcode`] = { [`${env}:Value`]: `lt:${sub}` };
    }
    fault = {
      [`${env}:Code`]: code,
      [`${env}:Reason`]: { [`${env}:Text`]: { '@_xml:lang': 'vi', '#text': checkText(opts.reason, 'Reason') } },
    };
    if (opts.detail) fault[`${env}:Detail`] = toXmlTree(opts.detail, undefined, false, 0);
  }
  envelope[`${env}:Body`] = { [`${env}:Fault`]: fault };
  return `<?xml version="1.0" encoding="utf-8"?>${builder.build({ [`${env}:Envelope`]: envelope }) as string}`;
}

function splitFaultCode(code: string): { cls: string; sub?: string } {
  const dot = code.indexOf('.');
  const head = dot < 0 ? code : code.slice(0, dot);
  const rest = dot < 0 ? '' : code.slice(dot + 1);
  const known = head === 'Client' || head === 'Server' || SOAP_CODES_12.has(head);
  if (known) return rest ? { cls: head, sub: subcodeName(rest) } : { cls: head };
  return { cls: /^client\b/i.test(code) ? 'Client' : 'Server', sub: subcodeName(code) };
}

function subcodeName(s: string): string {
  const cleaned = s.replace(/[^A-Za-z0-9_.-]/g, '-').replace(/^[^A-Za-z_]+/, '');
  return cleaned.slice(0, 64) || 'error';
}

/** Content-Type for a SOAP message. In 1.1 the action travels in a separate `SOAPAction` header. */
export function soapContentType(version: SoapVersion, action?: string): string {
  if (version === '1.1') return 'text/xml; charset=utf-8';
  return action === undefined ? 'application/soap+xml; charset=utf-8' : `application/soap+xml; charset=utf-8; action="${headerSafe(action)}"`;
}

/** Value for the SOAP 1.1 `SOAPAction` header (quoted, as the spec shows). */
export function soapActionHeader(action: string): string {
  return `"${headerSafe(action)}"`;
}

/** An action is a URI: percent-encode anything that could break out of a quoted header value. */
function headerSafe(action: string): string {
  return action.replace(/[^\x21\x23-\x5b\x5d-\x7e]/g, (c) => encodeURIComponent(c));
}

// XML 1.0 Name (restricted to what the builder can safely emit); ':' allowed only where noted.
const NCNAME = /^[\p{L}_][\p{L}\p{N}_.\-\u00B7\u0300-\u036F\u203F-\u2040]*$/u;
const QNAME = /^(?:[\p{L}_][\p{L}\p{N}_.\-\u00B7\u0300-\u036F\u203F-\u2040]*:)?[\p{L}_][\p{L}\p{N}_.\-\u00B7\u0300-\u036F\u203F-\u2040]*$/u;
// characters XML 1.0 cannot carry at all, not even as references
const INVALID_XML_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_ENCODE_DEPTH = 64;

/**
 * Converts a plain object to XMLBuilder's input: prefixes element names, checks names and
 * characters, stringifies scalars. Never mutates its input.
 */
function toXmlTree(value: Obj, prefix: string | undefined, qualifyChildren: boolean, depth: number): Obj {
  if (depth > MAX_ENCODE_DEPTH) throw encodeError(`nesting deeper than ${MAX_ENCODE_DEPTH}`);
  const out: Obj = {};
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined) continue;
    if (key === '#text') {
      out['#text'] = scalarText(v, '#text');
      continue;
    }
    if (key.startsWith('@_')) {
      const attr = key.slice(2);
      if (!QNAME.test(attr)) throw encodeError(`invalid attribute name "${safeName(attr)}"`);
      if (v === null) continue;
      out[key] = scalarText(v, attr);
      continue;
    }
    if (!QNAME.test(key) || FORBIDDEN_NAMES.has(key)) throw encodeError(`invalid element name "${safeName(key)}"`);
    const name = prefix !== undefined && !key.includes(':') ? `${prefix}:${key}` : key;
    const childPrefix = qualifyChildren ? prefix : undefined;
    const one = (item: unknown): unknown => {
      if (item === null || item === undefined) return '';
      if (item instanceof Date || typeof item !== 'object') return scalarText(item, key);
      if (Array.isArray(item)) throw encodeError(`nested array in element "${safeName(key)}"`);
      return toXmlTree(item as Obj, childPrefix, qualifyChildren, depth + 1);
    };
    out[name] = Array.isArray(v) ? v.map(one) : one(v);
  }
  return out;
}

function scalarText(v: unknown, name: string): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw encodeError(`non-finite number in "${safeName(name)}"`);
    s = String(v);
  } else if (typeof v === 'boolean' || typeof v === 'bigint') s = String(v);
  else if (v instanceof Date) s = v.toISOString();
  else if (v === null) s = '';
  else throw encodeError(`value of "${safeName(name)}" is not text`);
  return checkText(s, name);
}

function checkText(s: string, name: string): string {
  if (INVALID_XML_CHARS.test(s)) throw encodeError(`"${safeName(name)}" contains a character XML cannot carry`);
  return s;
}

function encodeError(reason: string): HubError {
  return new HubError('mapping.xml-encode', `Không tạo được SOAP / cannot encode SOAP: ${reason}`, {
    detail: [{ reason, code: 'xml-encode' }],
  });
}
