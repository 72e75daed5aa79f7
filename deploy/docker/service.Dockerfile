# One Dockerfile for the four services and the provider sandbox: build with
#   docker build -f deploy/docker/service.Dockerfile --build-arg APP=payment-service .
# Services run TypeScript through @swc-node/register (no build step), so the runtime stage
# keeps that dev dependency and @swc/core after pruning. No secret is ever copied in: the
# service reads them from Vault at start-up.
ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts \
 && npm prune --omit=dev --ignore-scripts \
 && npm install --no-save --ignore-scripts @swc-node/register @swc/core

FROM ${NODE_IMAGE} AS runtime
ARG APP
ENV NODE_ENV=production APP=${APP}
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.base.json tsconfig.json ./
COPY libs ./libs
COPY apps/${APP} ./apps/${APP}
RUN test -n "${APP}" \
 && find libs apps -name '*.spec.ts' -delete \
 && groupadd --gid 10001 app && useradd --uid 10001 --gid app --no-create-home --shell /usr/sbin/nologin app
USER 10001:10001
CMD ["sh", "-c", "exec node -r @swc-node/register apps/${APP}/src/main.ts"]
