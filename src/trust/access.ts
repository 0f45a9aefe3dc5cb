import { HubError, type ErrorDetail } from '../core/errors.js';
import { suggestion } from '../core/suggest.js';
import type { JsonSchema } from '../schema/set.js';
import { PARTICIPANT_FORM, SERVICE_FORM, parseParticipant, parseService } from './identity.js';
import { isPlainObject } from '../core/objects.js';

/**
 * Access rights: which client (participant) may use which service, deny by default.
 *
 * A grant gives a service to a participant or to a named group of participants, for every operation or
 * for named operations only. Grants and groups from the hub config are the baseline; an administrator's
 * changes (grant, revoke, set a group's members) layer on top, each recorded through an injected
 * `AccessChangeLog` before it takes effect, so that no change is ever in force without its record.
 * A revoke may remove a config grant: it is recorded and effective like any other change. `restore`
 * re-applies recorded changes onto the baseline after a restart.
 *
 * Services are service identifiers (`VN/GOV/<agency>/<subsystem>/<service code>[/<version>]`) or
 * hub-local names (a route id such as `citizen-lookup`). A grant on a service identifier without a
 * version covers every version of it; a grant on a versioned identifier covers that version only.
 *
 * `check` runs for every inbound message, so it reads a lookup table built once per change
 * (service → client → granted operations): a few map look-ups, no parsing.
 */

export type AccessSubject = { participant: string } | { group: string };

export interface AccessGrantConfig {
  service: string;
  to: AccessSubject;
  /** Leave out to grant every operation of the service. */
  operations?: string[];
}

export interface AccessRightsConfig {
  /** Group name → member participants. */
  groups?: Record<string, string[]>;
  grants?: AccessGrantConfig[];
}

/** One grant in force. `operations` absent: every operation. */
export interface AccessGrant {
  readonly service: string;
  readonly to: Readonly<AccessSubject>;
  readonly operations?: readonly string[];
}

export type AccessDenialCode = 'no-grant' | 'operation-not-granted' | 'unknown-client';
export type AccessDecision = { allowed: true; grant: AccessGrant } | { allowed: false; code: AccessDenialCode; reason: string };

/** A runtime grant or revoke. On revoke, `operations` removes just those; without it the whole grant goes. */
export interface AccessChange {
  service: string;
  to: AccessSubject;
  operations?: string[];
  reason?: string;
}

export interface GroupMembersChange {
  group: string;
  members: string[];
  reason?: string;
}

export interface AccessChangeRecord {
  /** ISO 8601, UTC. */
  at: string;
  /** Who made the change (an administrator's name, or a participant identifier). */
  actor: string;
  action: 'grant' | 'revoke' | 'group-set';
  /** Absent for group-set. */
  service?: string;
  /** A participant identifier, or `group:<name>`. */
  subject: string;
  operations?: string[];
  /** The group's new members (group-set only). */
  members?: string[];
  reason?: string;
}

/** Where change records go; the message log's database will keep them. */
export interface AccessChangeLog {
  append(record: AccessChangeRecord): Promise<void>;
}

export interface AccessRightsOptions {
  /** Without one, the rights are read-only: runtime changes are refused. */
  changeLog?: AccessChangeLog;
  now?: () => Date;
}

export interface AccessRights {
  check(client: string, service: string, operation?: string): AccessDecision;
  grant(change: AccessChange, actor: string): Promise<AccessChangeRecord>;
  revoke(change: AccessChange, actor: string): Promise<AccessChangeRecord>;
  setGroupMembers(change: GroupMembersChange, actor: string): Promise<AccessChangeRecord>;
  /** Re-applies recorded changes (oldest first) without recording them again; those that no longer apply are skipped. */
  restore(records: readonly AccessChangeRecord[]): Promise<{ applied: number; skipped: Array<{ index: number; reason: string }> }>;
  /** The groups and grants in force, for the admin API. */
  snapshot(): { groups: Record<string, string[]>; grants: AccessGrant[] };
}

// ---------------------------------------------------------------------------------------------
// names and identifiers
// ---------------------------------------------------------------------------------------------

const GROUP_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$/;
const LOCAL_SERVICE = /^[A-Za-z][A-Za-z0-9_.-]{0,127}$/;
const OPERATION = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const VERSION = /^v\d+(?:\.\d+)*$/;
const MAX_ACTOR = 200;
const MAX_REASON = 500;
const GROUP_PREFIX = 'group:';

