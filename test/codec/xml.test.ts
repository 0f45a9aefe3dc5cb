import { describe, expect, it } from 'vitest';
import { HubError } from '../../src/core/errors.js';
import { findExcessiveNesting, parseXmlSafely, XML_MAX_ATTRIBUTES, XML_MAX_DEPTH, XML_MAX_ELEMENTS, XML_MAX_ENTITY_EXPANSIONS, xmlBytesToText } from '../../src/codec/xml.js';

function failure(fn: () => unknown): HubError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    return error as HubError;
  }
  throw new Error('expected a HubError, nothing was thrown');
}

function nested(depth: number, inner = 'x'): string {
  return '<a>'.repeat(depth) + inner + '</a>'.repeat(depth);
}

describe('parseXmlSafely: well-formedness', () => {
  it('parses a plain document with prefixes, attributes and string values kept', () => {
    const doc = parseXmlSafely('<?xml version="1.0" encoding="utf-8"?><p:a xmlns:p="urn:x" n="1"><p:b>007</p:b><p:b>true</p:b><c/></p:a>');
    expect(doc).toEqual({ 'p:a': { 'p:b': ['007', 'true'], c: '', '@_xmlns:p': 'urn:x', '@_n': '1' } });
  });

  it('rejects mismatched tags <a><b></a> with line and column', () => {
    const e = failure(() => parseXmlSafely('<a>\n  <b></a>'));
    expect(e.type).toBe('client.bad-xml');
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/line 2, column \d+/);
  });

  it('rejects two root elements', () => {
    expect(failure(() => parseXmlSafely('<a/><b/>')).type).toBe('client.bad-xml');
    expect(failure(() => parseXmlSafely('<a></a><b></b>')).type).toBe('client.bad-xml');
    expect(failure(() => parseXmlSafely('<a>1</a><a>2</a>')).type).toBe('client.bad-xml');
  });

  it('rejects text after the root and an empty document', () => {
    expect(failure(() => parseXmlSafely('<a>1</a>junk')).type).toBe('client.bad-xml');
    expect(failure(() => parseXmlSafely('')).type).toBe('client.bad-xml');
  });

  it('never echoes payload text in the error', () => {
    const e = failure(() => parseXmlSafely('<HoSo><SoDinhDanh>038095999901</SoDinhDanh><Ten>Trần Văn Thử</HoSo>'));
    const shown = JSON.stringify({ message: e.message, detail: e.detail });
    expect(shown).not.toContain('038095999901');
    expect(shown).not.toContain('Trần');
  });

  it('decodes UTF-8 bytes strictly; one BOM is dropped, by parseXmlSafely only', () => {
    expect(xmlBytesToText(Buffer.from('\uFEFF<a>Thử</a>', 'utf8'))).toBe('\uFEFF<a>Thử</a>');
    expect(parseXmlSafely(xmlBytesToText(Buffer.from('\uFEFF<a>Thử</a>', 'utf8')))).toEqual({ a: 'Thử' });
    expect(failure(() => xmlBytesToText(Buffer.from([0x3c, 0x61, 0x3e, 0xc3, 0x28, 0x3c, 0x2f, 0x61, 0x3e]))).type).toBe('client.bad-xml');
    expect(parseXmlSafely('\uFEFF<a>1</a>')).toEqual({ a: '1' });
  });

  it('refuses a second BOM (bytes or text) instead of skipping it', () => {
    for (const doc of [xmlBytesToText(Buffer.from('\uFEFF\uFEFF<a>1</a>', 'utf8')), '\uFEFF\uFEFF<a>1</a>']) {
      const e = failure(() => parseXmlSafely(doc));
      expect(e.type).toBe('client.bad-xml');
      expect(e.detail[0]!.code).toBe('xml-bom');
    }
  });

  it('refuses an XML declaration naming an encoding other than UTF-8', () => {
    for (const enc of ['ISO-8859-1', 'UTF-16', 'windows-1258', 'US-ASCII', 'utf 8', '']) {
      const e = failure(() => parseXmlSafely(`<?xml version="1.0" encoding="${enc}"?><a>1</a>`));
      expect(e.type, enc).toBe('client.bad-xml');
      expect(e.detail[0]!.code, enc).toBe('xml-encoding');
    }
    expect(failure(() => parseXmlSafely(`\uFEFF<?xml version='1.0'\n  encoding = 'latin1' standalone='yes'?><a>1</a>`)).detail[0]!.code).toBe('xml-encoding');
    for (const ok of ['<?xml version="1.0" encoding="utf-8"?>', "<?xml version='1.0' encoding='UTF-8'?>", '<?xml version="1.0" encoding="UTF8"?>', '<?xml version="1.0"?>', '']) {
      expect(parseXmlSafely(`${ok}<a>1</a>`), ok).toEqual({ a: '1' });
    }
  });
});

