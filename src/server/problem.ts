import { HubError, toHubError } from '../core/errors.js';
import { encodeSoapFault } from '../codec/soap.js';
import type { ErrorObject } from 'ajv';
import { toErrorDetails } from '../schema/validation-errors.js';
import { showName } from '../core/personal-data.js';

/**
 * How an error looks on the wire: problem+json for REST callers, a SOAP Fault for SOAP callers.
 * Both carry the same type, message, detail, message id and log id (the request id every log line
 * of this request carries), so a caller's complaint can be matched to the hub's log in one step.
 */
export interface ErrorBody {
  type: string;
  status: number;
  message: string;
  detail: HubError['detail'];
  messageId?: string;
  logId: string;
}

export function errorBody(error: HubError, logId: string, messageId?: string): ErrorBody {
  return { type: error.type, status: error.status, message: error.message, detail: error.detail, ...(messageId ? { messageId } : {}), logId };
}

export function renderError(error: HubError, logId: string, messageId: string | undefined, soapVersion: '1.1' | '1.2' | undefined): { status: number; contentType: string; body: string } {
  const body = errorBody(error, logId, messageId);
  if (!soapVersion) return { status: error.status, contentType: 'application/problem+json; charset=utf-8', body: JSON.stringify(body) };
  const fault = encodeSoapFault({
    version: soapVersion,
    code: error.detail.some((d) => d.code === 'version-mismatch') ? 'VersionMismatch' : error.status < 500 ? 'Client' : 'Server',
    reason: error.message,
    // The same field-by-field detail as a REST caller's `detail[]`: Truong (field), LyDo (reason), Ma (code).
    detail: { LoiHub: { Loai: error.type, TrangThai: error.status, MaThongDiep: messageId ?? '', MaNhatKy: logId, ...faultDetails(error.detail) } },
  });
  // SOAP's own rule (1.1 §6.2, WS-I BP R1126): a fault travels as HTTP 500, which legacy stacks read as "parse the
  // fault"; 1.2's HTTP binding says 400 for a Sender fault. The hub's own status stays in the body.
  const status = soapVersion === '1.1' || error.status >= 500 ? 500 : 400;
  return { status, contentType: soapVersion === '1.1' ? 'text/xml; charset=utf-8' : 'application/soap+xml; charset=utf-8', body: fault };
}

function faultDetails(detail: HubError['detail']): { ChiTiet?: { Loi: Array<Record<string, string>> } } {
  if (!detail.length) return {};
  return { ChiTiet: { Loi: detail.map((d) => ({ ...(d.field ? { Truong: d.field } : {}), LyDo: d.reason, ...(d.code ? { Ma: d.code } : {}) })) } };
}

/** Fastify's own errors (body limits, content types, validation) in the hub's taxonomy. */
export function fromFastifyError(error: unknown): HubError {
  if (error instanceof HubError) return error;
  const e = error as { code?: string; statusCode?: number; validation?: unknown[]; message?: string };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HubError('client.body-too-large', 'Nội dung quá lớn / request body exceeds the size limit', { status: 413 });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new HubError('client.unsupported-media-type', 'Kiểu nội dung không được hỗ trợ / unsupported Content-Type: send application/json (REST) or text/xml / application/soap+xml (SOAP)', { status: 415 });
    case 'FST_ERR_BAD_URL':
      return new HubError('client.bad-request', 'Địa chỉ không hợp lệ / the address is not valid URL encoding', { status: 400, detail: [{ reason: 'a %-escape in the path does not decode', code: 'bad-url' }] });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new HubError('client.bad-request', 'Địa chỉ quá dài / a part of the address is too long', { status: 414, detail: [{ reason: 'a path parameter is longer than the router accepts', code: 'url-too-long' }] });
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new HubError('client.bad-request', 'Thiếu nội dung hoặc Content-Length sai / empty body or wrong Content-Length', { status: 400 });
  }
  if (e.validation) return new HubError('client.schema-violation', 'Yêu cầu không đúng lược đồ / request does not match its schema', { status: 400, detail: toErrorDetails(e.validation as ErrorObject[]) });
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return new HubError('client.bad-request', `Yêu cầu không hợp lệ / bad request (${e.code ?? e.statusCode})`, { status: e.statusCode });
  return toHubError(error);
}

/** The charsets the codecs read: JSON and XML bodies are decoded as UTF-8, of which US-ASCII is a subset. */
const READABLE_CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

/**
 * A body the codecs would misread: a charset other than UTF-8, or a Content-Encoding (gzip, …) the hub does not undo.
 * Either is refused as 415 rather than reported as malformed JSON/XML. The charset or coding is named only when it
 * looks like a name (header text is the caller's and may be anything).
 */
export function unreadableBody(headers: Record<string, string | string[] | undefined>): HubError | undefined {
  const type = headers['content-type'];
  const charset = typeof type === 'string' ? /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(type)?.[1] : undefined;
  if (charset !== undefined && !READABLE_CHARSETS.has(charset.toLowerCase())) {
    return new HubError('client.unsupported-media-type', `Bảng mã không được hỗ trợ / unsupported charset ${showName(charset)}: send UTF-8`, {
      status: 415, detail: [{ reason: 'bodies are read as UTF-8 (charset=utf-8, or none)', code: 'unsupported-charset' }],
    });
  }
  const encoding = headers['content-encoding'];
  const codings = (Array.isArray(encoding) ? encoding.join(',') : encoding ?? '').split(',').map((c) => c.trim()).filter((c) => c !== '');
  const coding = codings.find((c) => c.toLowerCase() !== 'identity');
  if (coding !== undefined) {
    return new HubError('client.unsupported-media-type', `Mã hoá nội dung không được hỗ trợ / unsupported Content-Encoding ${showName(coding)}: send the body uncompressed`, {
      status: 415, detail: [{ reason: 'the hub takes bodies without a content coding (identity)', code: 'unsupported-content-encoding' }],
    });
  }
  return undefined;
}

/**
 * Node's errors for a request it could not read (`clientError`: header overflow, request timeout, bad framing) in the
 * hub's taxonomy, with the statuses Node itself gives them.
 */
export function fromClientError(code: string | undefined): HubError {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HubError('client.bad-request', 'Phần đầu yêu cầu quá lớn / the request headers are too large', { status: 431, detail: [{ reason: 'headers over the server limit', code: 'headers-too-large' }] });
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HubError('client.request-timeout', 'Yêu cầu gửi quá chậm / the request was not received in time', { status: 408, detail: [{ reason: 'send the whole request within server.requestTimeoutMs', code: 'request-timeout' }] });
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HubError('client.body-too-large', 'Phần mở rộng chunk quá lớn / chunk extensions too large', { status: 413 });
    default:
      return new HubError('client.bad-request', 'Yêu cầu HTTP không đọc được / malformed HTTP request', { status: 400, detail: [{ reason: 'the request does not follow HTTP/1.1 framing', code: 'bad-http' }] });
  }
}

/** An OpenAPI response whose body is a problem (the media type the hub sends, not fastify-swagger's default JSON). */
export function problemResponse(description: string): Record<string, unknown> {
  return { description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } };
}
