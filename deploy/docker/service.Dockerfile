# One Dockerfile for the four services, the provider sandbox and vault-dev:
#   docker build -f deploy/docker/service.Dockerfile --build-arg APP=payment-service .
# The builder runs the app's Nx `build` target (an esbuild bundle, TypeScript compiled by
# swc) and installs the few packages the bundle leaves external (native add-ons, listed in
# the package.json the build writes next to it). The runtime stage holds only that: main.js,
# its package.json and those node_modules; no TypeScript, swc, dev packages or libs/testing,
# and no shell step, so it also runs on a distroless or locally imported Node base. No
# secret is ever copied in: a service reads its secrets from Vault at start-up. ADR 0019.
ARG NODE_IMAGE=node:24-bookworm-slim
# the stage the bundle comes from; tools/docker/build-image.sh passes a prebuilt one
ARG BUNDLE_IMAGE=build

# the workspace with every dependency: where bundles are built, and the `tools` image
FROM ${NODE_IMAGE} AS workspace
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .

# one-shot jobs that run TypeScript tools (compose's pki and bootstrap); never a service
FROM workspace AS tools
USER 10001:10001

FROM workspace AS build
ARG APP
RUN test -n "${APP}" \
 && NX_DAEMON=false npx nx run "${APP}:build" --outputStyle=static \
 && cd "dist/apps/${APP}" \
 && npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -f main.js.map \
 && mkdir -p /out && cp -a . "/out/${APP}"
# jemalloc, which the runtime preloads into node: Debian's, for this base's architecture.
# It hands freed memory back to the system, where glibc's malloc keeps what start-up
# fragments: an idle service holds about 40 MB less (ADR 0033)
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libjemalloc2 \
 && mkdir -p /out/lib && cp "$(dpkg -L libjemalloc2 | grep '/libjemalloc\.so\.2$')" /out/lib/ \
 && rm -rf /var/lib/apt/lists/*

FROM ${BUNDLE_IMAGE} AS bundle

FROM ${NODE_IMAGE} AS runtime
ARG APP
# as the local stack runs bundles (BUNDLE_ENV): a small young generation; jemalloc preloaded,
# returning freed pages within a second (MALLOC_ARENA_MAX is glibc's, if the preload is removed)
ENV NODE_ENV=production NODE_OPTIONS=--max-semi-space-size=2 MALLOC_ARENA_MAX=2 \
    MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2,tcache:false \
    LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
WORKDIR /app
COPY --from=bundle /out/lib/libjemalloc.so.2 /usr/local/lib/libjemalloc.so.2
COPY --from=bundle /out/${APP}/ ./
USER 10001:10001
CMD ["node", "main.js"]
