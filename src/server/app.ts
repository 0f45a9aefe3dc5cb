import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Logger } from 'pino';
import type { Registry } from '../config/registry.js';
import type { ConnectorConfig } from '../config/types.js';
import { HubError } from '../core/errors.js';
import { isSafeRequestId, isShowableName, NOT_SHOWN } from '../core/personal-data.js';
import { timeOrderedId } from '../core/ids.js';
import type { FederatedPipeline } from '../pipeline/federated.js';
import { FEDERATION_PATH } from '../pipeline/hubs.js';
import type { InboundPipeline } from '../pipeline/inbound.js';
import type { IdentifyCaller } from './identity.js';
import { adminRoutes, type AdminOptions } from './admin.js';
import type { Metrics } from './metrics.js';
import { createAjv } from '../schema/ajv.js';
import { documentedSchema, problemSchema } from './openapi.js';
import { errorBody, fromClientError, fromFastifyError, problemResponse, renderError, unreadableBody } from './problem.js';

/**
 * The hub's HTTP face. Inbound endpoints are generated from connector config: REST connectors get
 * `POST /v1/in/<connector>/<operation>`, SOAP connectors get `POST /v1/soap/<connector>`. Bodies reach
 * the pipeline as raw bytes (signatures are checked over them later); the pipeline decodes and
 * validates, one mechanism for REST and SOAP alike.
 */
export interface AppOptions {
  registry: Registry;
  pipeline: InboundPipeline;
  log: Logger;
  admin?: AdminOptions;
  metrics?: Metrics;
  /** Called after each accepted async message, so a worker claims it at once. */
  onAccepted?: () => void;
  /** Messages from other hubs (POST /v1/x/<service id>). */
  federated?: FederatedPipeline;
  /** Who is calling (client certificate or trusted proxy). */
  identify?: IdentifyCaller;
  /** Serve HTTPS: key, certificate chain, and (mTLS) ask for client certificates, checked by `identify`. */
  https?: { key: string; cert: string; ca: string[] };
  /** Why the hub cannot take messages any more (a storage thread crashed), or undefined: /ready answers 503 then. */
  unready?: () => string | undefined;
}


declare module 'fastify' {
  interface FastifyContextConfig {
    soapVersion?: '1.1' | '1.2';
    openapi?: { body?: unknown; response?: Record<string, unknown>; consumes?: string[] };
  }
}

const TIMEOUT_CHECK_MS = 1000;