export const LOCAL_SERVICE_FORM = 'a hub-local service name: a letter, then up to 127 letters, digits, "_", "-" or "."';
export const GROUP_NAME_FORM = 'up to 64 letters, digits, "_", "-" or "." (not starting with ".")';

/** An identifier as it may appear in a reason: shortened, control characters replaced. */
function quote(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return JSON.stringify(shown.replace(/[\u0000-\u001f\u007f]/g, '?'));
}

function subjectKey(to: AccessSubject): string {
  return 'participant' in to ? to.participant : `${GROUP_PREFIX}${to.group}`;
}

function subjectOf(key: string): AccessSubject {
  return key.startsWith(GROUP_PREFIX) ? { group: key.slice(GROUP_PREFIX.length) } : { participant: key };
}

/** The versionless form of a versioned service identifier, whose grants also cover it. */
function versionlessOf(service: string): string | undefined {
  const cut = service.lastIndexOf('/');
  if (cut < 0 || !VERSION.test(service.slice(cut + 1))) return undefined;
  let slashes = 0;
  for (let i = 0; i < service.length; i++) if (service.charCodeAt(i) === 47) slashes++;
  return slashes === 5 ? service.slice(0, cut) : undefined;
}

// ---------------------------------------------------------------------------------------------
// problems: collected, then thrown as one HubError naming every field
// ---------------------------------------------------------------------------------------------

interface Problem extends ErrorDetail {
  identity: boolean;
}

class Problems {
  readonly list: Problem[] = [];

  add(field: string, reason: string, code: string, identity = false): void {
    this.list.push({ field, reason, code, identity });
  }

  participant(field: string, value: unknown): value is string {
    return this.identifier(field, value, () => parseParticipant(value as string), PARTICIPANT_FORM);
  }

  service(field: string, value: unknown): value is string {
    if (typeof value === 'string' && !value.includes('/')) {
      if (LOCAL_SERVICE.test(value)) return true;
      this.add(field, `expected ${SERVICE_FORM}, or ${LOCAL_SERVICE_FORM}`, 'local-service-name', true);
      return false;
    }
    return this.identifier(field, value, () => parseService(value as string), SERVICE_FORM);
  }

  private identifier(field: string, value: unknown, parse: () => unknown, form: string): value is string {
    if (typeof value !== 'string') {
      this.add(field, `expected ${form}`, 'not-a-string', true);
      return false;
    }
    try {
      parse();
      return true;
    } catch (error) {
      const detail = error instanceof HubError ? error.detail[0] : undefined;
      this.add(field, detail?.reason ?? `expected ${form}`, detail?.code ?? 'bad-identity', true);
      return false;
    }
  }

  /** Throws when there is any problem: trust.bad-identity when all are identifiers, client.bad-request otherwise. */
  throwIfAny(what: string): void {
    if (!this.list.length) return;
    const identityOnly = this.list.every((p) => p.identity);
    const first = this.list[0]!;
    const more = this.list.length > 1 ? ` (+${this.list.length - 1} more)` : '';
    throw new HubError(
      identityOnly ? 'trust.bad-identity' : 'client.bad-request',
      `${what}: ${first.field}: ${first.reason}${more}`,
      { status: 400, detail: this.list.map(({ field, reason, code }) => ({ field, reason, code })) },
    );
  }
}

/** `grants[2].to`, or just `to` for a runtime change, whose fields are named from its root. */
const fieldPath = (at: string, key: string) => (at ? `${at}.${key}` : key);

function checkKeys(problems: Problems, at: string, value: Record<string, unknown>, allowed: string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) problems.add(fieldPath(at, key), `unknown key: ${suggestion(key, allowed, 'keys')}`, 'unknown-key');
  }
}


function checkOperations(problems: Problems, at: string, operations: unknown): operations is string[] | undefined {
  if (operations === undefined) return true;
  if (!Array.isArray(operations) || operations.length === 0) {
    problems.add(at, 'give a non-empty list of operation names, or leave operations out to grant every operation', 'bad-operations');
    return false;
  }
  let ok = true;
  operations.forEach((operation: unknown, i) => {
    if (typeof operation !== 'string' || !OPERATION.test(operation)) {
      problems.add(`${at}[${i}]`, 'an operation name is up to 128 letters, digits, "_", "-" or "."', 'bad-operation');
      ok = false;
    }
  });
  return ok;
}

