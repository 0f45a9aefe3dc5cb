/**
 * Hardened XML → object decoding (STACK.md §4). Every inbound XML byte goes through
 * `parseXmlSafely`, in this order:
 *
 *   1. drop one byte-order mark (here only: `xmlBytesToText` keeps it, so a second one is refused, not skipped)
 *      and refuse an XML declaration naming an encoding other than UTF-8 (the bytes were read as UTF-8; a WAF or a
 *      signer honouring the declaration would read other characters);
 *   2. reject `<!DOCTYPE` / `<!ENTITY` outright (SOAP forbids a DTD; this also shuts out
 *      external entities (XXE) and entity-expansion bombs before the parser sees them);
 *   3. a cheap linear pre-scan of the shape, so a 10,000-deep document, an element with 80,000 attributes or a
 *      flood of elements fails fast: the parser spends ~20 µs per attribute on this one thread, so one such body
 *      under the size limit would stall every other request for seconds. The same pass refuses references XML 1.0
 *      does not define (`&#0;`, `&#x1F;`, `&#xD800;`, `&#x110000;`, `&nbsp;`, `&foo;`: the parser would drop,
 *      keep or HTML-decode them, so it and a WAF or XML-DSig would see different text) and finds literal tabs and
 *      line breaks inside attribute values, which XML 1.0 §3.3.3 reads as spaces and the parser does not;
 *   4. `XMLValidator.validate()` for well-formedness (fast-xml-parser's `parse()` does not check it);
 *   5. the hardened `XMLParser` (limits on entity expansion, nesting, reserved names);
 *   6. exactly one root element.
 *
 * Error messages name the problem, element names, limits and line/column, never payload text:
 * the raw messages of the parser can quote input, so they are classified, never passed through.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { HubError } from '../core/errors.js';
import { isShowableName } from '../core/personal-data.js';
import { lineCol } from '../core/text.js';

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
  // Decodes numeric references (&#7871; → ế) so Vietnamese text survives legacy encoders: without it fast-xml-parser
  // 5.12 leaves them as they are. It also turns on HTML's named entities, but the pre-scan refuses every named
  // reference other than XML's five, and every numeric one outside XML 1.0's Char, so only those reach the parser.
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
 * doubles the cost of a parse. Used only for documents whose references are all among XML's five predefined ones
 * (the pre-scan tells), where that pass has nothing to do: the output is the same.
 */
