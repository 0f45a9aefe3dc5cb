# syntax=docker/dockerfile:1
# Build stage: full dependencies, native addons, TypeScript compile.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: compiled JS, production dependencies and the configuration only; runs as a non-root user.
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    LIENTHONG_HOST=0.0.0.0 \
    LIENTHONG_PORT=8080
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
COPY config ./config
COPY connectors ./connectors
COPY schemas ./schemas
COPY mappings ./mappings
# The embedded queue, message log and generated data key live here; mount a volume to keep them.
RUN mkdir -p /app/.data && chown node:node /app/.data
VOLUME ["/app/.data"]
USER node
EXPOSE 8080
# /ready, not /health: /ready turns 503 once a storage thread has crashed (the hub can no longer take messages).
# A hub with server.tls sets LIENTHONG_HEALTH_URL (e.g. https://127.0.0.1:8080/ready) or its own --health-cmd.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch(process.env.LIENTHONG_HEALTH_URL||'http://127.0.0.1:'+(process.env.LIENTHONG_PORT||8080)+'/ready').then(r=>process.exit(r.ok?0:1)).catch(()=>process.exit(1))"
# No demo simulators in the image (--no-sim): every connector's address comes from its *_URL variable, and one left
# unset is logged at start, instead of being served by a simulator whose fictitious answers count as delivered.
# Stopping: the hub drains deliveries in flight for LIENTHONG_SHUTDOWN_GRACE (default: the slowest connector's
# connect + request timeout + 5 s, at least 20 s; 23 s with the shipped connectors), then hands the rest back to the
# queue. Docker kills a container 10 s after SIGTERM by default: run it with a longer stop timeout
# (`docker run --stop-timeout 30`, compose `stop_grace_period: 30s`), or set LIENTHONG_SHUTDOWN_GRACE below it.
STOPSIGNAL SIGTERM
# The node flags of `npm start` (package.json): a busy hub keeps hundreds of deliveries in flight, which V8's default
# 16 MB young generation promotes; 64 MB cuts the main thread's garbage collection by more than half.
ENTRYPOINT ["node", "--max-semi-space-size=64", "bin/lienthong.js"]
CMD ["start", "--no-sim"]
