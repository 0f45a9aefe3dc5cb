/** One step of a path: an own property name, or an array index (from `[n]`). */
type Step = string | number;

// Paths come from config (ordering keys, idempotency keys, result fields), so there are few of them, and each is read
// for every message: parse each once. The bound only guards against a caller passing ever-new paths.
const parsed = new Map<string, Step[] | null>();
const MAX_PARSED = 1024;

/** Reads a dotted path ("a.b[0].c") through own properties only: config paths never reach prototypes. */
export function readPath(value: unknown, path: string): unknown {
  let steps = parsed.get(path);
  if (steps === undefined) {
    steps = parse(path);
    if (parsed.size >= MAX_PARSED) parsed.clear();
    parsed.set(path, steps);
  }
  if (!steps) return undefined;
  let node = value;
  for (const step of steps) {
    if (typeof step === 'number') node = Array.isArray(node) ? node[step] : undefined;
    else node = node !== null && typeof node === 'object' && Object.hasOwn(node, step) ? (node as Record<string, unknown>)[step] : undefined;
  }
  return node;
}

/** The steps of a path, or null when a part is not `name` followed by any `[n]`. */
function parse(path: string): Step[] | null {
  const steps: Step[] = [];
  for (const part of path.split('.')) {
    const match = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!match) return null;
    steps.push(match[1]!);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) steps.push(Number(index[1]));
  }
  return steps;
}
