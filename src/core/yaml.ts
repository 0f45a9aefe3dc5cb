import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, visit, type Node, type Scalar } from 'yaml';

/** A parsed YAML (or JSON) file that can say on which line any of its fields sits. */
export interface SourceFile<T = unknown> {
  file: string;
  value: T;
  /** Line/column (1-based) of the node at this path, or of its nearest existing ancestor. */
  locate(path: ReadonlyArray<string | number>): { line: number; column: number };
  /** Parse problems (syntax errors, duplicate keys, codes YAML would change); empty when the file is sound. */
  errors: Array<{ message: string; line: number; column: number; hint?: string }>;
}

/** Hostile or accidental YAML is bounded: alias bombs refused, no custom tags executed. */
const PARSE_OPTIONS = { uniqueKeys: true, prettyErrors: false, maxAliasCount: 100 } as const;

export function parseSource<T = unknown>(file: string, text: string): SourceFile<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...PARSE_OPTIONS, lineCounter });
  // One syntax error throws the parser off for the rest of the file (an unclosed quote or a stray line can give
  // hundreds, one per token). Keep the duplicate keys before it (each is a problem of its own) and the first syntax
  // error; count the rest.
  const firstSyntax = doc.errors.findIndex((e) => e.code !== 'DUPLICATE_KEY');
  const kept = firstSyntax === -1 ? doc.errors : doc.errors.slice(0, firstSyntax + 1);
  const errors: SourceFile['errors'] = kept.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { message: e.message.split('\n')[0] ?? e.message, line: pos.line, column: pos.col };
  });
  const more = doc.errors.length - kept.length;
  if (more > 0) {
    const pos = lineCounter.linePos(doc.errors[kept.length]!.pos[0]);
    errors.push({
      message: `… ${more} more YAML error${more === 1 ? '' : 's'} in this file, probably caused by the first (line ${errors[errors.length - 1]!.line})`,
      line: pos.line,
      column: pos.col,
      hint: 'fix the first syntax error, then run lienthong check again',
    });
  }
  if (!errors.length) {
    for (const scalar of alteredScalars(doc)) {
      const pos = lineCounter.linePos(scalar.range![0]);
      errors.push({ message: `${scalar.source} reads as ${JSON.stringify(scalar.value)}, not as written`, line: pos.line, column: pos.col, hint: `quote it ("${scalar.source}") to keep it as text` });
    }
  }
  let value: unknown;
  try {
    value = errors.length ? undefined : doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    errors.push({ message: (error as Error).message, line: 1, column: 1 });
  }
  const locate = (path: ReadonlyArray<string | number>) => {
    let node: Node | null | undefined = doc.contents as Node | null;
    let best = node?.range ? node.range[0] : 0;
    for (const key of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(key));
        if (!pair) break;
        const keyNode = pair.key as Node | null;
        if (keyNode?.range) best = keyNode.range[0];
        node = pair.value as Node | null;
        if (node?.range && !isMap(node) && !isSeq(node)) best = keyNode?.range ? keyNode.range[0] : node.range[0];
      } else if (isSeq(node) && (typeof key === 'number' || /^\d+$/.test(key))) {
        // JSON pointers (schema errors) name list items by their index as text.
        node = node.items[Number(key)] as Node | null;
        if (node?.range) best = node.range[0];
      } else break;
    }
    const pos = lineCounter.linePos(best);
    return { line: pos.line, column: pos.col };
  };
  return { file, value: value as T, locate, errors };
}

export function readSource<T = unknown>(file: string): SourceFile<T> {
  return parseSource<T>(file, readFileSync(file, 'utf8'));
}

/**
 * Unquoted scalars YAML would silently change: a key that is not text and does not read back as written (`01:` is the
 * key "1", `1.50:` is "1.5"), and a value with leading zeros (`01` is the number 1). Both are how codes are written
 * ("01" a status, "000123" an account), and a code table or mapping constant would then match or send the wrong code.
 */
function alteredScalars(doc: ReturnType<typeof parseDocument>): Scalar[] {
  const found: Scalar[] = [];
  const plain = (node: unknown): node is Scalar & { source: string } => isScalar(node) && node.type === 'PLAIN' && typeof node.source === 'string' && node.range !== undefined;
  visit(doc, {
    Pair(_, pair) {
      if (plain(pair.key) && typeof pair.key.value !== 'string' && String(pair.key.value ?? '') !== pair.key.source) found.push(pair.key);
    },
    Scalar(key, node) {
      if (key !== 'key' && plain(node) && typeof node.value === 'number' && /^[-+]?0\d/.test(node.source)) found.push(node);
    },
  });
  return found;
}
