import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node } from 'yaml';

/** A parsed YAML (or JSON) file that can say on which line any of its fields sits. */
export interface SourceFile<T = unknown> {
  file: string;
  value: T;
  /** Line/column (1-based) of the node at this path, or of its nearest existing ancestor. */
  locate(path: ReadonlyArray<string | number>): { line: number; column: number };
  /** Parse problems (syntax errors, duplicate keys); empty when the file is sound. */
  errors: Array<{ message: string; line: number; column: number }>;
}

/** Hostile or accidental YAML is bounded: alias bombs refused, no custom tags executed. */
const PARSE_OPTIONS = { uniqueKeys: true, prettyErrors: false, maxAliasCount: 100 } as const;

export function parseSource<T = unknown>(file: string, text: string): SourceFile<T> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...PARSE_OPTIONS, lineCounter });
  const errors = doc.errors.map((e) => {
    const pos = lineCounter.linePos(e.pos[0]);
    return { message: e.message.split('\n')[0] ?? e.message, line: pos.line, column: pos.col };
  });
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
