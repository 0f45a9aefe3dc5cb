import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { HubError } from '../core/errors.js';
import { inAcceptanceOrder, type DeadLetterFilter, type QueueDriver } from '../delivery/types.js';
import type { LogQuery, MessageLog } from '../store/types.js';
import type { AccessChange, AccessRights } from '../trust/access.js';
import { problemResponse } from './problem.js';

/**
 * The operator's API: dead letters (list, show, replay one or many, discard with a reason) and the
 * message log (search, one message's history). With LIENTHONG_ADMIN_TOKEN set, a bearer token is
 * required; without it, only loopback callers are served, so a fresh demo is usable and nothing is
 * exposed by accident.
 */
export interface AdminOptions {
  queue?: QueueDriver;
  messageLog?: MessageLog;
  adminToken?: string;
  /** server.trustedProxy.addresses: what arrives from them came from elsewhere, even from 127.0.0.1. */
  proxyAddresses?: readonly string[];
  /** Called after dead letters went back to the queue, so the worker claims them at once. */
  onReplay?: () => void;
  /** Access rights, changed at run time through the API; every change is recorded with who made it. */
  access?: AccessRights;
}

/** The largest page of dead letters; of messages (the log answers at most 500 a page, with a cursor for the rest). */
const DEAD_LIMIT_MAX = 9999;
const MESSAGES_LIMIT_MAX = 999;
const idSchema = { type: 'string', minLength: 1, maxLength: 64 } as const;

/** The filter members that select dead letters (limit and offset only page through them). */
const SELECTING = ['destination', 'routeId', 'messageId', 'orderingKey', 'since'] as const;
const deadFilter = {
  type: 'object',
  properties: {
    destination: { type: 'string', minLength: 1, maxLength: 200 },
    routeId: { type: 'string', minLength: 1, maxLength: 200 },
    messageId: { type: 'string', minLength: 1, maxLength: 64 },
    orderingKey: { type: 'string', minLength: 1, maxLength: 200 },
    since: { type: 'string', pattern: '^\\d{1,15}$', description: 'epoch ms' },
    limit: { type: 'string', pattern: '^\\d{1,4}$', description: `1 to ${DEAD_LIMIT_MAX}` },
    offset: { type: 'string', pattern: '^\\d{1,7}$' },
  },
  additionalProperties: false,
} as const;

