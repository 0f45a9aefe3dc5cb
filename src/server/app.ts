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
import { fromFastifyError, renderError } from './problem.js';

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
    openapi?: { body?: unknown; response?: unknown; consumes?: string[] };
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

  const ajv = createAjv();
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));

  app.setErrorHandler((error, request, reply) => {
    const hubError = fromFastifyError(error);
    if (hubError.status >= 500) request.log.error({ err: error, errorType: hubError.type }, 'request failed inside the hub');
    else request.log.info({ errorType: hubError.type, status: hubError.status }, 'request rejected');
    sendError(reply, request, hubError, undefined);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new HubError('client.unknown-operation', `Không có địa chỉ này / no such endpoint: ${request.method} ${shownPath(request.url)}`, {
      status: 404, detail: [{ reason: 'see /docs for the connectors and operations this hub serves', code: 'unknown-operation' }],
    });
    request.log.info({ errorType: error.type, status: 404 }, 'request rejected');
    sendError(reply, request, error, undefined);
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
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
      components: { schemas: { Problem: problemSchema as Record<string, unknown>, ...canonicalSchemas(registry) } },
    },
    transform: ({ schema, url, route }) => {
      const docs = (route?.config as { openapi?: Record<string, unknown> } | undefined)?.openapi;
      return { schema: docs ? { ...(schema as object), ...docs } : (schema as never), url };
    },
  });
  if (server.docs) await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/health', { schema: { summary: 'Liveness: the process is up', tags: ['ops'] } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { summary: 'Readiness: configuration loaded, routes served, storage running (503 otherwise)', tags: ['ops'] } }, async () => {
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

  await app.register(async (inbound) => {
    // Raw bytes in: the pipeline owns decoding, so REST and SOAP share one path and signatures see the original.
    inbound.removeAllContentTypeParsers();
    inbound.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    inbound.addContentTypeParser(['text/xml', 'application/soap+xml', 'application/xml'], { parseAs: 'buffer', bodyLimit: server.xmlBodyLimitBytes }, (_req, body, done) => done(null, body));
    for (const connector of registry.connectors.values()) registerConnector(inbound, registry, connector, pipeline, identify, onAccepted);
    if (federated) registerFederation(inbound, federated, identify, onAccepted);
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
  const errorResponses = { '4xx': { description: 'Lỗi phía bên gọi / caller error', $ref: '#/components/schemas/Problem' }, '5xx': { description: 'Lỗi hub hoặc hệ thống đích / hub or destination error', $ref: '#/components/schemas/Problem' } };
  if (connector.transport === 'soap') {
    const version = connector.soap!.version;
    app.post(`/v1/soap/${connector.id}`, {
      schema: {
        summary: `${connector.name}: SOAP ${version} endpoint (${inbound.map((o) => o.element ?? o.id).join(', ')})`,
        description: inbound.map((o) => `- ${o.element ?? o.id}: ${o.summary ?? ''}`).join('\n'),
        tags: [connector.id],
      },
      config: { soapVersion: version, openapi: { consumes: [version === '1.1' ? 'text/xml' : 'application/soap+xml'] } },
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
  app.post(`${FEDERATION_PATH}*`, {
    schema: {
      summary: 'Hub-to-hub: a signed canonical message for a service of this hub',
      description: 'The body is a canonical message (JSON). Headers x-lienthong-message-id, -client, -service, -time, content-digest and the detached JWS x-lienthong-signature (with x-lienthong-signature-proof) are required; the answer carries the same headers, signed by this hub, with x-lienthong-request-hash binding it to the request. Sync services answer 200 with the canonical answer; async ones 202 once accepted durably.',
      tags: ['federation'],
    },
    config: { openapi: { consumes: ['application/json'] } },
  }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    let tlsParticipant: string | undefined;
    let callerError: unknown;
    try {
      const caller = identify(request);
      if (caller?.via === 'mtls') tlsParticipant = caller.participant;
    } catch (error) {
      callerError = error;
    }
    const service = (request.params as Record<string, string>)['*'] ?? '';
    const answer = await federated({ service, headers: request.headers, body, tlsParticipant, callerError, requestId: request.id, log: request.log as Logger });
    if (answer.status === 202) onAccepted?.();
    reply.code(answer.status).headers(answer.headers).header('x-message-id', answer.messageId).send(answer.body);
  });
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

/** The path asked for, when every segment looks like a route's own (a path may carry a CCCD). Never the query string. */
function shownPath(url: string): string {
  const path = url.split('?', 1)[0]!;
  return path.split('/').every((segment) => segment === '' || isShowableName(segment)) ? path : NOT_SHOWN;
}

function correlationOf(request: FastifyRequest): string {
  const given = request.headers['x-correlation-id'];
  return typeof given === 'string' && isSafeRequestId(given) ? given : request.id;
}

function sendError(reply: FastifyReply, request: FastifyRequest, error: HubError, messageId: string | undefined): void {
  const soapVersion = request.routeOptions?.config?.soapVersion;
  const rendered = renderError(error, request.id, messageId, soapVersion);
  reply.code(rendered.status).type(rendered.contentType).send(rendered.body);
}
