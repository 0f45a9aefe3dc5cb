import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Agent } from 'undici';
import { createDispatcher, createPeer } from '../../src/transport/index.js';
import { rejection } from './helpers.js';

/** A real fake peer on 127.0.0.1: the transport is exercised over real sockets. */
let app: FastifyInstance;
let url: string;
let dispatcher: Agent;

beforeAll(async () => {
  app = Fastify({ forceCloseConnections: true });
  app.post('/ok', async (req) => ({ echo: req.body }));
  // Never answers: only the request timeout can end this call (forceCloseConnections frees the socket at close).
  app.get('/slow-headers', () => new Promise(() => {}));
  app.get('/slow-body', (_req, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'text/plain' });
    reply.raw.write('first part');
    // never ends within the test's budget
  });
  app.get('/reset', (req) => {
    req.raw.socket.destroy();
  });
  app.get('/big', (_req, reply) => {
    reply.raw.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked, no content-length
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const pump = () => {
      while (sent < 64 && reply.raw.write(chunk)) sent++;
      if (sent >= 64) reply.raw.end();
      else reply.raw.once('drain', () => (sent++, pump()));
    };
    pump();
  });
  url = await app.listen({ host: '127.0.0.1', port: 0 });
  dispatcher = createDispatcher({ connectTimeoutMs: 1_000 });
});

afterAll(async () => {
  await dispatcher.destroy();
  await app.close();
});

describe('transport against a real peer', () => {
  it('round-trips JSON through a pooled Agent', async () => {
    const peer = createPeer({ name: 'fake', baseUrl: url }, dispatcher);
    const res = await peer.send({ path: '/ok', json: { hello: 'Trần Văn Thử' } });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString('utf8'))).toEqual({ echo: { hello: 'Trần Văn Thử' } });
  });

  it('a peer that never answers → transport.timeout (504)', async () => {
    const peer = createPeer({ name: 'fake', baseUrl: url, timeouts: { requestMs: 200 } }, dispatcher);
    const e = await rejection(peer.send({ path: '/slow-headers' }));
    expect(e.type).toBe('transport.timeout');
    expect(e.status).toBe(504);
  });

  it('a body that stalls → transport.timeout', async () => {
    const peer = createPeer({ name: 'fake', baseUrl: url, timeouts: { requestMs: 200 } }, dispatcher);
    const e = await rejection(peer.send({ path: '/slow-body' }));
    expect(e.type).toBe('transport.timeout');
  });

  it('a closed port → transport.unreachable (502)', async () => {
    const gone = Fastify();
    const goneUrl = await gone.listen({ host: '127.0.0.1', port: 0 });
    await gone.close();
    const peer = createPeer({ name: 'gone', baseUrl: goneUrl }, dispatcher);
    const e = await rejection(peer.send({ path: '/ok', json: {} }));
    expect(e.type).toBe('transport.unreachable');
    expect(e.status).toBe(502);
    expect(e.detail[0]?.code).toBe('ECONNREFUSED');
  });

  it('a peer that drops the connection → transport.unreachable', async () => {
    const peer = createPeer({ name: 'fake', baseUrl: url }, dispatcher);
    const e = await rejection(peer.send({ path: '/reset' }));
    expect(e.type).toBe('transport.unreachable');
  });

  it('an answer streamed past the cap → transport.response-too-large, and the pool still works', async () => {
    const peer = createPeer({ name: 'fake', baseUrl: url, maxResponseBytes: 1024 * 1024 }, dispatcher);
    const e = await rejection(peer.send({ path: '/big' }));
    expect(e.type).toBe('transport.response-too-large');
    const ok = await peer.send({ path: '/ok', json: {} });
    expect(ok.status).toBe(200);
  });
});