export async function buildApp({ registry, pipeline, log, admin, metrics, onAccepted, federated, identify = () => undefined, https, unready = () => undefined }: AppOptions): Promise<FastifyInstance> {
  const { server } = registry.hub;
  // A caller has requestTimeoutMs to send a whole request (Node answers 408 and closes): a body trickled a byte at a
  // time would otherwise hold its socket and memory forever (fastify's default is no limit). Answers may take longer.
  // Node only enforces it when given to the server's constructor with a headers timeout no longer than it, and looks
  // for late requests every TIMEOUT_CHECK_MS (its own default, 30 s, would let a 1 s limit last 30 s).
  const requestTimeouts = { requestTimeout: server.requestTimeoutMs, headersTimeout: Math.min(server.requestTimeoutMs, 60_000), connectionsCheckingInterval: TIMEOUT_CHECK_MS };
  const app = Fastify({
    // Client certificates are requested, and checked by `identify` against the trust store (CRLs included), so that a
    // bad one gets a structured 401 naming the reason rather than a bare handshake failure.
    ...(https ? { https: { key: https.key, cert: https.cert, ca: https.ca, requestCert: true, rejectUnauthorized: false, ...requestTimeouts } } : { http: requestTimeouts }),
    loggerInstance: log,
    bodyLimit: server.bodyLimitBytes,
    requestTimeout: server.requestTimeoutMs,
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && isSafeRequestId(given) ? given : timeOrderedId();
    },
    childLoggerFactory: (logger, bindings, options, rawReq) => {
      const given = (rawReq as { headers?: Record<string, unknown> }).headers?.['x-correlation-id'];
      const correlationId = typeof given === 'string' && isSafeRequestId(given) ? given : bindings.reqId;
      return logger.child({ ...bindings, correlationId }, options);
    },
    return503OnClosing: true,
    // Requests Node cannot read (headers too large, too slow, bad framing) never reach a route: answered here.
    clientErrorHandler: (error, socket) => answerClientError(error, socket, log),
    // A path that does not decode, or a parameter too long for the router: the hub's problem answer and a log line,
    // never fastify's default body, which echoes the whole URL (a query string may carry a CCCD).
    frameworkErrors: (error, request, reply) => {
      const hubError = fromFastifyError(error);
      request.log.info({ errorType: hubError.type, status: hubError.status }, 'request rejected');
      reply.header('x-request-id', request.id);
      sendError(reply, request, hubError, undefined);
    },
    // The pipeline writes one complete line per message (ids, route, outcome, timings); fastify's two extra lines per request add cost, not facts.
    logController: new LogController({ disableRequestLogging: true }),
  });

  // Each route's path and methods, so that a known path asked with another method is answered 405 with Allow.
  const routes = new Map<string, Set<string>>();
  app.addHook('onRoute', (route) => {
    const methods = routes.get(route.url) ?? new Set<string>();
    for (const method of [route.method].flat()) methods.add(method);
    routes.set(route.url, methods);
  });

  const ajv = createAjv();
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));

  app.setErrorHandler((error, request, reply) => {
    const hubError = fromFastifyError(error);
    if (hubError.status >= 500) request.log.error({ err: error, errorType: hubError.type }, 'request failed inside the hub');
    else request.log.info({ errorType: hubError.type, status: hubError.status }, 'request rejected');
    sendError(reply, request, hubError, undefined);
  });
  app.setNotFoundHandler((request, reply) => {
    const allowed = allowedMethods(routes, request.url);
    if (allowed.length && !allowed.includes(request.method)) {
      const error = new HubError('client.method-not-allowed', `Phương thức không được hỗ trợ / ${request.method} is not allowed on ${shownPath(request.url)}: use ${allowed.join(', ')}`, {
        status: 405, detail: [{ reason: `this address takes ${allowed.join(', ')}`, code: 'method-not-allowed' }],
      });
      request.log.info({ errorType: error.type, status: 405 }, 'request rejected');
      reply.header('allow', allowed.join(', '));
      sendError(reply, request, error, undefined);
      return;
    }
    const error = new HubError('client.unknown-operation', `Không có địa chỉ này / no such endpoint: ${request.method} ${shownPath(request.url)}`, {
      status: 404, detail: [{ reason: 'see /docs for the connectors and operations this hub serves', code: 'unknown-operation' }],
    });
    request.log.info({ errorType: error.type, status: 404 }, 'request rejected');
    sendError(reply, request, error, undefined);
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // The codecs read UTF-8 as sent: another charset, or a compressed body, would only be misreported as malformed.
  // Callback style: it runs for every request, and an async hook would cost each one a promise.
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const hasBody = request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] ?? '0') !== '0';
    const refused = hasBody ? unreadableBody(request.headers) : undefined;
    if (refused) done(refused);
    else done(null, payload);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: `lienthong: ${registry.hub.hub.name}`,
        version: '0.1.0',
        description: `Hub ${registry.hub.hub.id}. Each inbound operation takes the calling system's own format and answers in it; errors are problem+json (REST) or SOAP Faults (SOAP).`,
      },
      tags: [...registry.connectors.values()].map((c) => ({ name: c.id, description: `${c.name} (${c.participant})` })),
      components: {
        schemas: { Problem: problemSchema as Record<string, unknown>, ...canonicalSchemas(registry) },
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'The admin API: LIENTHONG_ADMIN_TOKEN. Without it set, loopback callers only, with no token.' } },
      },
    },
    transform: ({ schema, url, route }) => {
      const docs = (route?.config as { openapi?: Record<string, unknown> } | undefined)?.openapi;
      return { schema: docs ? { ...(schema as object), ...docs } : (schema as never), url };
    },
  });
  if (server.docs) await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/health', { schema: { summary: 'Liveness: the process is up', tags: ['ops'] } }, async () => ({ status: 'ok' }));
  app.get('/ready', {
    schema: { summary: 'Readiness: configuration loaded, routes served, storage running (503 otherwise)', tags: ['ops'] },
    config: { openapi: { response: { 200: { description: 'Ready', type: 'object' }, 503: problemResponse('server.unavailable: the hub cannot take messages (the reason is named)') } } },
  }, async () => {
    const reason = unready();
    if (reason) throw new HubError('server.unavailable', `Hub chưa sẵn sàng / the hub cannot take messages: ${reason}`, { status: 503 });
    return { status: 'ready', hub: registry.hub.hub.id, connectors: registry.connectors.size, routes: registry.routes.size };
  });

  if (metrics) {
    app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['ops'] } }, async (_request, reply) => {
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
  }
  if (admin) await app.register(adminRoutes, admin);

  // Raw bytes in: the pipeline owns decoding, so REST and SOAP share one path and signatures see the original.
  // REST and SOAP routes each take only their own media types (anything else is 415), so that the XML limit holds
  // whatever a caller declares: each scope has its own parsers.
  const raw = (_req: unknown, body: string | Buffer, done: (err: null, body: Buffer) => void) => done(null, body as Buffer);
  await app.register(async (rest) => {
    rest.removeAllContentTypeParsers();
    rest.addContentTypeParser('application/json', { parseAs: 'buffer' }, raw);
    for (const connector of registry.connectors.values()) if (connector.transport !== 'soap') registerConnector(rest, registry, connector, pipeline, identify, onAccepted);
    if (federated) registerFederation(rest, federated, identify, onAccepted);
  });
  await app.register(async (soap) => {
    soap.removeAllContentTypeParsers();
    soap.addContentTypeParser(['text/xml', 'application/soap+xml', 'application/xml'], { parseAs: 'buffer', bodyLimit: server.xmlBodyLimitBytes }, raw);
    for (const connector of registry.connectors.values()) if (connector.transport === 'soap') registerConnector(soap, registry, connector, pipeline, identify, onAccepted);
  });

  return app as unknown as FastifyInstance;
}