const xmlEntitiesOnly = new XMLParser({ ...XML_PARSER_OPTIONS, htmlEntities: false, processEntities: { ...XML_PARSER_OPTIONS.processEntities } });

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
  let xml = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (xml.charCodeAt(0) === 0xfeff) {
    // the validator and the parser would skip it; other readers may not
    throw new HubError('client.bad-xml', `${BAD_XML}: more than one byte-order mark`, { detail: [{ reason: 'at most one byte-order mark', code: 'xml-bom' }] });
  }
  checkDeclaredEncoding(xml);

  const dtd = /<!(DOCTYPE|ENTITY)/i.exec(xml);
  if (dtd) {
    const { line, col } = lineCol(xml, dtd.index);
    throw new HubError(
      'client.xml-forbidden',
      `XML không được chứa DTD / DOCTYPE and ENTITY declarations are not allowed (line ${line}, column ${col})`,
      { detail: [{ reason: 'DOCTYPE/ENTITY declarations are forbidden (no DTD, no external entities)', code: 'xml-doctype' }] },
    );
  }

  const scan = prescan(xml, maxDepth);
  if (scan.problem) {
    const { line, col } = lineCol(xml, scan.at);
    if (scan.problem === 'depth') {
      throw new HubError('client.xml-too-deep', `XML lồng quá sâu / XML nesting exceeds ${maxDepth} levels (line ${line}, column ${col})`, {
        detail: [{ reason: `element nesting deeper than ${maxDepth}`, code: 'xml-depth' }],
      });
    }
    if (scan.problem === 'reference') {
      const reason = xml.charCodeAt(scan.at + 1) === 0x23 /* # */
        ? 'a character reference must name a character XML 1.0 allows (not &#0;, a control character, a surrogate, &#xFFFE;, &#xFFFF; or beyond &#x10FFFF;), in at most 8 digits, ending with ";"'
        : 'the only entity references are &lt; &gt; &amp; &apos; &quot; (write other characters as themselves or as &#…;), and a lone "&" must be written &amp;';
      throw new HubError('client.bad-xml', `${BAD_XML}: a reference XML 1.0 does not allow (line ${line}, column ${col})`, {
        detail: [{ reason, code: 'xml-reference' }],
      });
    }
    const [reason, code] = scan.problem === 'attributes' ? [`more than ${XML_MAX_ATTRIBUTES} attributes on one element`, 'xml-attributes'] : [`more than ${XML_MAX_ELEMENTS} elements`, 'xml-elements'];
    throw new HubError('client.xml-too-large', `XML quá lớn / ${reason} (line ${line}, column ${col})`, { detail: [{ reason, code }] });
  }

  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { line, col, code } = valid.err;
    throw new HubError('client.bad-xml', `${BAD_XML}: ${describeValidatorError(valid.err)} (line ${line}, column ${col})`, {
      detail: [{ reason: describeValidatorError(valid.err), code: `xml-${code}` }],
    });
  }

  // XML 1.0 §3.3.3: a literal tab, CR or LF in an attribute value reads as a space (CR LF as one), as xmldom and
  // C14N read it; fast-xml-parser keeps them. Done on the text, so &#9; &#10; &#13; still give the character itself.
  if (scan.attributeWhitespace.length > 0) xml = spacesInAttributes(xml, scan.attributeWhitespace);

  let doc: Record<string, unknown>;
  try {
    doc = (scan.numericReferences ? parser : xmlEntitiesOnly).parse(xml) as Record<string, unknown>;
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

/**
 * Bytes are always read as UTF-8, so a declaration naming another encoding (ISO-8859-1, UTF-16, windows-1258…) would
 * make a reader that honours it see other characters than the hub does: refused.
 */
function checkDeclaredEncoding(xml: string): void {
  if (!xml.startsWith('<?xml') || !isXmlSpace(xml.charCodeAt(5))) return;
  const end = xml.indexOf('?>', 5);
  const m = /[\t\n\r ]encoding[\t\n\r ]*=[\t\n\r ]*(?:"([^"]*)"|'([^']*)')/.exec(end < 0 ? xml.slice(0, 200) : xml.slice(0, end));
  if (!m) return; // no encoding named: UTF-8 by default
  const name = m[1] ?? m[2] ?? '';
  if (/^utf-?8$/i.test(name)) return;
  const shown = isShowableName(name) ? ` (${name})` : '';
  throw new HubError('client.bad-xml', `${BAD_XML}: the XML declaration names an encoding other than UTF-8${shown}`, {
    detail: [{ reason: 'only UTF-8 is accepted: send UTF-8 and declare encoding="utf-8" or no encoding', code: 'xml-encoding' }],
  });
}

function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** The text with the given tabs and line breaks (inside attribute values) as spaces, and CR LF as one space. */
function spacesInAttributes(xml: string, at: number[]): string {
  const parts: string[] = [];
  let from = 0;
  for (const i of at) {
    parts.push(xml.slice(from, i));
    // CR LF is one line break (§2.11): the LF that follows gives the space
    if (!(xml.charCodeAt(i) === 0x0d && xml.charCodeAt(i + 1) === 0x0a)) parts.push(' ');
    from = i + 1;
  }
  parts.push(xml.slice(from));
  return parts.join('');
}

/**
 * Strict UTF-8 decoding of inbound bytes; invalid byte sequences are a client error. A byte-order mark is kept:
 * `parseXmlSafely` drops one (for text and bytes alike), so a second one cannot slip through.
 */
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
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The offset of the first element beyond the nesting limit, or -1. */
export function findExcessiveNesting(xml: string, maxDepth: number = XML_MAX_DEPTH): number {
  const scan = prescan(xml, maxDepth);
  return scan.problem === 'depth' ? scan.at : -1;
}

interface Prescan {
  /** The first limit passed or bad reference, at offset `at`. */
  problem?: 'depth' | 'attributes' | 'elements' | 'reference';
  at: number;
  /** A numeric character reference occurs (outside comments and CDATA), so the HTML entity pass is needed. */
  numericReferences: boolean;
  /** Offsets of literal tabs, CRs and LFs inside attribute values. */
  attributeWhitespace: number[];
}

/**
 * Linear scan that counts open elements, all elements and each start tag's attributes (its `=` signs), skipping
 * comments, CDATA, processing instructions and quoted attribute values, and checks every `&` in text and attribute
 * values. Stops at the first problem. It is deliberately lenient with malformed input: the validator that runs next
 * reports those properly.
 */
