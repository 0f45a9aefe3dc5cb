/** JSON Pointers (RFC 6901): "/properties/a~1b" is the path ["properties", "a/b"]. A leading "#" (a URI fragment) is allowed. */

/** The keys of a pointer, unescaped. */
export function pointerToPath(pointer: string): string[] {
  return pointer.replace(/^#/, '').split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The pointer of a path, escaped: the inverse of pointerToPath. */
export function pathToPointer(path: readonly string[]): string {
  return path.map((t) => `/${t.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/** The value at a path of keys, or undefined when the document has nothing there. */
export function valueAtPath(root: unknown, path: readonly string[]): unknown {
  let node = root;
  for (const key of path) {
    if (!node || typeof node !== 'object' || !Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

/** The value at a JSON pointer ("#/properties/auth" or "/auth"), or undefined. */
export function atPointer(root: unknown, pointer: string): unknown {
  return valueAtPath(root, pointerToPath(pointer));
}