/** `declared`: the groups a grant may name; undefined when any well-formed name will do (a revoke). */
function checkSubject(problems: Problems, at: string, to: unknown, declared: ReadonlyMap<string, unknown> | undefined): to is AccessSubject {
  if (!isPlainObject(to) || Object.keys(to).length !== 1 || !('participant' in to || 'group' in to)) {
    problems.add(at, 'give exactly one of { participant: <identifier> } or { group: <name> }', 'bad-subject');
    return false;
  }
  if ('participant' in to) return problems.participant(fieldPath(at, 'participant'), to.participant);
  if (!checkGroupName(problems, fieldPath(at, 'group'), to.group)) return false;
  if (declared && !declared.has(to.group)) {
    problems.add(fieldPath(at, 'group'), `unknown group: ${suggestion(to.group, [...declared.keys()], 'groups')}`, 'unknown-group');
    return false;
  }
  return true;
}

function checkGrant(problems: Problems, at: string, grant: unknown, declared: ReadonlyMap<string, unknown> | undefined, extraKeys: string[] = []): grant is AccessGrantConfig {
  if (!isPlainObject(grant)) {
    problems.add(at || 'change', 'a grant is { service, to, operations? }', 'bad-grant');
    return false;
  }
  checkKeys(problems, at, grant, ['service', 'to', 'operations', ...extraKeys]);
  const service = problems.service(fieldPath(at, 'service'), grant.service);
  const subject = checkSubject(problems, fieldPath(at, 'to'), grant.to, declared);
  const operations = checkOperations(problems, fieldPath(at, 'operations'), grant.operations);
  return service && subject && operations;
}

function checkMembers(problems: Problems, at: string, members: unknown): members is string[] {
  if (!Array.isArray(members)) {
    problems.add(at, 'give the list of member participants (it may be empty)', 'bad-members');
    return false;
  }
  let ok = true;
  members.forEach((member: unknown, i) => {
    ok = problems.participant(`${at}[${i}]`, member) && ok;
  });
  return ok;
}

function checkGroupName(problems: Problems, at: string, name: unknown): name is string {
  if (typeof name === 'string' && GROUP_NAME.test(name)) return true;
  problems.add(at, `a group name is ${GROUP_NAME_FORM}`, 'bad-group-name');
  return false;
}

function checkActor(actor: unknown): string {
  if (typeof actor !== 'string' || actor.trim().length === 0 || actor.length > MAX_ACTOR || /[\u0000-\u001f\u007f]/.test(actor)) {
    throw new HubError('client.bad-request', 'Thiếu người thực hiện thay đổi / every access change needs an actor', {
      status: 400,
      detail: [{ field: 'actor', reason: `name who makes the change: 1 to ${MAX_ACTOR} printable characters`, code: 'bad-actor' }],
    });
  }
  return actor;
}

function checkReason(problems: Problems, reason: unknown): void {
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > MAX_REASON)) {
    problems.add('reason', `a reason is text of at most ${MAX_REASON} characters`, 'bad-reason');
  }
}

// ---------------------------------------------------------------------------------------------
// state: groups and grants in force, and the lookup table built from them
// ---------------------------------------------------------------------------------------------

/** Granted operations of one (service, subject): every one, or the named ones. */
type Operations = 'all' | ReadonlySet<string>;

interface State {
  groups: ReadonlyMap<string, readonly string[]>;
  /** key: service + "\n" + subject key */
  grants: ReadonlyMap<string, { service: string; subject: string; operations: Operations }>;
}

/** What one client holds on one service. */
interface Holding {
  all?: AccessGrant;
  byOperation: Map<string, AccessGrant>;
}

interface Index {
  services: Map<string, Map<string, Holding>>;
  knownClients: Set<string>;
}

const grantKey = (service: string, subject: string) => `${service}\n${subject}`;

function toAccessGrant(service: string, subject: string, operations: Operations): AccessGrant {
  const to = Object.freeze(subjectOf(subject));
  return Object.freeze(operations === 'all' ? { service, to } : { service, to, operations: Object.freeze([...operations].sort()) });
}

