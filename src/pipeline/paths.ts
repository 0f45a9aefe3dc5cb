/** Reads a dotted path ("a.b[0].c") through own properties only: config paths never reach prototypes. */
export function readPath(value: unknown, path: string): unknown {
  let node = value;
  for (const part of path.split('.')) {
    const match = /^([^[\]]+)((?:\[\d+\])*)$/.exec(part);
    if (!match) return undefined;
    node = own(node, match[1]!);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) node = Array.isArray(node) ? node[Number(index[1])] : undefined;
  }
  return node;
}

function own(node: unknown, key: string): unknown {
  return node !== null && typeof node === 'object' && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
}
