import { parseSource } from '../../src/core/yaml.js';
import type { ConfigIssue } from '../../src/core/issues.js';
import { SchemaSet, idForName, type JsonSchema } from '../../src/schema/set.js';
import { checkMapping, compileMapping, loadCodeTable, loadMapping, type CodeTable, type CompiledMapping, type MappingDefinition } from '../../src/mapping/index.js';

/** Fictitious citizen used across the suite. */
export const CCCD = '038095999901';
export const NAME = 'Trần Văn Thử';

export function codeTable(yaml: string, file = 'mappings/codes/t.yaml'): CodeTable {
  const { table, issues } = loadCodeTable(parseSource(file, yaml));
  if (!table) throw new Error(`code table did not load: ${JSON.stringify(issues)}`);
  return table;
}

export function tables(...list: CodeTable[]): Map<string, CodeTable> {
  return new Map(list.map((t) => [t.name, t]));
}

/** A mapping document from just its fields (YAML lines indented under fields:). */
export function doc(fields: string, source = 'test/source', target = 'test/target'): string {
  return `source: ${source}\ntarget: ${target}\nfields:\n${fields.replace(/^\n/, '').split('\n').map((l) => (l ? `  ${l}` : l)).join('\n')}\n`;
}

export function load(yaml: string, file = 'mappings/test/m.yaml'): { mapping?: MappingDefinition; issues: ConfigIssue[] } {
  return loadMapping(parseSource(file, yaml), 'test/m');
}

export function loaded(yaml: string): MappingDefinition {
  const { mapping, issues } = load(yaml);
  if (!mapping) throw new Error(`mapping did not load: ${issues.map((i) => `${i.line}: ${i.message}`).join('; ')}`);
  return mapping;
}

export function compile(fields: string, codeTables: Map<string, CodeTable> = new Map()): CompiledMapping {
  return compileMapping(loaded(doc(fields)), { codeTables });
}

export function schemaSet(schemas: Record<string, JsonSchema>): SchemaSet {
  return new SchemaSet(Object.entries(schemas).map(([name, s]) => ({ $schema: 'https://json-schema.org/draft/2020-12/schema', $id: idForName(name), ...s })));
}

export function check(fields: string, schemas: Record<string, JsonSchema>, codeTables: Map<string, CodeTable> = new Map()): ConfigIssue[] {
  return checkMapping(loaded(doc(fields)), { schemas: schemaSet(schemas), codeTables });
}

/** Runs and returns the HubError thrown. */
export function failure(run: () => unknown): { type: string; message: string; detail: Array<{ field?: string; reason: string; code?: string }> } {
  try {
    run();
  } catch (error) {
    return error as never;
  }
  throw new Error('expected the mapping to fail');
}