function buildIndex(state: State): Index {
  const services = new Map<string, Map<string, Holding>>();
  const knownClients = new Set<string>();
  for (const members of state.groups.values()) for (const member of members) knownClients.add(member);
  // Direct grants go in first, so that a client holding both a direct and a group grant is shown the direct one.
  const ordered = [...state.grants.values()].sort((a, b) => Number(a.subject.startsWith(GROUP_PREFIX)) - Number(b.subject.startsWith(GROUP_PREFIX)));
  for (const { service, subject, operations } of ordered) {
    const grant = toAccessGrant(service, subject, operations);
    const to = subjectOf(subject);
    const clients = 'participant' in to ? [to.participant] : (state.groups.get(to.group) ?? []);
    let byClient = services.get(service);
    if (!byClient) services.set(service, (byClient = new Map()));
    for (const client of clients) {
      knownClients.add(client);
      let holding = byClient.get(client);
      if (!holding) byClient.set(client, (holding = { byOperation: new Map() }));
      if (operations === 'all') holding.all ??= grant;
      else for (const operation of operations) if (!holding.byOperation.has(operation)) holding.byOperation.set(operation, grant);
    }
  }
  return { services, knownClients };
}

function mergeOperations(a: Operations | undefined, b: Operations): Operations {
  if (a === undefined) return b;
  if (a === 'all' || b === 'all') return 'all';
  return new Set([...a, ...b]);
}

function notApplicable(type: 'client.not-found' | 'client.bad-request', message: string, detail: ErrorDetail): HubError {
  return new HubError(type, message, { status: type === 'client.not-found' ? 404 : 400, detail: [detail] });
}

/** The state after one change; throws when the change does not apply to `state`. */
function applyChange(state: State, action: AccessChangeRecord['action'], change: { service?: string; subject: string; operations?: string[]; members?: string[] }): State {
  if (action === 'group-set') {
    const group = change.subject.slice(GROUP_PREFIX.length);
    const groups = new Map(state.groups);
    groups.set(group, Object.freeze([...new Set(change.members ?? [])]));
    return { groups, grants: state.grants };
  }
  const service = change.service!;
  const key = grantKey(service, change.subject);
  const grants = new Map(state.grants);
  const current = grants.get(key);
  if (action === 'grant') {
    const subject = subjectOf(change.subject);
    if ('group' in subject && !state.groups.has(subject.group)) {
      throw notApplicable('client.bad-request', `Nhóm chưa được khai báo / unknown group ${quote(subject.group)}`, {
        field: 'to.group', reason: `unknown group: ${suggestion(subject.group, [...state.groups.keys()], 'groups')}`, code: 'unknown-group',
      });
    }
    const operations = mergeOperations(current?.operations, change.operations ? new Set(change.operations) : 'all');
    grants.set(key, { service, subject: change.subject, operations });
    return { groups: state.groups, grants };
  }
  // revoke
  if (!current) {
    throw notApplicable('client.not-found', `Không có quyền này để thu hồi / no such grant to revoke: ${quote(service)} for ${quote(change.subject)}`, {
      field: 'service', reason: 'nothing is granted on this service to this subject', code: 'no-such-grant',
    });
  }
  if (!change.operations) {
    grants.delete(key);
    return { groups: state.groups, grants };
  }
  if (current.operations === 'all') {
    throw notApplicable('client.bad-request', 'Quyền này gồm mọi thao tác / the grant covers every operation', {
      field: 'operations', reason: 'revoke the whole grant, then grant the operations to keep', code: 'revoke-from-all',
    });
  }
  const held = current.operations;
  const absent = change.operations.filter((operation) => !held.has(operation));
  if (absent.length) {
    throw notApplicable('client.not-found', 'Thao tác chưa được cấp quyền / operation not granted', {
      field: 'operations', reason: `not granted, so not revocable: ${absent.slice(0, 10).join(', ')}`, code: 'no-such-grant',
    });
  }
  const left = new Set([...held].filter((operation) => !change.operations!.includes(operation)));
  if (left.size) grants.set(key, { ...current, operations: left });
  else grants.delete(key);
  return { groups: state.groups, grants };
}

// ---------------------------------------------------------------------------------------------
// the rights
// ---------------------------------------------------------------------------------------------