/** The canonical message types, so integrators see the hub's common language beside each system's dialect. */
function canonicalSchemas(registry: Registry): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const name of registry.schemas.names()) {
    if (!name.startsWith('canonical/') || name === 'canonical/common') continue;
    const schema = documentedSchema(registry.schemas, name);
    if (schema) out[name.slice('canonical/'.length)] = schema;
  }
  return out;
}

function registerConnector(app: FastifyInstance, registry: Registry, connector: ConnectorConfig, pipeline: InboundPipeline, identify: IdentifyCaller, onAccepted?: () => void): void {
  const inbound = Object.values(connector.operations).filter((op) => op.direction === 'inbound' && registry.routes.has(`${connector.id}.${op.id}`));
  if (inbound.length === 0) return;
  const errorResponses = { '4xx': problemResponse('Lỗi phía bên gọi / caller error'), '5xx': problemResponse('Lỗi hub hoặc hệ thống đích / hub or destination error') };
  if (connector.transport === 'soap') {
    const version = connector.soap!.version;
    app.post(`/v1/soap/${connector.id}`, {
      schema: {
        summary: `${connector.name}: SOAP ${version} endpoint (${inbound.map((o) => o.element ?? o.id).join(', ')})`,
        description: inbound.map((o) => `- ${o.element ?? o.id}: ${o.summary ?? ''}`).join('\n'),
        tags: [connector.id],
      },
      config: { soapVersion: version, openapi: soapDocs(version) },
    }, (request, reply) => handle(request, reply, pipeline, identify, connector.id, undefined, onAccepted));
    return;
  }
  for (const op of inbound) {
    const route = registry.routes.get(`${connector.id}.${op.id}`)!;
    const body = documentedSchema(registry.schemas, op.request.schema);
    const answer = op.response ? documentedSchema(registry.schemas, op.response.schema) : accepted;
    app.post(`/v1/in/${connector.id}/${op.id}`, {
      schema: { summary: op.summary ?? op.id, description: `${op.description ?? ''}\n\nRoute \`${route.id}\`: ${route.from} → ${route.to} (${op.canonical.request}${op.canonical.response ? ` → ${op.canonical.response}` : ''}).`, tags: [connector.id] },
      config: { openapi: { body, consumes: ['application/json'], response: { [route.mode === 'async' ? 202 : 200]: { description: route.mode === 'async' ? 'Accepted: stored durably, delivery follows' : 'OK', ...(answer ?? {}) }, ...errorResponses } } },
    }, (request, reply) => handle(request, reply, pipeline, identify, connector.id, op.id, onAccepted));
  }
}