export async function adminRoutes(app: FastifyInstance, options: AdminOptions): Promise<void> {
  const { queue, messageLog, adminToken, onReplay, access, proxyAddresses = [] } = options;
  app.addHook('onRequest', async (request, reply) => authorize(request, reply, adminToken, proxyAddresses));
  // JSON only: fastify's text/plain parser would hand a string to the schema, which reports "must be object" (not 415).
  app.removeContentTypeParser('text/plain');

  const needQueue = () => {
    if (!queue) throw new HubError('server.no-queue', 'this hub has no delivery queue', { status: 503 });
    return queue;
  };
  const needLog = () => {
    if (!messageLog) throw new HubError('server.no-message-log', 'this hub has no message log', { status: 503 });
    return messageLog;
  };
  const toFilter = (q: Record<string, string | undefined>, field: string, defaultLimit: number): DeadLetterFilter => ({
    destination: q.destination, routeId: q.routeId, messageId: q.messageId, orderingKey: q.orderingKey,
    since: q.since ? Number(q.since) : undefined, limit: pageLimit(q.limit, DEAD_LIMIT_MAX, field) ?? defaultLimit, offset: q.offset ? Number(q.offset) : 0,
  });
  const tags = ['admin'];
  const security = [{ bearer: [] }];
  // Documentation only (config.openapi): a response schema in `schema` would also filter what is sent.
  const docs = (ok: string, errors: Record<number, string> = {}) => ({
    openapi: {
      response: {
        200: { description: ok, type: 'object' },
        400: problemResponse('client.schema-violation or client.bad-request: the request is not valid (fields named)'),
        401: problemResponse('trust.admin-unauthorized: missing or wrong bearer token (when LIENTHONG_ADMIN_TOKEN is set)'),
        403: problemResponse('trust.admin-remote: not from loopback, and no LIENTHONG_ADMIN_TOKEN set'),
        ...Object.fromEntries(Object.entries(errors).map(([status, description]) => [status, problemResponse(description)])),
        503: problemResponse('server.no-queue, server.no-message-log or server.no-access-rights: this hub has none'),
      },
    },
  });
  const notFound = (what: string) => ({ 404: `client.not-found: no such ${what}` });
  const jsonOnly = { 415: 'client.unsupported-media-type: send application/json' };

  app.get('/admin/dead-letters', { schema: { summary: 'Dead letters, oldest first (the order a bulk replay takes), filtered; page with limit (default 50) and offset', tags, security, querystring: deadFilter }, config: docs('{ items: [...] }') }, async (request) => {
    const items = await needQueue().listDead(toFilter(request.query as Record<string, string>, 'limit', 50));
    return { items: items.map(withoutPayload) };
  });

  app.get('/admin/dead-letters/:id', { schema: { summary: 'One dead letter: destination, attempts, last error, reason, and the message', tags, security, params: { type: 'object', properties: { id: idSchema }, required: ['id'] } }, config: docs('The dead letter', notFound('dead letter')) }, async (request) => {
    const { id } = request.params as { id: string };
    const dead = await needQueue().getDead(id);
    if (!dead) throw new HubError('client.not-found', `no dead letter ${id}`, { status: 404 });
    return { ...withoutPayload(dead), message: JSON.parse(dead.payload) as unknown };
  });

  app.post('/admin/dead-letters/replay', {
    schema: {
      summary: 'Replay dead letters by id or by filter, through the same delivery path as the first attempt',
      tags,
      security,
      description: 'Exactly one of: `ids`; a `filter` that selects (destination, routeId, messageId, orderingKey or since; limit and offset alone select nothing); or `"all": true`. At most `filter.limit` (default 1000) per call: call again for more. The answer names the ids that are no dead letter (`notFound`) and those whose payload this hub cannot open (`unsealable`).',
      body: {
        type: 'object',
        properties: { ids: { type: 'array', items: idSchema, minItems: 1, maxItems: 1000 }, filter: deadFilter, all: { const: true } },
        additionalProperties: false,
      },
    },
    config: docs('{ replayed, requested, notFound?: [ids], unsealable?: [ids] }', jsonOnly),
  }, async (request) => {
    const body = (request.body ?? {}) as { ids?: string[]; filter?: Record<string, string>; all?: true };
    const given = [body.ids, body.filter, body.all].filter((part) => part !== undefined).length;
    const selects = body.filter !== undefined && SELECTING.some((name) => body.filter![name] !== undefined);
    if (given !== 1 || (body.filter !== undefined && !selects)) {
      throw new HubError('client.bad-request', 'Cần đúng một trong: ids, filter có điều kiện, hoặc "all": true / give exactly one of: ids, a filter that selects (destination, routeId, messageId, orderingKey or since), or "all": true', {
        status: 400, detail: [{ reason: 'an empty or missing filter would replay every dead letter', code: 'replay-selection' }],
      });
    }
    const q = needQueue();
    const actor = actorOf(request, adminToken);
    const filter = body.filter ?? {};
    const targets = body.ids ?? (await q.listDead(toFilter(filter, 'filter.limit', 1000))).map((d) => d.id);
    const looked = await Promise.all(targets.map((id) => q.getDead(id)));
    const notFound = targets.filter((_id, i) => looked[i] === undefined);
    const dead = looked.filter((d) => d !== undefined);
    // A payload this hub cannot open (its data key changed) would only die again at its claim: left where it is, named.
    const unsealable = dead.filter((d) => d.unsealable !== undefined).map((d) => d.id);
    // In acceptance order: one dossier's dead letters go back behind each other as they were first accepted, whatever
    // order they died or were named in (a replay re-queues each behind what its key already has).
    const found = dead.filter((d) => d.unsealable === undefined).sort(inAcceptanceOrder);
    // The replay is written to the log BEFORE the deliveries go back to the queue: another hub may deliver one at once,
    // and its `delivered` must come after this `replayed` in the log's write order, from which states are settled.
    if (messageLog && found.length) {
      await messageLog.recordEvents(found.map((d) => ({ messageId: d.messageId, deliveryId: d.id, destination: d.destination, at: Date.now(), kind: 'replayed' as const, actor })));
    }
    const replayed = await q.replay(found.map((d) => d.id));
    // The messages' states follow from their events (accepted again while a replayed delivery is under way), never
    // set blindly: a hub that delivered one already may have settled it, and this must not overwrite that.
    if (messageLog && found.length) await messageLog.settle([...new Set(found.map((d) => d.messageId))]);
    request.log.info({ replayed, requested: targets.length, notFound: notFound.length, unsealable: unsealable.length }, 'dead letters replayed');
    onReplay?.();
    return { replayed, requested: targets.length, ...(notFound.length ? { notFound } : {}), ...(unsealable.length ? { unsealable } : {}) };
  });

  app.post('/admin/dead-letters/:id/discard', {
    schema: {
      summary: 'Discard a dead letter for good, with a reason',
      tags,
      security,
      params: { type: 'object', properties: { id: idSchema }, required: ['id'] },
      body: { type: 'object', properties: { reason: { type: 'string', minLength: 3, maxLength: 500 } }, required: ['reason'], additionalProperties: false },
    },
    config: docs('{ discarded: id }', { ...notFound('dead letter'), ...jsonOnly }),
  }, async (request) => {
    const { id } = request.params as { id: string };
    const { reason } = request.body as { reason: string };
    const q = needQueue();
    const dead = await q.getDead(id);
    if (!dead || !(await q.discard(id, reason))) throw new HubError('client.not-found', `no dead letter ${id}`, { status: 404 });
    if (messageLog) {
      await messageLog.recordEvents([{ messageId: dead.messageId, deliveryId: id, destination: dead.destination, at: Date.now(), kind: 'discarded', reason, actor: actorOf(request, adminToken) }]);
      await messageLog.settle([dead.messageId]);
    }
    request.log.info({ deliveryId: id }, 'dead letter discarded');
    return { discarded: id };
  });

  app.get('/admin/messages', {
    schema: {
      summary: 'Search the message log (dossier code, correlation id, participant, type, state, time range), paginated',
      tags,
      security,
      querystring: {
        type: 'object',
        properties: {
          dossierCode: { type: 'string', maxLength: 64 }, correlationId: { type: 'string', maxLength: 128 }, participant: { type: 'string', maxLength: 200 },
          messageType: { type: 'string', maxLength: 100 }, state: { enum: ['received', 'rejected', 'failed', 'duplicate', 'accepted', 'delivered', 'partially-delivered', 'dead-lettered', 'discarded'] },
          from: { type: 'string', pattern: '^\\d{1,15}$' }, to: { type: 'string', pattern: '^\\d{1,15}$' }, limit: { type: 'string', pattern: '^\\d{1,3}$', description: `1 to ${MESSAGES_LIMIT_MAX}; a page holds at most 500, with \`next\` for the rest` }, cursor: { type: 'string', maxLength: 400 },
        },
        additionalProperties: false,
      },
    },
    config: docs('{ items: [...], next?: cursor }'),
  }, async (request) => {
    const q = request.query as Record<string, string | undefined>;
    const query: LogQuery = {
      dossierCode: q.dossierCode, correlationId: q.correlationId, participant: q.participant, messageType: q.messageType, state: q.state as LogQuery['state'],
      from: q.from ? Number(q.from) : undefined, to: q.to ? Number(q.to) : undefined, limit: pageLimit(q.limit, MESSAGES_LIMIT_MAX, 'limit'), cursor: q.cursor,
    };
    return needLog().search(query);
  });

  app.get('/admin/messages/:id/evidence', {
    schema: { summary: "One message's evidence bundle: the message, its signatures, its journal entries up to a signed checkpoint, and the certificates; check it offline with `lienthong audit check`", tags, security, params: { type: 'object', properties: { id: idSchema }, required: ['id'] } },
    config: docs('The evidence bundle', notFound('message')),
  }, async (request) => {
    const { id } = request.params as { id: string };
    const bundle = await needLog().exportEvidence(id);
    if (!bundle) throw new HubError('client.not-found', `no message ${id}`, { status: 404 });
    request.log.info({ messageId: id }, 'evidence exported');
    return bundle;
  });

  app.get('/admin/messages/:id', { schema: { summary: "One message's whole history", tags, security, params: { type: 'object', properties: { id: idSchema }, required: ['id'] } }, config: docs("The message's history", notFound('message')) }, async (request) => {
    const { id } = request.params as { id: string };
    const history = await needLog().history(id);
    if (!history) throw new HubError('client.not-found', `no message ${id}`, { status: 404 });
    return history;
  });

  const needAccess = () => {
    if (!access) throw new HubError('server.no-access-rights', 'this hub has no access rights', { status: 503 });
    return access;
  };
  const subject = { oneOf: [
    { type: 'object', properties: { participant: { type: 'string', maxLength: 200 } }, required: ['participant'], additionalProperties: false },
    { type: 'object', properties: { group: { type: 'string', maxLength: 64 } }, required: ['group'], additionalProperties: false },
  ] };
  const change = {
    type: 'object',
    properties: { service: { type: 'string', maxLength: 300 }, to: subject, operations: { type: 'array', items: { type: 'string', maxLength: 128 }, maxItems: 100 }, reason: { type: 'string', maxLength: 500 } },
    required: ['service', 'to'],
    additionalProperties: false,
  };
  const accessTags = ['access rights'];

  app.get('/admin/access', { schema: { summary: 'The groups and grants in force (config, then run-time changes)', tags: accessTags, security }, config: docs('{ groups, grants }') }, async () => needAccess().snapshot());

  app.get('/admin/access/check', {
    schema: {
      summary: 'Would this client be allowed this service (and operation)?', tags: accessTags, security,
      querystring: { type: 'object', properties: { client: { type: 'string', maxLength: 200 }, service: { type: 'string', maxLength: 300 }, operation: { type: 'string', maxLength: 128 } }, required: ['client', 'service'], additionalProperties: false },
    },
    config: docs('{ allowed, code?, reason? }'),
  }, async (request) => {
    const q = request.query as { client: string; service: string; operation?: string };
    return needAccess().check(q.client, q.service, q.operation);
  });

  const changeDescription = 'The actor recorded is who authenticated (`admin-token-holder`, or `loopback` when no LIENTHONG_ADMIN_TOKEN is set), followed by the `x-admin-actor` header, if sent, as the name the caller claims.';
  app.post('/admin/access/grants', { schema: { summary: 'Grant a service to a participant or group (recorded with the actor)', description: changeDescription, tags: accessTags, security, body: change }, config: docs('The change record', jsonOnly) }, async (request) => {
    const record = await needAccess().grant(request.body as AccessChange, actorOf(request, adminToken));
    request.log.info({ action: record.action, service: record.service, subject: record.subject }, 'access granted');
    return record;
  });

  app.post('/admin/access/revocations', { schema: { summary: 'Revoke a grant, or some of its operations (recorded with the actor)', description: changeDescription, tags: accessTags, security, body: change }, config: docs('The change record', jsonOnly) }, async (request) => {
    const record = await needAccess().revoke(request.body as AccessChange, actorOf(request, adminToken));
    request.log.info({ action: record.action, service: record.service, subject: record.subject }, 'access revoked');
    return record;
  });

  app.put('/admin/access/groups/:name', {
    schema: {
      summary: "Set a group's members (recorded with the actor)", description: changeDescription, tags: accessTags, security,
      params: { type: 'object', properties: { name: { type: 'string', minLength: 1, maxLength: 64 } }, required: ['name'] },
      body: { type: 'object', properties: { members: { type: 'array', items: { type: 'string', maxLength: 200 }, maxItems: 1000 }, reason: { type: 'string', maxLength: 500 } }, required: ['members'], additionalProperties: false },
    },
    config: docs('The change record', jsonOnly),
  }, async (request) => {
    const { name } = request.params as { name: string };
    const { members, reason } = request.body as { members: string[]; reason?: string };
    const record = await needAccess().setGroupMembers({ group: name, members, reason }, actorOf(request, adminToken));
    request.log.info({ action: record.action, group: name, members: members.length }, 'access group set');
    return record;
  });
}