describe('parseXmlSafely: hostile input', () => {
  it('rejects any DOCTYPE before parsing', () => {
    const e = failure(() => parseXmlSafely('<!DOCTYPE a><a>1</a>'));
    expect(e.type).toBe('client.xml-forbidden');
    expect(failure(() => parseXmlSafely('<?xml version="1.0"?>\n<!doctype a><a/>')).type).toBe('client.xml-forbidden');
  });

  it('rejects an external entity (XXE)', () => {
    const xxe = '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><foo>&xxe;</foo>';
    const e = failure(() => parseXmlSafely(xxe));
    expect(e.type).toBe('client.xml-forbidden');
    expect(e.message).not.toContain('/etc/passwd');
  });

  it('rejects billion laughs', () => {
    const lol =
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i === 0 ? '' : i};`.repeat(10)}">`).join('') +
      ']><lolz>&lol9;</lolz>';
    expect(failure(() => parseXmlSafely(lol)).type).toBe('client.xml-forbidden');
  });

  it('fails fast on 10,000-deep nesting with xml-too-deep (no stack overflow)', () => {
    const e = failure(() => parseXmlSafely(nested(10_000)));
    expect(e.type).toBe('client.xml-too-deep');
    expect(e.message).toContain(String(XML_MAX_DEPTH));
  });

  it('accepts exactly the depth limit and refuses one more', () => {
    expect(() => parseXmlSafely(nested(XML_MAX_DEPTH))).not.toThrow();
    expect(failure(() => parseXmlSafely(nested(XML_MAX_DEPTH + 1))).type).toBe('client.xml-too-deep');
    expect(failure(() => parseXmlSafely(nested(10), { maxDepth: 5 })).type).toBe('client.xml-too-deep');
  });

  it('the nesting pre-scan ignores self-closing tags, comments, CDATA and quoted ">"', () => {
    const flat = `<a>${'<b/>'.repeat(500)}<!-- <c><c><c> --><![CDATA[<d><d><d>]]><e x="<f>>"/></a>`;
    expect(findExcessiveNesting(flat, 2)).toBe(-1);
    expect(findExcessiveNesting('<a><b><c/></b></a>', 1)).toBe(3);
  });

  it('refuses an element with more attributes than the limit, and a flood of elements, before parsing', () => {
    const attrs = (k: number) => Array.from({ length: k }, (_, i) => ` a${i}="x=${i}"`).join('');
    expect(() => parseXmlSafely(`<r${attrs(XML_MAX_ATTRIBUTES)}/>`)).not.toThrow(); // "=" inside a value does not count
    const many = failure(() => parseXmlSafely(`<r><s${attrs(80_000)}/></r>`));
    expect(many).toMatchObject({ type: 'client.xml-too-large', message: expect.stringContaining(`more than ${XML_MAX_ATTRIBUTES} attributes on one element (line 1, column 4)`) });
    expect(many.detail).toEqual([{ reason: `more than ${XML_MAX_ATTRIBUTES} attributes on one element`, code: 'xml-attributes' }]);
    expect(() => parseXmlSafely(`<r>${'<e/>'.repeat(XML_MAX_ELEMENTS - 1)}</r>`)).not.toThrow();
    expect(failure(() => parseXmlSafely(`<r>${'<e/>'.repeat(XML_MAX_ELEMENTS)}</r>`)).detail[0]!.code).toBe('xml-elements');
  });

  it('refuses a <__proto__> element', () => {
    const e = failure(() => parseXmlSafely('<a><__proto__><polluted>1</polluted></__proto__></a>'));
    expect(e.type).toBe('client.xml-forbidden');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decodes numeric character references to Vietnamese text', () => {
    expect(parseXmlSafely('<Ten>Tr&#7847;n V&#259;n Th&#7917;</Ten>')).toEqual({ Ten: 'Trần Văn Thử' });
    expect(parseXmlSafely('<Ten>Tr&#x1EA7;n &amp; &lt;Con&gt;</Ten>')).toEqual({ Ten: 'Trần & <Con>' });
  });

  it('rejects 200,000 numeric references (expansion limit)', () => {
    const e = failure(() => parseXmlSafely(`<a>${'&#65;'.repeat(200_000)}</a>`));
    expect(e.type).toBe('client.xml-forbidden');
  });

  it('decodes the five predefined references alike whether or not the document also holds numeric ones (fast and full parser)', () => {
    // Documents with predefined references only skip the HTML entity pass; the text must come out the same.
    const predefined = '<r a="x &amp; &quot;y&quot;"><t>&lt;b&gt; &apos;c&apos; &amp;amp; &amp;#7871;</t><u>Trần</u></r>';
    const withNumeric = predefined.replace('<u>Trần</u>', '<u>Tr&#7847;n</u>');
    const expected = { r: { '@_a': 'x & "y"', t: "<b> 'c' &amp; &#7871;", u: 'Trần' } };
    expect(parseXmlSafely(predefined)).toEqual(expected);
    expect(parseXmlSafely(withNumeric)).toEqual(expected);
  });

  it('refuses references to characters outside XML 1.0 Char, before the parser drops or keeps them', () => {
    // &#0; once disappeared, so "0011999999&#0;02" read as an ID that passes the schema
    for (const ref of ['&#0;', '&#x0;', '&#x1F;', '&#8;', '&#xB;', '&#xD800;', '&#xDFFF;', '&#xFFFE;', '&#xFFFF;', '&#x110000;', '&#1114112;', '&#X41;', '&#;', '&#x;', '&#12a;', '&#65', '&#000000065;']) {
      for (const doc of [`<a>0011999999${ref}02</a>`, `<a x="1${ref}2">t</a>`]) {
        const e = failure(() => parseXmlSafely(doc));
        expect(e.type, doc).toBe('client.bad-xml');
        expect(e.detail, doc).toEqual([{ reason: expect.stringContaining('character reference'), code: 'xml-reference' }]);
        expect(e.message, doc).not.toContain('0011999999');
      }
    }
  });

  it('refuses named references other than the five predefined ones (no HTML entities), and a lone "&"', () => {
    for (const ref of ['&nbsp;', '&copy;', '&foo;', '&Amp;', '&amp', '& ', '&lt']) {
      for (const doc of [`<a>x${ref}y</a>`, `<a x="x${ref}y">t</a>`]) {
        const e = failure(() => parseXmlSafely(doc));
        expect(e.type, doc).toBe('client.bad-xml');
        expect(e.detail[0]!.code, doc).toBe('xml-reference');
      }
    }
    const e = failure(() => parseXmlSafely('<r>\n  <Ten>Trần&nbsp;Văn</Ten>\n</r>'));
    expect(e.message).toContain('(line 2, column 12)');
    expect(JSON.stringify({ m: e.message, d: e.detail })).not.toContain('Trần');
  });

  it('accepts every reference XML 1.0 allows, and leaves CDATA and comments alone', () => {
    expect(parseXmlSafely('<a x="&#x9;&#xA;&#xD;&#32;">&#9;&#10;&#x20;|&#xD7FF;&#xE000;&#xFFFD;&#x10000;&#x10FFFF;&#1114111;&#x0041;&#00000065;</a>')).toEqual({
      a: { '#text': '\t\n |\uD7FF\uE000\uFFFD\u{10000}\u{10FFFF}\u{10FFFF}AA', '@_x': '\t\n\r ' },
    });
    // the fast parser (no numeric references in text or attributes) and the full one read CDATA the same: as is
    expect(parseXmlSafely('<a><![CDATA[&nbsp; &#0; & <b>]]><!-- &foo; &#0; --><?pi &bar; ?></a>')).toEqual({ a: { '#text': '&nbsp; &#0; & <b>', '?pi': '' } });
    expect(parseXmlSafely('<a b="&#65;"><![CDATA[&#66;]]></a>')).toEqual({ a: { '#text': '&#66;', '@_b': 'A' } });
  });

  it('reads a literal tab, CR or LF in an attribute value as a space (XML 1.0 §3.3.3), a character reference to one as itself', () => {
    expect(parseXmlSafely('<a x="p\tq\nr\r\ns\rt" y=\'1\n2\'>u\r\nv\tw</a>')).toEqual({ a: { '#text': 'u\nv\tw', '@_x': 'p q r s t', '@_y': '1 2' } });
    expect(parseXmlSafely('<a x="p&#9;q&#10;r&#13;&#10;s"/>')).toEqual({ a: { '@_x': 'p\tq\nr\r\ns' } });
    // whitespace between attributes, in text and in CDATA is not touched
    expect(parseXmlSafely('<a\n\tx="1"\r\n  y="2"><![CDATA[p\tq]]></a>')).toEqual({ a: { '#text': 'p\tq', '@_x': '1', '@_y': '2' } });
  });

  it('rejects 200,000 predefined references too (expansion limit)', () => {
    expect(failure(() => parseXmlSafely(`<a>${'&amp;'.repeat(200_000)}</a>`)).type).toBe('client.xml-forbidden');
  });

  it('counts expansions per document: the shared parser does not accumulate across calls', () => {
    const doc = `<a>${'&amp;'.repeat(XML_MAX_ENTITY_EXPANSIONS - 1000)}</a>`;
    for (let i = 0; i < 3; i++) expect((parseXmlSafely(doc).a as string).length).toBe(XML_MAX_ENTITY_EXPANSIONS - 1000);
  });
});
