/**
 * The mapping language: YAML rules that turn one JSON document into another, checked against both
 * schemas at load and compiled once into a fast function. See docs/mapping-language.md.
 */
export { loadCodeTable, type CodeTable } from './codes.js';
export { loadMapping, type MappingDefinition } from './load.js';
export { checkMapping, type MappingEnv } from './check.js';
export { compileMapping, mappingSource, type CompiledMapping } from './compile.js';
export { loadMappingTests, runMappingTests, describeFailure, envelopeProbe, checkCaseInputs, type MappingTestSuite, type MappingTestCase, type CaseResult } from './golden.js';
export { FUNCTIONS, FUNCTION_NAMES, stripDiacritics, type FnSpec } from './functions.js';
export { CONFIG_SCHEMA_FILES, mappingSchema, mappingTestSchema, codeTableSchema } from './config-schemas.js';
export { diffEquals, diffContains } from './diff.js';
export { compileCondition } from './condition.js';