/**
 * Who is changing access rights. Only how the caller authenticated is known (one shared token, or loopback without
 * one); the x-admin-actor header is whatever the caller says, so it is recorded beside that, labelled as a claim.
 */
function actorOf(request: FastifyRequest, token: string | undefined): string {
  const principal = token ? 'admin-token-holder' : 'loopback';
  const given = request.headers['x-admin-actor'];
  return typeof given === 'string' && /^[\p{L}\p{N} ._@/:-]{1,160}$/u.test(given) ? `${principal} (x-admin-actor: ${given})` : principal;
}

/** A page size from 1 to `max`; 0 would silently answer nothing (or, clamped, something other than asked). */
function pageLimit(given: string | undefined, max: number, field: string): number | undefined {
  if (given === undefined) return undefined;
  const limit = Number(given);
  if (Number.isInteger(limit) && limit >= 1 && limit <= max) return limit;
  throw new HubError('client.schema-violation', 'Yêu cầu không đúng lược đồ / request does not match its schema', {
    status: 400, detail: [{ field, reason: `phải là số nguyên từ 1 đến ${max} / must be a whole number from 1 to ${max}`, code: 'limit' }],
  });
}


function withoutPayload<T extends { payload: string; lease?: string }>(delivery: T): Omit<T, 'payload' | 'lease'> {
  const { payload: _payload, lease: _lease, ...rest } = delivery;
  return rest;
}

function authorize(request: FastifyRequest, reply: FastifyReply, token: string | undefined, proxyAddresses: readonly string[]): void {
  if (!token) {
    const address = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    // A TLS-terminating proxy on this machine forwards remote callers from 127.0.0.1: they are not local.
    if (['127.0.0.1', '::1'].includes(address) && !proxyAddresses.includes(address)) return;
    throw new HubError('trust.admin-remote', 'Admin API chỉ nhận từ máy cục bộ khi chưa đặt LIENTHONG_ADMIN_TOKEN / set LIENTHONG_ADMIN_TOKEN to use the admin API remotely (or through the trusted proxy)', { status: 403 });
  }
  // Only `Bearer <token>`: a bare token, or any other scheme, is refused.
  const given = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
  // Digests have one length whatever was sent, so the comparison takes the same time and tells nothing of the token's length.
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  if (given === undefined || !timingSafeEqual(digest(given), digest(token))) {
    // RFC 9110 §11.6.1: a 401 names the scheme it wants.
    reply.header('www-authenticate', 'Bearer realm="lienthong-admin"');
    throw new HubError('trust.admin-unauthorized', 'Thiếu hoặc sai mã quản trị / missing or wrong admin token', { status: 401 });
  }
}
