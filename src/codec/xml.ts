/**
 * Hardened XML → object decoding (STACK.md §4). Every inbound XML byte goes through
 * `parseXmlSafely`, in this order:
 *
 *   1. reject `<!DOCTYPE` / `<!ENTITY` outright (SOAP forbids a DTD; this also shuts out
 *      external entities (XXE) and entity-expansion bombs before the parser sees them);
 *   2. a cheap linear pre-scan of the shape, so a 10,000-deep document, an element with 80,000 attributes or a
 *      flood of elements fails fast: the parser spends ~20 µs per attribute on this one thread, so one such body
 *      under the size limit would stall every other request for seconds;
 *   3. `XMLValidator.validate()` for well-formedness (fast-xml-parser's `parse()` does not check it);
 *   4. the hardened `XMLParser` (limits on entity expansion, nesting, reserved names);
 *   5. exactly one root element.
 *
 * Error messages name the problem, element names, limits and line/column, never payload text:
 * the raw messages of the parser can quote input, so they are classified, never passed through.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { HubError } from '../core/errors.js';

/** Deepest element nesting accepted (root = depth 1). */
export const XML_MAX_DEPTH = 64;
/** Most attributes on one element (namespace declarations included); SOAP messages use a handful. */
export const XML_MAX_ATTRIBUTES = 64;
/** Most elements in one document. */
export const XML_MAX_ELEMENTS = 50_000;
/** Most entity / character references expanded in one document. */
export const XML_MAX_ENTITY_EXPANSIONS = 10_000;
/** Longest total text produced by entity expansion, in characters. */
export const XML_MAX_EXPANDED_LENGTH = 1_000_000;

export const XML_PARSER_OPTIONS = Object.freeze({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  removeNSPrefix: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  maxNestedTags: XML_MAX_DEPTH,
  // No callbacks read the path, so the parser need not render it as a string at every element (~20% of a parse).
  jPath: false,
  // decodes numeric references (&#7871; → ế) so Vietnamese text survives legacy encoders
  htmlEntities: true,
  processEntities: Object.freeze({
    enabled: true,
    maxEntityCount: 1,
    maxEntitySize: 1,
    maxTotalExpansions: XML_MAX_ENTITY_EXPANSIONS,
    maxExpandedLength: XML_MAX_EXPANDED_LENGTH,
  }),
});

// One parser per process: XMLParser keeps no per-document state between parse() calls.
const parser = new XMLParser({ ...XML_PARSER_OPTIONS, processEntities: { ...XML_PARSER_OPTIONS.processEntities } });
/**
 * The same parser without the HTML entity pass, which runs a dozen regular expressions over every text value and
 * doubles the cost of a parse. Used only for documents whose references are all among XML's five predefined ones,
 * where that pass has nothing to do: the output is the same.
 */
const xmlEntitiesOnly = new XMLParser({ ...XML_PARSER_OPTIONS, htmlEntities: false, processEntities: { ...XML_PARSER_OPTIONS.processEntities } });
/** A reference other than &lt; &gt; &amp; &apos; &quot; (numeric, or an HTML name). */
const OTHER_REFERENCE = /&(?!(?:lt|gt|amp|apos|quot);)/;

export interface ParseXmlOptions {
  /** Stricter nesting limit than XML_MAX_DEPTH (larger values are capped at XML_MAX_DEPTH). */
  maxDepth?: number;
}

const BAD_XML = 'XML không hợp lệ / malformed XML';

/**
 * Parses one XML document into fast-xml-parser's object form (prefixes kept, attributes as
 * `@_name`, all values strings). The returned object has exactly one key: the root element's
 * qualified name. The XML declaration and processing instructions are dropped.
 */
