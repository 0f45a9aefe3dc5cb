import { XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * Just enough SOAP for the simulator: a hardened request reader (no DTD, well-formedness checked, namespaces
 * resolved by URI, not by prefix) and string builders for answers and faults.
 */

export const SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12 = 'http://www.w3.org/2003/05/soap-envelope';
export const QLDC = 'http://dancuquocgia.bca';

export type SoapVersion = '1.1' | '1.2';

export interface SoapRequest {
  version: SoapVersion;
  /** Local name of the Body's child element. */
  operation: string;
  /** Namespace URI of that element. */
  namespace: string;
  /** Its simple children by local name (qualified or not); first occurrence wins. */
  fields: Record<string, string>;
}

export class SoapFault extends Error {
  constructor(
    readonly code: 'Client' | 'Server',
    message: string,
  ) {
    super(message);
  }
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  maxNestedTags: 64,
  htmlEntities: true,
  processEntities: { enabled: true, maxEntityCount: 1, maxEntitySize: 1, maxTotalExpansions: 10_000, maxExpandedLength: 1_000_000 },
});

type Node = Record<string, unknown>;
type Scope = Record<string, string>;

const malformed = (why: string) => new SoapFault('Client', `Yêu cầu không hợp lệ / malformed request: ${why}`);

/** Namespace declarations of `node` on top of its parent's. */
function scopeOf(node: Node, parent: Scope): Scope {
  let scope = parent;
  for (const [key, value] of Object.entries(node)) {
    if (key === '@_xmlns' || key.startsWith('@_xmlns:')) {
      if (scope === parent) scope = { ...parent };
      scope[key === '@_xmlns' ? '' : key.slice(8)] = String(value);
    }
  }
  return scope;
}

function resolve(qname: string, scope: Scope): { ns: string | undefined; local: string } {
  const colon = qname.indexOf(':');
  return colon < 0 ? { ns: scope[''], local: qname } : { ns: scope[qname.slice(0, colon)], local: qname.slice(colon + 1) };
}

const elementKeys = (node: Node) => Object.keys(node).filter((k) => !k.startsWith('@_') && k !== '#text' && !k.startsWith('?'));

function asNode(value: unknown, what: string): Node {
  if (Array.isArray(value)) throw malformed(`more than one ${what}`);
  if (value === '' || value === undefined) return {};
  if (typeof value !== 'object' || value === null) throw malformed(`${what} has text content`);
  return value as Node;
}

function textOf(value: unknown): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (typeof first === 'string') return first;
  if (first && typeof first === 'object') {
    const text = (first as Node)['#text'];
    return typeof text === 'string' ? text : text === undefined ? '' : String(text);
  }
  return undefined;
}

export function parseSoapRequest(xml: string): SoapRequest {
  if (/<!DOCTYPE/i.test(xml)) throw malformed('DOCTYPE/DTD is not allowed');
  if (xml.trim() === '') throw malformed('empty body');
  if (XMLValidator.validate(xml) !== true) throw malformed('not well-formed XML');
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch {
    throw malformed('XML rejected by the parser');
  }
  const roots = elementKeys(doc);
  if (roots.length !== 1) throw malformed('expected exactly one root element');
  const rootName = roots[0]!;
  const envelope = asNode(doc[rootName], 'Envelope');
  const envScope = scopeOf(envelope, {});
  const root = resolve(rootName, envScope);
  const version: SoapVersion | undefined = root.ns === SOAP11 ? '1.1' : root.ns === SOAP12 ? '1.2' : undefined;
  if (root.local !== 'Envelope' || !version) throw malformed('root is not a SOAP 1.1 or 1.2 Envelope');

  const bodyName = elementKeys(envelope).find((k) => {
    const r = resolve(k, envScope);
    return r.local === 'Body' && r.ns === root.ns;
  });
  if (!bodyName) throw malformed('no SOAP Body');
  const body = asNode(envelope[bodyName], 'Body');
  const bodyScope = scopeOf(body, envScope);

  const ops = elementKeys(body);
  if (ops.length !== 1) throw malformed('the Body must hold exactly one operation element');
  const opNode = asNode(body[ops[0]!], 'operation');
  const opScope = scopeOf(opNode, bodyScope);
  const op = resolve(ops[0]!, opScope);

  const fields: Record<string, string> = {};
  for (const key of elementKeys(opNode)) {
    const { local } = resolve(key, opScope);
    const text = textOf(opNode[key]);
    if (text !== undefined && !(local in fields)) fields[local] = text;
  }
  return { version, operation: op.local, namespace: op.ns ?? '', fields };
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export const escapeXml = (s: string) => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

export const contentTypeOf = (version: SoapVersion) =>
  version === '1.2' ? 'application/soap+xml; charset=utf-8' : 'text/xml; charset=utf-8';

/** A whole envelope around `bodyXml` (which may use the `qldc:` prefix). */
export function envelope(version: SoapVersion, bodyXml: string): string {
  const ns = version === '1.2' ? SOAP12 : SOAP11;
  return `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${ns}" xmlns:qldc="${QLDC}"><soap:Body>${bodyXml}</soap:Body></soap:Envelope>`;
}

/** SOAP fault answer: 1.1 always HTTP 500; 1.2 Sender → 400, Receiver → 500. */
export function faultResponse(version: SoapVersion, fault: SoapFault): { status: number; contentType: string; body: string } {
  const text = escapeXml(fault.message);
  const body =
    version === '1.2'
      ? `<soap:Fault><soap:Code><soap:Value>soap:${fault.code === 'Client' ? 'Sender' : 'Receiver'}</soap:Value></soap:Code>` +
        `<soap:Reason><soap:Text xml:lang="vi">${text}</soap:Text></soap:Reason></soap:Fault>`
      : `<soap:Fault><faultcode>soap:${fault.code}</faultcode><faultstring xml:lang="vi">${text}</faultstring></soap:Fault>`;
  return {
    status: version === '1.2' && fault.code === 'Client' ? 400 : 500,
    contentType: contentTypeOf(version),
    body: envelope(version, body),
  };
}
