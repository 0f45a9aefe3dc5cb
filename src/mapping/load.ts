/**
 * Loading a mapping file: structure (mapping.schema.json, all errors at once), then the semantic
 * load-time rules (spec.ts: paths, forbidden names, the function allow-list and its arguments,
 * literals, colliding targets). Schemas and code tables are not needed yet: checkMapping does
 * the cross-file checks once everything is loaded.
 */
import type { ConfigIssue } from '../core/issues.js';
import type { SourceFile } from '../core/yaml.js';
import { parseMappingSpec, type MappingPlan } from './spec.js';
import { validateFile } from './validate.js';

export interface MappingDefinition {
  /** Path under mappings/ without .yaml, e.g. "onegate-h56/citizen-lookup.in". */
  id: string;
  file: string;
  /** Source schema short name (path under schemas/ without .json). */
  source: string;
  target: string;
  /** Schema of the request a response mapping answers, read through `$request.…` paths; absent for other mappings. */
  request?: string;
  description?: string;
  /** The whole mapping document as loaded (validated). */
  spec: unknown;
  locate: SourceFile['locate'];
}

export function loadMapping(src: SourceFile, id: string): { mapping?: MappingDefinition; issues: ConfigIssue[] } {
  const structural = validateFile('mapping', src);
  if (src.errors.length) return { issues: structural };
  // the semantic pass is defensive, so it also runs on a structurally broken file: all problems at once
  const { plan, issues: semantic } = parseMappingSpec(src);
  if (structural.length) {
    const extra = semantic.filter((i) => !structural.some((s) => s.line === i.line || s.field === i.field));
    return { issues: [...structural, ...extra].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0)) };
  }
  const issues = semantic;
  if (!plan) return { issues };
  const doc = src.value as { source: string; target: string; request?: string; description?: string };
  const mapping: MappingDefinition = { id, file: src.file, source: doc.source, target: doc.target, spec: src.value, locate: src.locate };
  if (doc.request !== undefined) mapping.request = doc.request;
  if (doc.description !== undefined) mapping.description = doc.description;
  plans.set(mapping, plan);
  return { mapping, issues };
}

/** Plans parsed at load, reused by check and compile (a hand-built definition is parsed on first use). */
const plans = new WeakMap<MappingDefinition, MappingPlan>();

export class MappingSpecError extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(`mapping has ${issues.length} error(s): ${issues.map((i) => `${i.field ?? ''} ${i.message}`.trim()).join('; ')}`);
    this.name = 'MappingSpecError';
  }
}

/** The plan of a definition; throws MappingSpecError if the spec breaks a load-time rule. */
export function planOf(def: MappingDefinition): MappingPlan {
  let plan = plans.get(def);
  if (!plan) {
    const parsed = parseMappingSpec({ file: def.file, locate: def.locate, value: def.spec });
    if (!parsed.plan) throw new MappingSpecError(parsed.issues.filter((i) => i.severity === 'error'));
    plan = parsed.plan;
    plans.set(def, plan);
  }
  return plan;
}