export function parseXmlSafely(text: string, options: ParseXmlOptions = {}): Record<string, unknown> {
  if (typeof text !== 'string') throw new HubError('client.bad-xml', `${BAD_XML}: expected text`);
  const maxDepth = Math.min(options.maxDepth ?? XML_MAX_DEPTH, XML_MAX_DEPTH);
  const xml = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;

  const dtd = /<!(DOCTYPE|ENTITY)/i.exec(xml);
  if (dtd) {
    const { line, col } = lineCol(xml, dtd.index);
    throw new HubError(
      'client.xml-forbidden',
      `XML không được chứa DTD / DOCTYPE and ENTITY declarations are not allowed (line ${line}, column ${col})`,
      { detail: [{ reason: 'DOCTYPE/ENTITY declarations are forbidden (no DTD, no external entities)', code: 'xml-doctype' }] },
    );
  }

  const excess = findExcess(xml, maxDepth);
  if (excess) {
    const { line, col } = lineCol(xml, excess.at);
    if (excess.limit === 'depth') {
      throw new HubError('client.xml-too-deep', `XML lồng quá sâu / XML nesting exceeds ${maxDepth} levels (line ${line}, column ${col})`, {
        detail: [{ reason: `element nesting deeper than ${maxDepth}`, code: 'xml-depth' }],
      });
    }
    const [reason, code] = excess.limit === 'attributes' ? [`more than ${XML_MAX_ATTRIBUTES} attributes on one element`, 'xml-attributes'] : [`more than ${XML_MAX_ELEMENTS} elements`, 'xml-elements'];
    throw new HubError('client.xml-too-large', `XML quá lớn / ${reason} (line ${line}, column ${col})`, { detail: [{ reason, code }] });
  }

  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { line, col, code } = valid.err;
    throw new HubError('client.bad-xml', `${BAD_XML}: ${describeValidatorError(valid.err)} (line ${line}, column ${col})`, {
      detail: [{ reason: describeValidatorError(valid.err), code: `xml-${code}` }],
    });
  }

  let doc: Record<string, unknown>;
  try {
    doc = (OTHER_REFERENCE.test(xml) ? parser : xmlEntitiesOnly).parse(xml) as Record<string, unknown>;
  } catch (error) {
    throw classifyParserError(error);
  }

  const roots = Object.keys(doc).filter((k) => !k.startsWith('?') && k !== '#text');
  const onlyRoot = roots.length === 1 ? roots[0] : undefined;
  if (onlyRoot === undefined || Array.isArray(doc[onlyRoot]) || Object.hasOwn(doc, '#text')) {
    throw new HubError('client.bad-xml', `${BAD_XML}: a document must have exactly one root element`, {
      detail: [{ reason: 'exactly one root element expected', code: 'xml-root' }],
    });
  }
  return { [onlyRoot]: doc[onlyRoot] };
}

/** Strict UTF-8 decoding of inbound bytes (BOM dropped); invalid byte sequences are a client error. */
export function xmlBytesToText(raw: Buffer | Uint8Array | string): string {
  if (typeof raw === 'string') return raw;
  try {
    return utf8.decode(raw);
  } catch {
    throw new HubError('client.bad-xml', `${BAD_XML}: the body is not valid UTF-8`, {
      detail: [{ reason: 'body must be UTF-8 encoded', code: 'xml-encoding' }],
    });
  }
}
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** The offset of the first element beyond the nesting limit, or -1. */
export function findExcessiveNesting(xml: string, maxDepth: number = XML_MAX_DEPTH): number {
  const excess = findExcess(xml, maxDepth);
  return excess?.limit === 'depth' ? excess.at : -1;
}

/**
 * Linear scan that counts open elements, all elements and each start tag's attributes (its `=` signs), skipping
 * comments, CDATA, processing instructions and quoted attribute values. Returns where the first limit is passed, or
 * undefined. It is deliberately lenient with malformed input: the validator that runs next reports those properly.
 */