/** POST /v1/x/<service id>: a signed message from another hub; the answer is signed too. */
function registerFederation(app: FastifyInstance, federated: FederatedPipeline, identify: IdentifyCaller, onAccepted?: () => void): void {
  const respond = async (request: FastifyRequest, reply: FastifyReply, refused: HubError | undefined): Promise<void> => {
    const body = !refused && Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let tlsParticipant: string | undefined;
    let callerError: unknown = refused;
    if (!refused) {
      try {
        const caller = identify(request);
        if (caller?.via === 'mtls') tlsParticipant = caller.participant;
      } catch (error) {
        callerError = error;
      }
    }
    const service = (request.params as Record<string, string>)['*'] ?? '';
    const answer = await federated({ service, headers: request.headers, body, tlsParticipant, callerError, requestId: request.id, log: request.log as Logger });
    if (answer.status === 202) onAccepted?.();
    reply.code(answer.status).headers(answer.headers).header('x-message-id', answer.messageId).send(answer.body);
  };
  app.post(`${FEDERATION_PATH}*`, {
    schema: {
      summary: 'Hub-to-hub: a signed canonical message for a service of this hub',
      description: 'The body is a canonical message (JSON). Headers x-lienthong-message-id, -client, -service, -time, content-digest and the detached JWS x-lienthong-signature (with x-lienthong-signature-proof) are required; the answer carries the same headers, signed by this hub, with x-lienthong-request-hash binding it to the request. Sync services answer 200 with the canonical answer; async ones 202 once accepted durably.',
      tags: ['federation'],
    },
    config: { openapi: { consumes: ['application/json'] } },
    // What fastify refuses before the handler (body too large, wrong media type or charset) goes through the
    // pipeline as a refusal, so that it is logged, recorded and signed like every other answer to another hub.
    errorHandler: (error, request, reply) => respond(request, reply, fromFastifyError(error)),
  }, (request, reply) => respond(request, reply, undefined));
}

const accepted = {
  type: 'object',
  properties: {
    messageId: { type: 'string', format: 'uuid', description: 'Mã thông điệp; tra cứu lịch sử tại /admin/messages/{messageId}.' },
    status: { enum: ['accepted', 'duplicate'], description: 'duplicate: this event was accepted before (same business key, or same Idempotency-Key with the same request); messageId is the first one. A key reused for another request is refused: 422 client.idempotency-conflict.' },
    deliveries: { type: 'array', items: { type: 'string' }, description: 'Destinations the message will be delivered to.' },
  },
  required: ['messageId', 'status'],
};

async function handle(request: FastifyRequest, reply: FastifyReply, pipeline: InboundPipeline, identify: IdentifyCaller, connectorId: string, operationId: string | undefined, onAccepted?: () => void): Promise<void> {
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  // A refused identity is the pipeline's to report (logged, counted, recorded), like any other refusal.
  let caller: ReturnType<IdentifyCaller>;
  let callerError: unknown;
  try {
    caller = identify(request);
  } catch (error) {
    callerError = error;
  }
  if (body.length === 0) {
    request.log.info({ errorType: 'client.bad-request', status: 400 }, 'request rejected');
    sendError(reply, request, new HubError('client.bad-request', 'Thiếu nội dung yêu cầu / the request has no body', { status: 400 }), undefined);
    return;
  }
  const correlationId = correlationOf(request);
  const key = request.headers['idempotency-key'];
  const idempotencyKey = typeof key === 'string' && key.length > 0 && key.length <= 200 ? key : undefined;
  const outcome = await pipeline({ connectorId, operationId, body, requestId: request.id, correlationId, idempotencyKey, caller, callerError, log: request.log as Logger });
  reply.header('x-message-id', outcome.messageId).header('x-correlation-id', correlationId);
  if (outcome.error) {
    sendError(reply, request, outcome.error, outcome.messageId);
    return;
  }
  const answer = outcome.reply!;
  if (answer.status === 202) onAccepted?.();
  reply.code(answer.status).type(answer.contentType).send(answer.body);
}

