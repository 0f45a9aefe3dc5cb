import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHub } from '../../src/server/hub.js';
import { startTestHub } from '../support/hub.js';

/**
 * A caller that trickles its body (slowloris) is cut off after server.requestTimeoutMs with 408, so that it cannot
 * hold a socket and its buffered bytes for ever. The hub here gives 1 s; the test waits at most 15 s. The answer is
 * problem+json with a request id, like every other error.
 */
describe('a request body that never finishes', () => {
  let hub: RunningHub;
  beforeAll(async () => {
    hub = await startTestHub({ LIENTHONG_REQUEST_TIMEOUT_MS: '1000', CSDLDC_URL: 'http://127.0.0.1:9' });
  });
  afterAll(async () => hub?.close());

  it('is answered 408 and its connection closed', async () => {
    const { port } = new URL(hub.url);
    const socket = connect(Number(port), '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    const closed = new Promise<void>((done) => socket.on('close', () => done()));
    socket.write('POST /v1/in/onegate-h56/citizen-lookup HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"soDinhDanh":');
    // One more byte now and then, as a slowloris does; stops when the hub hangs up (or after 15 s, failing below).
    const drip = setInterval(() => socket.writable && socket.write(' '), 200);
    const deadline = setTimeout(() => socket.destroy(), 15_000);
    await closed;
    clearInterval(drip);
    clearTimeout(deadline);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    // The same problem+json as every other error, with the request id its log line carries.
    const [head = '', body = ''] = answer.split('\r\n\r\n');
    expect(head).toMatch(/\r\ncontent-type: application\/problem\+json; charset=utf-8\r\n/i);
    const problem = JSON.parse(body) as { type: string; status: number; logId: string };
    expect(problem).toMatchObject({ type: 'client.request-timeout', status: 408 });
    expect(head).toContain(`\r\nx-request-id: ${problem.logId}`);
  }, 20_000);
});
