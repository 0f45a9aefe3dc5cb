import { Counter, Gauge, Histogram, Registry as MetricsRegistry, collectDefaultMetrics } from 'prom-client';
import type { QueueDriver } from '../delivery/types.js';
import type { Observer } from '../pipeline/observer.js';

/** Prometheus metrics at /metrics: messages, delivery attempts and latencies, queue and dead-letter depth. */
export interface Metrics {
  registry: MetricsRegistry;
  observer: Observer;
}

export function createMetrics(queue: QueueDriver | undefined): Metrics {
  const registry = new MetricsRegistry();
  // Default metrics are named process_… and nodejs_… already: the prefix makes lienthong_process_cpu_…, lienthong_nodejs_….
  collectDefaultMetrics({ register: registry, prefix: 'lienthong_' });
  const messages = new Counter({ name: 'lienthong_messages_total', help: 'Inbound messages by connector, operation and outcome (accepted, delivered, rejected).', labelNames: ['connector', 'operation', 'outcome'], registers: [registry] });
  const attempts = new Counter({ name: 'lienthong_delivery_attempts_total', help: 'Delivery attempts by destination and outcome (delivered, retry, dead-lettered).', labelNames: ['destination', 'outcome'], registers: [registry] });
  const latency = new Histogram({ name: 'lienthong_delivery_duration_seconds', help: 'Time to deliver to a destination, per attempt.', labelNames: ['destination'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] });
  const wait = new Histogram({ name: 'lienthong_delivery_queue_wait_seconds', help: 'Time a delivery waited in the queue before its attempt.', labelNames: ['destination'], buckets: [0.001, 0.01, 0.1, 1, 10, 60, 600, 3600], registers: [registry] });
  const trustFailures = new Counter({ name: 'lienthong_trust_failures_total', help: 'Messages refused for a trust reason, by error type and code (signature, certificate, replay, access, checksum).', labelNames: ['type', 'code'], registers: [registry] });
  const retries = new Counter({ name: 'lienthong_retries_total', help: 'Retries scheduled, by destination.', labelNames: ['destination'], registers: [registry] });
  new Gauge({
    name: 'lienthong_queue_depth', help: 'Deliveries in the queue by state (ready, delayed, active).', labelNames: ['state'], registers: [registry],
    async collect() {
      if (!queue) return;
      const counts = await queue.counts();
      for (const state of ['ready', 'delayed', 'active'] as const) this.set({ state }, counts[state]);
    },
  });
  new Gauge({
    name: 'lienthong_dead_letters', help: 'Deliveries waiting in the dead-letter queue.', registers: [registry],
    async collect() {
      if (queue) this.set((await queue.counts()).dead);
    },
  });
  return {
    registry,
    observer: {
      message: ({ connector, operation, outcome }) => messages.inc({ connector, operation, outcome }),
      attempt: ({ destination, outcome, durationMs, queueWaitMs }) => {
        attempts.inc({ destination, outcome });
        latency.observe({ destination }, durationMs / 1000);
        wait.observe({ destination }, queueWaitMs / 1000);
        if (outcome === 'retry') retries.inc({ destination });
      },
      trustFailure: ({ type, code }) => trustFailures.inc({ type, code: code ?? '' }),
    },
  };
}