function findExcess(xml: string, maxDepth: number): { at: number; limit: 'depth' | 'attributes' | 'elements' } | undefined {
  let depth = 0;
  let elements = 0;
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf('<', i);
    if (lt < 0) return undefined;
    const c = xml.charCodeAt(lt + 1);
    if (c === 0x2f /* / */) {
      if (depth > 0) depth--;
      const gt = xml.indexOf('>', lt + 2);
      if (gt < 0) return undefined;
      i = gt + 1;
      continue;
    }
    if (c === 0x21 /* ! */) {
      let end: number;
      if (xml.startsWith('<!--', lt)) end = endAfter(xml, '-->', lt + 4);
      else if (xml.startsWith('<![CDATA[', lt)) end = endAfter(xml, ']]>', lt + 9);
      else end = endAfter(xml, '>', lt + 2);
      if (end < 0) return undefined;
      i = end;
      continue;
    }
    if (c === 0x3f /* ? */) {
      const end = endAfter(xml, '?>', lt + 2);
      if (end < 0) return undefined;
      i = end;
      continue;
    }
    if (++elements > XML_MAX_ELEMENTS) return { at: lt, limit: 'elements' };
    // start tag: find its '>' outside quoted attribute values
    let j = lt + 1;
    let quote = 0;
    let attributes = 0;
    for (; j < n; j++) {
      const ch = xml.charCodeAt(j);
      if (quote !== 0) {
        if (ch === quote) quote = 0;
      } else if (ch === 0x22 || ch === 0x27) quote = ch;
      else if (ch === 0x3d /* = */) {
        if (++attributes > XML_MAX_ATTRIBUTES) return { at: lt, limit: 'attributes' };
      } else if (ch === 0x3e /* > */) break;
    }
    if (j >= n) return undefined;
    if (xml.charCodeAt(j - 1) !== 0x2f /* self-closing */) {
      depth++;
      if (depth > maxDepth) return { at: lt, limit: 'depth' };
    }
    i = j + 1;
  }
  return undefined;
}

function endAfter(xml: string, token: string, from: number): number {
  const at = xml.indexOf(token, from);
  return at < 0 ? -1 : at + token.length;
}

/** 1-based line and column of an offset. */
export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: offset - lineStart + 1 };
}

const XML_NAME = /^[A-Za-z_][\w.\-:]{0,63}$/;

/** The validator's own text can quote input (a "tag name" may be payload); keep only safe names. */
function describeValidatorError(err: { code: string; msg: string }): string {
  const msg = err.msg.replace(/'([^']*)'/g, (_m, inner: string) => (XML_NAME.test(inner) ? `'${inner}'` : "'…'"));
  switch (err.code) {
    case 'InvalidTag':
    case 'InvalidAttr':
      return msg.replace(/\[[^\]]*\]/g, '[…]');
    case 'InvalidXml':
      return /root nodes/.test(msg)
        ? 'more than one root element'
        : /Start tag expected/.test(msg)
          ? 'no root element'
          : /Extra text/.test(msg)
            ? 'text after the root element'
            : /declaration allowed only/.test(msg)
              ? 'XML declaration not at the start'
              : 'unclosed elements';
    case 'InvalidChar':
      return 'unexpected character';
    default:
      return 'not well-formed';
  }
}

function classifyParserError(error: unknown): HubError {
  const msg = error instanceof Error ? error.message : '';
  if (/Maximum nested tags/i.test(msg)) {
    return new HubError('client.xml-too-deep', `XML lồng quá sâu / XML nesting exceeds ${XML_MAX_DEPTH} levels`, {
      detail: [{ reason: `element nesting deeper than ${XML_MAX_DEPTH}`, code: 'xml-depth' }],
    });
  }
  if (/\[SECURITY\]/.test(msg)) {
    const name = /"(__proto__|constructor|prototype)"/.exec(msg)?.[1] ?? 'reserved name';
    return new HubError('client.xml-forbidden', `XML chứa tên bị cấm / forbidden element or attribute name: ${name}`, {
      detail: [{ reason: `element or attribute name "${name}" is not allowed`, code: 'xml-forbidden-name' }],
    });
  }
  if (/entit|expansion/i.test(msg)) {
    return new HubError(
      'client.xml-forbidden',
      `XML vượt giới hạn thực thể / entity expansion limit exceeded (at most ${XML_MAX_ENTITY_EXPANSIONS} references, ${XML_MAX_EXPANDED_LENGTH} characters)`,
      { detail: [{ reason: 'too many entity or character references', code: 'xml-entity-limit' }] },
    );
  }
  return new HubError('client.bad-xml', `${BAD_XML}: the document could not be parsed`, {
    detail: [{ reason: 'not well-formed', code: 'xml-parse' }],
  });
}
