#!/usr/bin/env bash
# Builds the manager image from the Dockerfile (run by `make docker-build`).
#
#   IMG            image reference to tag (required)
#   BUILDER_IMAGE  image of the Dockerfile's builder stage; "local" (the default) builds a
#                  stand-in from the host's Go toolchain; "" uses the Dockerfile's default
#                  (golang:<version>, pulled from a registry)
#   BASE_IMAGE     image of the runtime stage; "local" (the default) builds a stand-in for
#                  distroless static nonroot from files of this machine; "" uses the
#                  Dockerfile's default (gcr.io/distroless/static:nonroot)
#   CONTAINER_TOOL engine command (default: hack/image/engine.sh decides)
#   VERSION, REVISION  image labels (default: git describe / git rev-parse)
#
# The stand-ins exist because the project's machines reach no container registry. The
# image built from them has the Dockerfile's entrypoint, user and labels; its label
# org.opencontainers.image.base.name says which base it was built on.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "${ROOT}"

IMG="${IMG:?set IMG to the image reference to build}"
BUILDER_IMAGE="${BUILDER_IMAGE-local}"
BASE_IMAGE="${BASE_IMAGE-local}"
read -r -a engine <<<"$(hack/image/engine.sh)"
VERSION="${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
REVISION="${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"

log() { echo "docker-build: $*" >&2; }

image_exists() {
  "${engine[@]}" image inspect "$1" >/dev/null 2>&1
}

build_args=(--build-arg "VERSION=${VERSION}" --build-arg "REVISION=${REVISION}")
mounts=()

if [[ "${BUILDER_IMAGE}" == local ]]; then
  if [[ "${engine[0]}" != podman ]]; then
    # docker build cannot mount the host's module cache, and the stand-in has no network.
    log "BUILDER_IMAGE=local needs podman (it mounts the host's Go module cache); with ${engine[0]}, set BUILDER_IMAGE=golang:<version>"
    exit 1
  fi
  gov="$(go env GOVERSION)"
  BUILDER_IMAGE="localhost/csms-operator-stand-in/golang:${gov#go}"
  if image_exists "${BUILDER_IMAGE}"; then
    log "builder stand-in ${BUILDER_IMAGE} exists"
  else
    log "building the builder stand-in ${BUILDER_IMAGE} from $(go env GOROOT)"
    ctx="${ROOT}/.local/image/golang"
    rm -rf "${ctx}"
    mkdir -p "${ctx}/rootfs/usr/local" "${ctx}/rootfs/tmp" "${ctx}/rootfs/go" "${ctx}/rootfs/root"
    chmod 1777 "${ctx}/rootfs/tmp"
    # Hard links when GOROOT is on the same file system: no copy of its 250+ MB.
    cp -al "$(go env GOROOT)" "${ctx}/rootfs/usr/local/go" 2>/dev/null || cp -a "$(go env GOROOT)" "${ctx}/rootfs/usr/local/go"
    "${engine[@]}" build --quiet -f hack/image/golang.Containerfile --build-arg "GO_VERSION=${gov#go}" \
      -t "${BUILDER_IMAGE}" "${ctx}" >/dev/null
    rm -rf "${ctx}"
  fi
  # Every module the build needs, in the host's cache that the builder reads.
  go mod download
  # podman does not set the platform arguments BuildKit sets.
  build_args+=(--build-arg "TARGETOS=$(go env GOOS)" --build-arg "TARGETARCH=$(go env GOARCH)")
  mounts+=(-v "$(go env GOMODCACHE):/go/pkg/mod:ro" -v "$(go env GOCACHE):/root/.cache/go-build")
fi

if [[ "${BASE_IMAGE}" == local ]]; then
  BASE_IMAGE="localhost/csms-operator-stand-in/distroless-static:nonroot"
  ctx="${ROOT}/.local/image/distroless-static"
  rm -rf "${ctx}"
  mkdir -p "${ctx}/rootfs/etc/ssl/certs" "${ctx}/rootfs/tmp" "${ctx}/home/nonroot"
  chmod 1777 "${ctx}/rootfs/tmp"
  ca=/etc/ssl/certs/ca-certificates.crt
  if [[ ! -s "${ca}" ]]; then
    log "${ca} is missing (apt-get install -y ca-certificates)"
    exit 1
  fi
  cp "${ca}" "${ctx}/rootfs/etc/ssl/certs/ca-certificates.crt"
  # The same users and groups as distroless.
  cat >"${ctx}/rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"${ctx}/rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  echo 'hosts: files dns' >"${ctx}/rootfs/etc/nsswitch.conf"
  log "building the base stand-in ${BASE_IMAGE}"
  "${engine[@]}" build --quiet -f hack/image/distroless-static.Containerfile -t "${BASE_IMAGE}" "${ctx}" >/dev/null
fi

if [[ "${engine[0]}" == podman ]]; then
  # buildah (podman 4.3) reuses a cached LABEL layer even when the build args it expands
  # changed, which would keep a stale revision; labels given here are applied at commit.
  build_args+=(--label "org.opencontainers.image.version=${VERSION}" --label "org.opencontainers.image.revision=${REVISION}")
fi
[[ -n "${BUILDER_IMAGE}" ]] && build_args+=(--build-arg "BUILDER_IMAGE=${BUILDER_IMAGE}")
[[ -n "${BASE_IMAGE}" ]] && build_args+=(--build-arg "BASE_IMAGE=${BASE_IMAGE}")

log "building ${IMG} with ${engine[*]} (builder ${BUILDER_IMAGE:-Dockerfile default}, base ${BASE_IMAGE:-Dockerfile default})"
"${engine[@]}" build -f Dockerfile -t "${IMG}" "${build_args[@]}" "${mounts[@]}" .
size="$("${engine[@]}" image inspect --format '{{.Size}}' "${IMG}")"
log "built ${IMG}: $((size / 1024 / 1024)) MiB ($(("${size}")) bytes)"
