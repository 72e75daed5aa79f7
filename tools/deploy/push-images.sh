#!/usr/bin/env bash
# Builds every image from deploy/docker/service.Dockerfile, pushes it to REGISTRY with TAG, and
# writes the production overlay's one `images:` block to name exactly what was pushed.
#   tools/deploy/push-images.sh <registry, e.g. registry.example.com/lpi> <tag>
set -euo pipefail
cd "$(dirname "$0")/../.."
REGISTRY="${1:?usage: push-images.sh <registry> <tag>}"
TAG="${2:?usage: push-images.sh <registry> <tag>}"
APPS=(payment-service refund-service reporting-service webhook-service)
for app in "${APPS[@]}"; do
  echo "==> $app: build, tag $REGISTRY/$app:$TAG, push"
  docker build -f deploy/docker/service.Dockerfile --build-arg "APP=$app" -t "$REGISTRY/$app:$TAG" .
  docker push "$REGISTRY/$app:$TAG"
done
echo "==> bootstrap (tools image): build, push"
docker build -f deploy/docker/service.Dockerfile --target tools -t "$REGISTRY/bootstrap:$TAG" .
docker push "$REGISTRY/bootstrap:$TAG"
OVERLAY=deploy/k8s/overlays/production/kustomization.yaml
for app in "${APPS[@]}" bootstrap; do
  sed -i -E "s#^  - \{ name: lpi/$app, .*\}\$#  - { name: lpi/$app, newName: $REGISTRY/$app, newTag: '$TAG' }#" "$OVERLAY"
done
echo "==> $OVERLAY now names $REGISTRY/<app>:$TAG"
