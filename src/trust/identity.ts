import { HubError } from '../core/errors.js';
import { isAgencyCode } from '../schema/formats.js';

/**
 * X-Road-style identifiers of participants and services.
 *
 *   participant  VN/GOV/<agency code>/<subsystem>     agency code per Decision 20/2020/QĐ-TTg, e.g. 000.00.00.H56
 *                VN/COM/<tax code>/<subsystem>        enterprise tax code (mã số thuế): 10 digits, or 10 digits-3 digits
 *   service      <participant>/<service code>[/<version>]   e.g. VN/GOV/000.00.00.H56/LIENTHONG/citizen-lookup/v1
 *
 * Pure functions. Errors are HubError `trust.bad-identity` (400) that name the faulty part; they quote the
 * identifier itself (shortened) and nothing else.
 */

export type MemberClass = 'GOV' | 'COM';

export interface ParticipantId {
  /** Always `VN`. */
  instance: 'VN';
  memberClass: MemberClass;
  /** Agency code (GOV) or tax code (COM). */
  memberCode: string;
  subsystem: string;
}

export interface ServiceId extends ParticipantId {
  serviceCode: string;
  /** `v1`, `v2.1`, … when the identifier names one. */
  version?: string;
}

const TAX_CODE = /^\d{10}(?:-\d{3})?$/;
const SUBSYSTEM = /^[A-Za-z0-9_-]{1,64}$/;
const SERVICE_CODE = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const VERSION = /^v\d+(?:\.\d+)*$/;

export const PARTICIPANT_FORM = 'VN/GOV/<agency code like 000.00.00.H56>/<subsystem> or VN/COM/<10-digit tax code>/<subsystem>';
export const SERVICE_FORM = '<participant>/<service code>[/<version like v1>]';

/** The identifier as it may appear in a message: at most 120 characters, control characters replaced. */
function quote(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 117)}...` : text;
  return JSON.stringify(shown.replace(/[\u0000-\u001f\u007f]/g, '?'));
}

function bad(kind: 'participant' | 'service', text: unknown, reason: string, code: string): HubError {
  const what = kind === 'participant' ? 'mã định danh thành viên / participant identifier' : 'mã định danh dịch vụ / service identifier';
  const shown = typeof text === 'string' ? ` ${quote(text)}` : '';
  return new HubError('trust.bad-identity', `${what}${shown} không hợp lệ / is invalid: ${reason}`, {
    status: 400,
    detail: [{ field: kind, reason, code }],
  });
}

/** Checks the four parts of a participant; returns the complaint, or the parsed participant. */
function participantParts(parts: string[]): ParticipantId | { reason: string; code: string } {
  const [instance, memberClass, memberCode, subsystem] = parts as [string, string, string, string];
  if (instance !== 'VN') return { reason: 'the instance (first part) must be VN', code: 'instance' };
  if (memberClass === 'GOV') {
    if (!isAgencyCode(memberCode)) return { reason: 'the agency code (third part) must look like 000.00.00.H56', code: 'agency-code' };
  } else if (memberClass === 'COM') {
    if (!TAX_CODE.test(memberCode)) return { reason: 'the tax code (third part) must be 10 digits, or 10 digits, a hyphen and 3 digits', code: 'tax-code' };
  } else {
    return { reason: 'the member class (second part) must be GOV or COM', code: 'member-class' };
  }
  if (!SUBSYSTEM.test(subsystem)) return { reason: 'the subsystem (fourth part) must be 1 to 64 letters, digits, "_" or "-"', code: 'subsystem' };
  return { instance: 'VN', memberClass, memberCode, subsystem };
}

export function parseParticipant(text: string): ParticipantId {
  if (typeof text !== 'string' || text.length === 0) throw bad('participant', text, `expected ${PARTICIPANT_FORM}`, 'empty');
  const parts = text.split('/');
  if (parts.length !== 4) throw bad('participant', text, `expected 4 parts separated by "/": ${PARTICIPANT_FORM}`, 'parts');
  const parsed = participantParts(parts);
  if ('reason' in parsed) throw bad('participant', text, parsed.reason, parsed.code);
  return parsed;
}

export function parseService(text: string): ServiceId {
  if (typeof text !== 'string' || text.length === 0) throw bad('service', text, `expected ${SERVICE_FORM}`, 'empty');
  const parts = text.split('/');
  if (parts.length !== 5 && parts.length !== 6) throw bad('service', text, `expected 5 or 6 parts separated by "/": ${SERVICE_FORM}`, 'parts');
  const participant = participantParts(parts.slice(0, 4));
  if ('reason' in participant) throw bad('service', text, participant.reason, participant.code);
  const serviceCode = parts[4]!;
  if (!SERVICE_CODE.test(serviceCode)) {
    throw bad('service', text, 'the service code (fifth part) must start with a letter and have at most 64 letters, digits, "_" or "-"', 'service-code');
  }
  if (parts.length === 6) {
    const version = parts[5]!;
    if (!VERSION.test(version)) throw bad('service', text, 'the version (sixth part) must look like v1 or v2.1', 'version');
    return { ...participant, serviceCode, version };
  }
  return { ...participant, serviceCode };
}

export function isParticipant(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const parts = text.split('/');
  return parts.length === 4 && !('reason' in participantParts(parts));
}

/** Without throwing: the hub asks this of every delivery's destination, and building an error costs a stack trace. */
export function isService(text: unknown): boolean {
  if (typeof text !== 'string') return false;
  const parts = text.split('/');
  if (parts.length !== 5 && parts.length !== 6) return false;
  if ('reason' in participantParts(parts.slice(0, 4))) return false;
  return SERVICE_CODE.test(parts[4]!) && (parts.length === 5 || VERSION.test(parts[5]!));
}

/** The text form of a participant; throws `trust.bad-identity` when a part is invalid. */
export function formatParticipant(id: ParticipantId): string {
  const text = `${id.instance}/${id.memberClass}/${id.memberCode}/${id.subsystem}`;
  parseParticipant(text);
  return text;
}

/** The participant that offers a service. */
export function serviceParticipant(id: ServiceId): ParticipantId {
  return { instance: id.instance, memberClass: id.memberClass, memberCode: id.memberCode, subsystem: id.subsystem };
}