function baselineOf(config: AccessRightsConfig): State {
  const problems = new Problems();
  const groups = new Map<string, readonly string[]>();
  const grants = new Map<string, { service: string; subject: string; operations: Operations }>();
  if (!isPlainObject(config)) {
    problems.add('access', 'the access rights are { groups?, grants? }', 'bad-access-config');
    problems.throwIfAny('Quyền truy cập không hợp lệ / invalid access rights');
  }
  checkKeys(problems, '', config as unknown as Record<string, unknown>, ['groups', 'grants']);

  if (config.groups !== undefined && !isPlainObject(config.groups)) {
    problems.add('groups', 'groups are { <name>: [<participant>, …] }', 'bad-groups');
  } else {
    for (const [name, members] of Object.entries(config.groups ?? {})) {
      const okName = checkGroupName(problems, `groups.${name}`, name);
      if (checkMembers(problems, `groups.${name}`, members) && okName) groups.set(name, Object.freeze([...new Set(members)]));
      else if (okName) groups.set(name, []); // declared, so grants naming it are not also reported as unknown
    }
  }

  if (config.grants !== undefined && !Array.isArray(config.grants)) {
    problems.add('grants', 'grants are a list of { service, to, operations? }', 'bad-grants');
  } else {
    (config.grants ?? []).forEach((grant, i) => {
      if (!checkGrant(problems, `grants[${i}]`, grant, groups)) return;
      const subject = subjectKey(grant.to);
      const key = grantKey(grant.service, subject);
      const operations = mergeOperations(grants.get(key)?.operations, grant.operations ? new Set(grant.operations) : 'all');
      grants.set(key, { service: grant.service, subject, operations });
    });
  }
  problems.throwIfAny('Quyền truy cập không hợp lệ / invalid access rights');
  return { groups, grants };
}

/** Records come back from storage: refuse one that could not have been written by this module. */
function recordProblem(record: AccessChangeRecord): string | undefined {
  if (!isPlainObject(record) || typeof record.subject !== 'string') return 'malformed record: no subject';
  if (record.action === 'group-set') {
    return record.subject.startsWith(GROUP_PREFIX) && Array.isArray(record.members) ? undefined : 'malformed record: group-set needs a group subject and members';
  }
  if (record.action !== 'grant' && record.action !== 'revoke') return 'malformed record: unknown action';
  if (typeof record.service !== 'string') return 'malformed record: no service';
  if (record.operations !== undefined && !Array.isArray(record.operations)) return 'malformed record: operations is not a list';
  return undefined;
}

function grantFor(holding: Holding, operation: string | undefined): AccessGrant | undefined {
  return holding.all ?? (operation === undefined ? undefined : holding.byOperation.get(operation));
}

function denied(code: AccessDenialCode, reason: string): AccessDecision {
  return { allowed: false, code, reason };
}

