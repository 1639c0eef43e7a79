/**
 * @module contracts/nul-character — finds U+0000 (NUL) in a value's strings.
 *
 * PostgreSQL stores neither a NUL in `text` nor `\u0000` in `jsonb`, so every string bound for it is checked at
 * its boundary (dataset lines in the parser, GraphQL arguments in the api's input-validation plugin) and the
 * caller gets a typed error naming where the NUL is, instead of a database error.
 */

/** The character PostgreSQL refuses in text and jsonb. */
export const NUL_CHARACTER = "\u0000";

function segment(parent: string, key: string): string {
  const name = key.includes(NUL_CHARACTER) ? key.replaceAll(NUL_CHARACTER, "\\u0000") : key;
  return parent === "" ? name : `${parent}.${name}`;
}

/**
 * The path of the first string in `value` (a string itself, an array element, an object key or value, at any
 * depth) that contains U+0000, or null when there is none. Paths are dotted with `[i]` for array elements,
 * below `root` (e.g. `input.sampling.stop[1]`; in a key holding a NUL, it is written `\u0000`). Walks iteratively (no
 * recursion limit); visits own enumerable keys of plain objects and class instances, ignores other values.
 */
export function findNulCharacter(value: unknown, root = ""): string | null {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    if (typeof current === "string") {
      if (current.includes(NUL_CHARACTER)) return path;
    } else if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) stack.push([current[i], `${path}[${i}]`]);
    } else if (typeof current === "object" && current !== null) {
      const keys = Object.keys(current);
      for (const key of keys) if (key.includes(NUL_CHARACTER)) return segment(path, key);
      for (let i = keys.length - 1; i >= 0; i--) stack.push([(current as Record<string, unknown>)[keys[i]!], segment(path, keys[i]!)]);
    }
  }
  return null;
}
