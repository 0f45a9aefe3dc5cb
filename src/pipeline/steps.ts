import { X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { HubError, toHubError } from '../core/errors.js';
import { maskDigitRuns } from '../core/personal-data.js';
import { createConformer } from '../codec/conform.js';
import { decodeJson } from '../codec/json.js';
import { decodeSoap, encodeSoap, soapActionHeader, soapContentType } from '../codec/soap.js';
import type { Registry } from '../config/registry.js';
import type { ConnectorConfig, OperationConfig } from '../config/types.js';
import { toErrorDetails } from '../schema/validation-errors.js';
import { signSoapEnvelope, verifySoapEnvelope } from '../trust/xml-signature.js';
import { checksumSettingConfig, compileChecksum, type ChecksumConfig, type CompiledChecksum } from '../trust/checksum.js';
import type { Peer, PeerResponse } from '../transport/index.js';
import { readPath } from './paths.js';

/**
 * The steps a message takes, shared by the inbound path (inbound.ts) and the delivery path
 * (deliver.ts) so that a replayed delivery goes exactly the way the first attempt went.
 */
export type ErrorDetails = ReturnType<typeof toErrorDetails>;

export function validate(registry: Registry, schemaName: string, value: unknown, failure: (detail: ErrorDetails) => HubError): void {
  const validator = registry.validators.get(schemaName);
  if (!validator) throw new HubError('server.missing-schema', `schema ${schemaName} is not loaded`, { status: 500 });
  if (!validator(value)) throw failure(toErrorDetails(validator.errors ?? []));
}

/** `request`: for a response or reply mapping, the system's request of the exchange (what `$request` paths read). */
export function mapWith(registry: Registry, mappingId: string, value: unknown, request?: unknown): Record<string, unknown> {
  const mapping = registry.mappings.get(mappingId);
  if (!mapping) throw new HubError('server.missing-mapping', `mapping ${mappingId} is not loaded`, { status: 500 });
  return mapping.run(value, request);
}

/**
 * XML has no arrays and no empty objects: native messages of SOAP systems are reshaped to their schema
 * (one element → a one-item list, an empty element → {}) before validation. Plans are prepared once.
 */
export function conformers(registry: Registry): (schemaName: string, value: unknown) => unknown {
  const prepared = new Map<string, (value: unknown) => unknown>();
  for (const connector of registry.connectors.values()) {
    if (connector.transport !== 'soap') continue;
    for (const op of Object.values(connector.operations)) {
      for (const name of [op.request.schema, op.response?.schema]) {
        const resolved = name ? registry.schemas.byName(name) : undefined;
        if (name && resolved) prepared.set(name, createConformer(resolved.schema, registry.schemas, resolved.baseId));
      }
    }
  }
  return (schemaName, value) => prepared.get(schemaName)?.(value) ?? value;
}

/** The hub, not the mapping, writes the envelope: ids and times are facts about this passage. */
export function stamp(message: Record<string, unknown>, envelope: Record<string, unknown>): Record<string, unknown> {
  return { ...message, ...envelope };
}

/** Asia/Ho_Chi_Minh is UTC+07:00 all year. */
export function isoVn(date: Date): string {
  return new Date(date.getTime() + 7 * 3_600_000).toISOString().replace(/\.\d{3}Z$/, '+07:00');
}

/**
 * WS-Security with the SOAP peers that want it (connector `wsSecurity`): `seal` signs an envelope the hub
 * sends with the hub's key; `open` verifies one the peer sent against the peer's pinned certificate before
 * anything parses it. Connectors without it pass through unchanged.
 */
export interface SoapSecurity {
  seal(connector: ConnectorConfig, envelope: string): string;
  open(connector: ConnectorConfig, body: Buffer): void;
}

export const noSoapSecurity: SoapSecurity = { seal: (_c, envelope) => envelope, open: () => undefined };

export function soapSecurity(registry: Registry, signer?: { key: KeyObject; certificatePem: string }): SoapSecurity {
  const pinned = new Map<string, X509Certificate[]>();
  for (const connector of registry.connectors.values()) {
    if (connector.wsSecurity) pinned.set(connector.id, [new X509Certificate(readFileSync(connector.wsSecurity.peerCertificateFile))]);
  }
  if (pinned.size === 0) return noSoapSecurity;
  return {
    seal(connector, envelope) {
      const ws = connector.wsSecurity;
      if (!ws?.sign) return envelope;
      if (!signer) throw new HubError('server.no-trust', `${connector.id} wants signed SOAP but this hub has no key (trust:)`, { status: 500 });
      return signSoapEnvelope(envelope, signer, { timestampTtlSeconds: ws.timestampTtlSeconds });
    },
    open(connector, body) {
      const ws = connector.wsSecurity;
      if (!ws?.requireSigned) return;
      verifySoapEnvelope(body, { certificates: pinned.get(connector.id)!, maxTimestampLifetimeSeconds: ws.maxTimestampLifetimeSeconds });
    },
  };
}

/** Sends a native message to a destination operation in its transport's form (SOAP envelope or JSON). */
export async function send(peer: Peer, connector: ConnectorConfig, operation: OperationConfig, native: Record<string, unknown>, ids: { messageId: string; correlationId: string; idempotencyKey: string }, security: SoapSecurity = noSoapSecurity): Promise<PeerResponse> {
  const headers: Record<string, string> = { ...(operation.headers ?? {}), 'x-correlation-id': ids.correlationId, 'x-message-id': ids.messageId };
  if (connector.transport === 'soap') {
    const soap = connector.soap!;
    headers['content-type'] = soapContentType(soap.version, operation.soapAction);
    if (soap.version === '1.1') headers.soapaction = soapActionHeader(operation.soapAction ?? '');
    const body = security.seal(connector, encodeSoap({ version: soap.version, body: native, namespace: soap.namespace, prefix: soap.prefix, qualifyChildren: soap.qualifyChildren }));
    return peer.send({ path: operation.path ?? '/', method: 'POST', headers, body, idempotencyKey: ids.idempotencyKey });
  }
  headers['content-type'] = 'application/json; charset=utf-8';
  headers.accept = 'application/json';
  return peer.send({ path: operation.path ?? '/', method: 'POST', headers, json: native, idempotencyKey: ids.idempotencyKey });
}

/** Reads a destination's answer: SOAP faults and HTTP errors become transport errors naming the peer. */
export function decodeAnswer(connector: ConnectorConfig, answer: { status: number; body: Buffer }, security: SoapSecurity = noSoapSecurity): unknown {
  try {
    if (connector.transport === 'soap') {
      // A signed peer's answer is verified before it is parsed; an unsigned fault of a signing peer is refused too.
      security.open(connector, answer.body);
      const message = decodeSoap(answer.body);
      if (message.fault) {
        const code = peerText(message.fault.code, 64);
        const reason = peerText(message.fault.reason);
        throw new HubError('transport.peer-fault', `${connector.name} trả lỗi SOAP Fault / the peer answered with a SOAP fault: ${code}: ${reason}`, {
          status: 502, detail: [{ reason, code }],
        });
      }
      if (answer.status >= 300) throw peerStatus(connector, answer.status);
      return message.body;
    }
    if (answer.status >= 300) throw peerStatus(connector, answer.status);
    return answer.body.length ? decodeJson(answer.body) : {};
  } catch (error) {
    const hubError = toHubError(error);
    // An answer that fails its signature check is the peer's (or the path's) fault, not the caller's.
    if (hubError.stage === 'trust') throw hubError.withStatus(502);
    if (hubError.stage === 'client') {
      // The peer sent something we cannot read: its fault, not the caller's.
      if (answer.status >= 300) throw peerStatus(connector, answer.status);
      throw new HubError('transport.bad-response', `Câu trả lời của ${connector.id} không đọc được / unreadable answer from the peer: ${hubError.message}`, { status: 502, detail: hubError.detail });
    }
    throw hubError;
  }
}

function peerStatus(connector: ConnectorConfig, status: number): HubError {
  return new HubError('transport.peer-error', `${connector.name} trả mã HTTP ${status} / the peer answered HTTP ${status}`, { status: 502, detail: [{ reason: `HTTP ${status} from ${connector.id}`, code: `http-${status}` }] });
}


/**
 * Message-level checksums (payment platforms), compiled once: `sign` sets the checksum field on a native
 * message the hub sends, `check` verifies it on one it receives (a mismatch is trust.checksum-invalid,
 * 401). The secret never leaves this closure, never reaches a log or an error.
 */
export interface Checksums {
  sign(connector: ConnectorConfig, operation: OperationConfig, side: 'request' | 'response', native: Record<string, unknown>): Record<string, unknown>;
  check(connector: ConnectorConfig, operation: OperationConfig, side: 'request' | 'response', native: unknown): void;
}

export function checksums(registry: Registry): Checksums {
  const compiled = new Map<string, { scheme: CompiledChecksum; secret: string }>();
  for (const connector of registry.connectors.values()) {
    for (const op of Object.values(connector.operations)) {
      for (const side of ['request', 'response'] as const) {
        const setting = op.checksum?.[side];
        if (setting) compiled.set(`${connector.id}.${op.id}:${side}`, { scheme: compileChecksum(checksumSettingConfig(setting) as ChecksumConfig), secret: setting.secret });
      }
    }
  }
  return {
    sign(connector, operation, side, native) {
      const entry = compiled.get(`${connector.id}.${operation.id}:${side}`);
      return entry ? entry.scheme.sign(native, entry.secret) : native;
    },
    check(connector, operation, side, native) {
      const entry = compiled.get(`${connector.id}.${operation.id}:${side}`);
      if (!entry) return;
      const verdict = entry.scheme.verify(native, entry.secret);
      if (!verdict.ok) {
        throw new HubError('trust.checksum-invalid', `Mã xác thực của ${connector.name} không đúng / the ${entry.scheme.config.field} checksum does not match`, {
          status: 401, detail: [{ field: entry.scheme.config.field, reason: verdict.reason, code: verdict.code }],
        });
      }
    },
  };
}

export type Verdict = { kind: 'ok' } | { kind: 'resend'; code: string; set: Record<string, unknown> } | { kind: 'retryable' | 'permanent'; code: string; message: string };

/** The peer's own verdict inside a 200 answer, when the operation declares one (e.g. {error_code, message}). */
export function judgeAnswer(operation: OperationConfig, body: unknown): Verdict {
  const rule = operation.result;
  if (!rule) return { kind: 'ok' };
  const found = readPath(body, rule.codeField);
  const code = String(found ?? '');
  const matches = (codes: Array<string | number> | undefined) => (codes ?? []).some((c) => String(c) === code);
  if (matches(rule.success)) return { kind: 'ok' };
  const fullMessage = String(rule.messageField ? readPath(body, rule.messageField) ?? '' : '');
  // Most likely a misspelled codeField (check cannot see an answer without a schema): say so, not "rejected".
  if (found === undefined || found === null) return { kind: 'permanent', code: '(no code)', message: `the answer has no ${rule.codeField} (result.codeField) to judge it by` };
  // A code alone may mean several things ("-3" is any refusal at some adapters): the message tells "đã tồn tại" apart.
  const resend = rule.resendWith?.find((r) => matches(r.codes) && (r.messageContains === undefined || folded(fullMessage).includes(folded(r.messageContains))));
  if (resend) return { kind: 'resend', code, set: resend.set };
  const message = peerText(fullMessage);
  return { kind: matches(rule.retryable) ? 'retryable' : 'permanent', code: code || '(no code)', message };
}

/** Case and Unicode form do not matter: "Đã tồn tại" composed or decomposed is the same text. */
const folded = (text: string) => text.normalize('NFC').toLocaleLowerCase('vi');

/**
 * A peer's own words (a fault reason, a refusal message) travel on to the caller, the message log and the dead-letter
 * reason. They may quote what the peer was sent (a citizen's ID, phone) and be any size: kept to 200 characters, one
 * line, with long digit runs (CCCD 12, CMND 9, phone 10, also grouped by spaces, dots or dashes) masked. A name it
 * quotes cannot be told from other words, and passes.
 */
function peerText(text: string, max = 200): string {
  const line = maskDigitRuns(text.replace(/[\u0000-\u001f\u007f]+/g, ' '));
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