/** The methods of the routes whose path matches `url` (`:param` one segment, `*` the rest). */
function allowedMethods(routes: ReadonlyMap<string, ReadonlySet<string>>, url: string): string[] {
  const path = url.split('?', 1)[0]!.split('/').map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      return undefined;
    }
  });
  const matches = (pattern: string[]) => {
    for (const [i, part] of pattern.entries()) {
      if (part === '*') return true;
      const segment = path[i];
      if (segment === undefined || (part.startsWith(':') ? segment === '' : segment !== part)) return false;
    }
    return pattern.length === path.length;
  };
  const allowed = new Set<string>();
  for (const [pattern, methods] of routes) if (matches(pattern.split('/'))) for (const method of methods) allowed.add(method);
  return [...allowed].sort();
}

/** The path asked for, when every segment looks like a route's own (a path may carry a CCCD). Never the query string. */
function shownPath(url: string): string {
  const path = url.split('?', 1)[0]!;
  return path.split('/').every((segment) => segment === '' || isShowableName(segment)) ? path : NOT_SHOWN;
}

function correlationOf(request: FastifyRequest): string {
  const given = request.headers['x-correlation-id'];
  return typeof given === 'string' && isSafeRequestId(given) ? given : request.id;
}

/**
 * A request Node could not read (headers too large, sent too slowly, bad framing) never reaches a route or fastify's
 * reply: answered here on the socket as problem+json with a request id, like every other error, then the connection
 * is closed, since the bytes that follow cannot be trusted to start a request.
 */
function answerClientError(failure: Error & { code?: string }, socket: Socket, log: Logger): void {
  // A reset connection has nobody left to answer.
  if (failure.code === 'ECONNRESET' || socket.destroyed) return;
  const error = fromClientError(failure.code);
  const logId = timeOrderedId();
  log.info({ reqId: logId, errorType: error.type, status: error.status, code: failure.code }, 'request rejected');
  // Node's own rule: write only if no answer on this connection has begun, or these bytes would land inside it.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify(errorBody(error, logId));
    socket.write(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\ncontent-type: application/problem+json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${logId}\r\nconnection: close\r\n\r\n${body}`);
  }
  socket.destroy(failure);
}

/** The SOAP endpoint's OpenAPI: an envelope in, an envelope or a Fault out (over HTTP 500 for 1.1, 400/500 for 1.2). */
function soapDocs(version: '1.1' | '1.2') {
  const media = version === '1.1' ? 'text/xml' : 'application/soap+xml';
  const xml = (description: string) => ({ description, content: { [media]: { schema: { type: 'string' } } } });
  const fault = 'SOAP Fault: LoiHub/Loai is the error type, LoiHub/TrangThai its status (e.g. 415 for another media type, 413 for a body over server.xmlBodyLimitBytes)';
  return {
    consumes: [media],
    body: { type: 'string', description: `A SOAP ${version} envelope (text/xml, application/soap+xml or application/xml; UTF-8)` },
    response: version === '1.1' ? { 200: xml('The answer envelope'), 500: xml(fault) } : { 200: xml('The answer envelope'), 400: xml(`${fault}; a Sender fault`), 500: xml(`${fault}; a Receiver fault`) },
  };
}

function sendError(reply: FastifyReply, request: FastifyRequest, error: HubError, messageId: string | undefined): void {
  const soapVersion = request.routeOptions?.config?.soapVersion;
  const rendered = renderError(error, request.id, messageId, soapVersion);
  reply.code(rendered.status).type(rendered.contentType).send(rendered.body);
}
