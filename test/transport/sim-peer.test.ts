import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Agent } from 'undici';
import { RESERVED, startPopulationSim, type PopulationSim } from '../../src/sim/index.js';
import { createDispatcher, createPeer, type Peer } from '../../src/transport/index.js';
import { rejection } from './helpers.js';

/** The hub's transport against the population simulator over real sockets: what the e2e path will do. */
let sim: PopulationSim;
let dispatcher: Agent;
let peer: Peer;

const envelope = (id: string) =>
  `<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:qldc="http://dancuquocgia.bca"><soapenv:Body>` +
  `<qldc:TraCuuThongTinCongDan><qldc:MaYeuCau>r1</qldc:MaYeuCau><qldc:SoDinhDanh>${id}</qldc:SoDinhDanh></qldc:TraCuuThongTinCongDan>` +
  `</soapenv:Body></soapenv:Envelope>`;
const soap = (id: string) => ({
  path: '/CSDLDanCu',
  body: envelope(id),
  headers: { 'content-type': 'text/xml; charset=utf-8', soapaction: '"TraCuuThongTinCongDan"' },
});

beforeAll(async () => {
  sim = await startPopulationSim({});
  dispatcher = createDispatcher({ connectTimeoutMs: 1_000 });
  peer = createPeer({ name: 'csdldc', baseUrl: sim.url, timeouts: { requestMs: 300 } }, dispatcher);
});

afterAll(async () => {
  await peer.close();
  await dispatcher.destroy();
  await sim.close();
});

describe('transport → population simulator', () => {
  it('looks a person up', async () => {
    const res = await peer.send(soap('001199999902'));
    expect(res.status).toBe(200);
    expect(res.body.toString('utf8')).toContain('<qldc:Ten>Mẫu</qldc:Ten>');
  });

  it('a SOAP fault comes back as an HTTP 500 answer, not an exception', async () => {
    const res = await peer.send(soap(RESERVED.FAULT));
    expect(res.status).toBe(500);
    expect(res.body.toString('utf8')).toContain('Hệ thống đang bận');
  });

  it('the slow CCCD trips the request timeout', async () => {
    const error = await rejection(peer.send(soap(RESERVED.SLOW)));
    expect(error.type).toBe('transport.timeout');
    expect(error.status).toBe(504);
  });
});
