#!/usr/bin/env bash
# A Node base image on a machine with no registry: this machine's `node` and the shared
# libraries `ldd` lists, plus CA certificates, imported with `docker import`. No shell, no
# npm, no user database: enough for the runtime stage of deploy/docker/service.Dockerfile,
# which has no RUN step and runs as the numeric uid 10001.
#   tools/docker/node-base.sh [tag]      (default lpi-local/node:<node version>)
set -euo pipefail
NODE_BIN="$(command -v node)"
TAG="${1:-lpi-local/node:$("$NODE_BIN" --version | tr -d v)}"
ROOTFS="$(mktemp -d /tmp/lpi-node-base.XXXXXX)"
trap 'rm -rf "$ROOTFS"' EXIT

echo "==> node-base: $NODE_BIN and its libraries -> $TAG"
install -D -m 0755 "$NODE_BIN" "$ROOTFS/usr/local/bin/node"
ldd "$NODE_BIN" | grep -oE '/[^ ]+' | sort -u | while read -r lib; do
  install -D -m 0644 "$lib" "$ROOTFS$lib"
  # the dynamic loader is executed, the rest only mapped
  case "$lib" in */ld-linux*) chmod 0755 "$ROOTFS$lib" ;; esac
done
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
fi
mkdir -p "$ROOTFS/tmp" && chmod 1777 "$ROOTFS/tmp"
tar -C "$ROOTFS" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  --change 'CMD ["node"]' - "$TAG" >/dev/null
echo "==> node-base: $TAG ($(docker run --rm "$TAG" node --version))"
