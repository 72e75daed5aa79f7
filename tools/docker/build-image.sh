#!/usr/bin/env bash
# Builds an app's runtime image from deploy/docker/service.Dockerfile on a machine with no
# registry and no BuildKit: the bundle is built here (`nx run <app>:build`, then
# `npm ci --omit=dev` beside it, as the Dockerfile's build stage does), imported as the
# `bundle` stage, and the Dockerfile's own runtime stage is built on top of a Node base
# imported from this machine (tools/docker/node-base.sh). Prints the image's content size.
#   tools/docker/build-image.sh <app> [tag]     (needs a running dockerd)
set -euo pipefail
APP="${1:?usage: tools/docker/build-image.sh <app> [tag]}"
TAG="${2:-lpi-local/$APP:runtime}"
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
NODE_TAG="lpi-local/node:$(node --version | tr -d v)"
WORK="$(mktemp -d /tmp/lpi-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
cd "$ROOT"

docker image inspect "$NODE_TAG" >/dev/null 2>&1 || tools/docker/node-base.sh "$NODE_TAG"

echo "==> build-image: nx run $APP:build"
NX_DAEMON=false npx nx run "$APP:build" --outputStyle=static >"$WORK/build.log" 2>&1 \
  || { tail -40 "$WORK/build.log"; exit 1; }

echo "==> build-image: the bundle and its production dependencies (npm ci --omit=dev)"
mkdir -p "$WORK/bundle/out/$APP"
cp "dist/apps/$APP/main.js" "dist/apps/$APP/package.json" "dist/apps/$APP/package-lock.json" \
  "$WORK/bundle/out/$APP/"
(cd "$WORK/bundle/out/$APP" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)
# the jemalloc the runtime preloads, as the Dockerfile's build stage takes it from Debian
JEMALLOC="$(ldconfig -p | awk '/libjemalloc\.so\.2 / { print $NF; exit }')"
[ -n "$JEMALLOC" ] || { echo "build-image: no libjemalloc.so.2 here (apt-get install libjemalloc2)" >&2; exit 1; }
mkdir -p "$WORK/bundle/out/lib" && cp "$JEMALLOC" "$WORK/bundle/out/lib/libjemalloc.so.2"
tar -C "$WORK/bundle" -c . | docker import - "lpi-local/bundle-$APP:local" >/dev/null

echo "==> build-image: the Dockerfile's runtime stage on $NODE_TAG"
# the global ARGs and everything from the bundle stage on, verbatim
sed -n -e '/^ARG NODE_IMAGE=/p' -e '/^ARG BUNDLE_IMAGE=/p' -e '/^FROM ${BUNDLE_IMAGE}/,$p' \
  deploy/docker/service.Dockerfile >"$WORK/runtime.Dockerfile"
mkdir -p "$WORK/context"
docker build -q -f "$WORK/runtime.Dockerfile" -t "$TAG" \
  --build-arg "APP=$APP" --build-arg "NODE_IMAGE=$NODE_TAG" \
  --build-arg "BUNDLE_IMAGE=lpi-local/bundle-$APP:local" "$WORK/context" >/dev/null
docker image rm "lpi-local/bundle-$APP:local" >/dev/null

size=$(docker image inspect -f '{{.Size}}' "$TAG")
base=$(docker image inspect -f '{{.Size}}' "$NODE_TAG")
echo "==> build-image: $TAG $((size / 1024 / 1024)) MB ($((base / 1024 / 1024)) MB of it the Node base, $(((size - base) / 1024)) KB the app)"