function prescan(xml: string, maxDepth: number): Prescan {
  const scan: Prescan = { at: -1, numericReferences: false, attributeWhitespace: [] };
  let depth = 0;
  let elements = 0;
  let i = 0;
  const n = xml.length;
  let amp = xml.indexOf('&'); // the next '&' at or after i (or -1): found once, so text is searched once
  while (i < n) {
    let lt = xml.indexOf('<', i);
    if (lt < 0) lt = n;
    // references in the text before this tag
    while (amp >= 0 && amp < lt) {
      const ref = reference(xml, amp);
      if (ref === Ref.Bad) return fail(scan, 'reference', amp);
      if (ref === Ref.Numeric) scan.numericReferences = true;
      amp = xml.indexOf('&', amp + 1);
    }
    if (lt === n) return scan;
    const c = xml.charCodeAt(lt + 1);
    if (c === 0x2f /* / */) {
      if (depth > 0) depth--;
      const gt = xml.indexOf('>', lt + 2);
      if (gt < 0) return scan;
      i = gt + 1;
    } else if (c === 0x21 /* ! */) {
      let end: number;
      if (xml.startsWith('<!--', lt)) end = endAfter(xml, '-->', lt + 4);
      else if (xml.startsWith('<![CDATA[', lt)) end = endAfter(xml, ']]>', lt + 9);
      else end = endAfter(xml, '>', lt + 2);
      if (end < 0) return scan;
      i = end;
    } else if (c === 0x3f /* ? */) {
      const end = endAfter(xml, '?>', lt + 2);
      if (end < 0) return scan;
      i = end;
    } else {
      if (++elements > XML_MAX_ELEMENTS) return fail(scan, 'elements', lt);
      // start tag: find its '>' outside quoted attribute values
      let j = lt + 1;
      let quote = 0;
      let attributes = 0;
      for (; j < n; j++) {
        const ch = xml.charCodeAt(j);
        if (quote !== 0) {
          if (ch === quote) quote = 0;
          else if (ch === 0x26 /* & */) {
            const ref = reference(xml, j);
            if (ref === Ref.Bad) return fail(scan, 'reference', j);
            if (ref === Ref.Numeric) scan.numericReferences = true;
          } else if (ch === 0x09 || ch === 0x0a || ch === 0x0d) scan.attributeWhitespace.push(j);
        } else if (ch === 0x22 || ch === 0x27) quote = ch;
        else if (ch === 0x3d /* = */) {
          if (++attributes > XML_MAX_ATTRIBUTES) return fail(scan, 'attributes', lt);
        } else if (ch === 0x3e /* > */) break;
      }
      if (j >= n) return scan;
      if (xml.charCodeAt(j - 1) !== 0x2f /* self-closing */) {
        depth++;
        if (depth > maxDepth) return fail(scan, 'depth', lt);
      }
      i = j + 1;
    }
    // an '&' inside the markup just passed (a tag, comment, CDATA, PI) is not a reference in text
    if (amp >= 0 && amp < i) amp = xml.indexOf('&', i);
  }
  return scan;
}

function fail(scan: Prescan, problem: NonNullable<Prescan['problem']>, at: number): Prescan {
  scan.problem = problem;
  scan.at = at;
  return scan;
}

const enum Ref {
  Bad,
  Predefined,
  Numeric,
}

/**
 * What the `&` at `at` starts: one of XML's five predefined entity references, a character reference to a character
 * XML 1.0 allows (`Char`: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]), or anything else.
 * References of more than 8 digits are refused too: no encoder writes them, and the parser's decoder gives up on
 * long ones, leaving the reference as text.
 */
function reference(xml: string, at: number): Ref {
  if (xml.charCodeAt(at + 1) === 0x23 /* # */) {
    let k = at + 2;
    const hex = xml.charCodeAt(k) === 0x78; /* x (XML has no &#X…;) */
    if (hex) k++;
    const first = k;
    let cp = 0;
    for (; k - first <= 8; k++) {
      const d = xml.charCodeAt(k);
      if (d >= 0x30 && d <= 0x39) cp = cp * (hex ? 16 : 10) + (d - 0x30);
      else if (hex && ((d >= 0x41 && d <= 0x46) || (d >= 0x61 && d <= 0x66))) cp = cp * 16 + ((d | 0x20) - 0x57);
      else break;
    }
    if (k === first || k - first > 8 || xml.charCodeAt(k) !== 0x3b /* ; */) return Ref.Bad;
    const isChar = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
    return isChar ? Ref.Numeric : Ref.Bad;
  }
  const from = at + 1;
  return xml.startsWith('amp;', from) || xml.startsWith('lt;', from) || xml.startsWith('gt;', from) || xml.startsWith('quot;', from) || xml.startsWith('apos;', from)
    ? Ref.Predefined
    : Ref.Bad;
}

function endAfter(xml: string, token: string, from: number): number {
  const at = xml.indexOf(token, from);
  return at < 0 ? -1 : at + token.length;
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