/** Deny by default: a client may use a service only through a grant. Throws on an invalid config, naming every problem. */
export function createAccessRights(config: AccessRightsConfig, options: AccessRightsOptions = {}): AccessRights {
  const now = options.now ?? (() => new Date());
  const { changeLog } = options;
  let state = baselineOf(config);
  let index = buildIndex(state);

  // Changes run one at a time, in call order: each validates against, and records, the state the
  // previous one left, so records are written in the order the changes took effect.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };

  const commit = async (record: AccessChangeRecord, next: State): Promise<AccessChangeRecord> => {
    if (!changeLog) {
      throw new HubError('server.config', 'Quyền truy cập chỉ đọc: chưa có nơi ghi nhật ký thay đổi / access rights are read-only: no change log is configured', { status: 500 });
    }
    // recorded first: a change whose record could not be written never takes effect
    await changeLog.append(record);
    state = next;
    index = buildIndex(state);
    return record;
  };

  const grantLike = (action: 'grant' | 'revoke', change: AccessChange, actor: string) =>
    serially(async () => {
      const who = checkActor(actor);
      const problems = new Problems();
      // a revoke may name a group that config no longer declares: the grant to it is what must exist
      if (checkGrant(problems, '', change, action === 'grant' ? state.groups : undefined, ['reason'])) checkReason(problems, change.reason);
      problems.throwIfAny(action === 'grant' ? 'Không cấp được quyền / cannot grant' : 'Không thu hồi được quyền / cannot revoke');
      const subject = subjectKey(change.to);
      const operations = change.operations ? [...new Set(change.operations)] : undefined;
      const next = applyChange(state, action, { service: change.service, subject, operations });
      const record: AccessChangeRecord = { at: now().toISOString(), actor: who, action, service: change.service, subject };
      if (operations) record.operations = operations;
      if (change.reason !== undefined) record.reason = change.reason;
      return commit(record, next);
    });

  return {
    check(client, service, operation) {
      if (!index.knownClients.has(client)) {
        return denied('unknown-client', `client ${quote(String(client))} is not known to this hub's access rights: it is in no grant and no group`);
      }
      const exact = index.services.get(service)?.get(client);
      const byExact = exact && grantFor(exact, operation);
      if (byExact) return { allowed: true, grant: byExact };
      // only when the exact service did not allow it: is there a grant on every version of it?
      const versionless = versionlessOf(service);
      const covering = versionless === undefined ? undefined : index.services.get(versionless)?.get(client);
      const byCovering = covering && grantFor(covering, operation);
      if (byCovering) return { allowed: true, grant: byCovering };
      if (!exact && !covering) return denied('no-grant', `client ${quote(client)} has no grant on service ${quote(service)}`);
      return denied(
        'operation-not-granted',
        operation === undefined
          ? `client ${quote(client)} holds service ${quote(service)} for named operations only, and the request names none`
          : `client ${quote(client)} may not use operation ${quote(operation)} of service ${quote(service)}`,
      );
    },

    grant: (change, actor) => grantLike('grant', change, actor),
    revoke: (change, actor) => grantLike('revoke', change, actor),

    setGroupMembers: (change, actor) =>
      serially(async () => {
        const who = checkActor(actor);
        const problems = new Problems();
        if (!isPlainObject(change)) {
          problems.add('change', 'a group change is { group, members, reason? }', 'bad-change');
        } else {
          checkKeys(problems, '', change as unknown as Record<string, unknown>, ['group', 'members', 'reason']);
          checkGroupName(problems, 'group', change.group);
          checkMembers(problems, 'members', change.members);
          checkReason(problems, change.reason);
        }
        problems.throwIfAny('Không đặt được thành viên nhóm / cannot set the group members');
        const members = [...new Set(change.members)];
        const subject = `${GROUP_PREFIX}${change.group}`;
        const next = applyChange(state, 'group-set', { subject, members });
        const record: AccessChangeRecord = { at: now().toISOString(), actor: who, action: 'group-set', subject, members };
        if (change.reason !== undefined) record.reason = change.reason;
        return commit(record, next);
      }),

    restore: (records) =>
      serially(async () => {
        let next = state;
        let applied = 0;
        const skipped: Array<{ index: number; reason: string }> = [];
        records.forEach((record, i) => {
          const problem = recordProblem(record);
          if (problem) {
            skipped.push({ index: i, reason: problem });
            return;
          }
          try {
            next = applyChange(next, record.action, record);
            applied++;
          } catch (error) {
            if (!(error instanceof HubError)) throw error;
            skipped.push({ index: i, reason: error.detail[0]?.reason ?? error.message });
          }
        });
        state = next;
        index = buildIndex(state);
        return { applied, skipped };
      }),

    snapshot() {
      return {
        groups: Object.fromEntries([...state.groups].map(([name, members]) => [name, [...members]])),
        grants: [...state.grants.values()].map(({ service, subject, operations }) => toAccessGrant(service, subject, operations)),
      };
    },
  };
}

/**
 * JSON Schema (2020-12) of the access rights in the hub config; src/config/write-schemas.ts writes it into
 * schemas/config/hub.schema.json as `properties.access`. Identifiers are checked by createAccessRights with
 * trust/identity.ts.
 */
export function accessRightsConfigSchema(): JsonSchema {
  const participant = { type: 'string', minLength: 1, description: `Participant: ${PARTICIPANT_FORM}.` };
  return {
    description: 'Quyền truy cập dịch vụ / access rights, deny by default: a message may use a service only if its client (participant) is granted it, directly or through a group.',
    type: 'object',
    additionalProperties: false,
    properties: {
      groups: {
        type: 'object',
        description: 'Named groups of participants, for grants to many at once.',
        propertyNames: { pattern: GROUP_NAME.source },
        additionalProperties: { type: 'array', items: participant, uniqueItems: true },
      },
      grants: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['service', 'to'],
          properties: {
            service: { type: 'string', minLength: 1, description: `Service: ${SERVICE_FORM} (without a version: every version), or ${LOCAL_SERVICE_FORM}.` },
            to: {
              oneOf: [
                { type: 'object', additionalProperties: false, required: ['participant'], properties: { participant } },
                { type: 'object', additionalProperties: false, required: ['group'], properties: { group: { type: 'string', pattern: GROUP_NAME.source, description: 'A group declared under groups.' } } },
              ],
            },
            operations: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              items: { type: 'string', pattern: OPERATION.source },
              description: 'Leave out to grant every operation of the service.',
            },
          },
        },
      },
    },
  };
}
