#!/usr/bin/env bash
# Builds the envtest control-plane binaries (kube-apiserver, etcd) from the Go module
# proxy, because setup-envtest's download site is not reachable from our machines.
# The result is cached under bin/k8s/<versions>/; a second run is a no-op.
# The assets directory is printed as the last line of standard output.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GOOS="$(go env GOOS)"
GOARCH="$(go env GOARCH)"
ASSETS="${ROOT}/bin/k8s/${K8S_VERSION}-etcd${ETCD_VERSION}-${GOOS}-${GOARCH}"

log() { echo "setup-envtest: $*" >&2; }

if [[ -x "${ASSETS}/kube-apiserver" && -x "${ASSETS}/etcd" ]]; then
  log "cached in ${ASSETS}"
  echo "${ASSETS}"
  exit 0
fi

mkdir -p "${ASSETS}"
WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN=local

build_apiserver() {
  local dir="${WORK}/apiserver" minor gomod
  mkdir -p "${dir}"
  cd "${dir}"
  go mod init envtest/apiserver 2>/dev/null
  # go mod download -json reports errors on stdout; retry a passing proxy fault.
  local try
  for try in 1 2 3; do
    if go mod download -json "k8s.io/kubernetes@v${K8S_VERSION}" >"${dir}/dl.json"; then break; fi
    cat "${dir}/dl.json" >&2
    [[ ${try} == 3 ]] && { log "cannot download k8s.io/kubernetes@v${K8S_VERSION}"; return 1; }
    sleep 5
  done
  gomod="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p' "${dir}/dl.json")"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
  # local paths; outside its tree each must point at the published v0.<minor>.<patch>.
  minor="0.${K8S_VERSION#1.}"
  go mod edit -require "k8s.io/kubernetes@v${K8S_VERSION}"
  for m in $(sed -n 's/^[[:space:]]*\(k8s\.io\/[^ ]*\) => \.\/staging.*/\1/p' "${gomod}"); do
    go mod edit -replace "${m}=${m}@v${minor}"
  done
  local ver="k8s.io/component-base/version"
  local ldflags="-s -w -X ${ver}.gitVersion=v${K8S_VERSION} -X ${ver}.gitMajor=1 -X ${ver}.gitMinor=$(echo "${K8S_VERSION}" | cut -d. -f2) -X ${ver}.gitTreeState=clean"
  log "building kube-apiserver v${K8S_VERSION} (a cold build takes several minutes)"
  go build -trimpath -ldflags "${ldflags}" -o "${ASSETS}/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
  mv "${ASSETS}/kube-apiserver.tmp" "${ASSETS}/kube-apiserver"
}

build_etcd() {
  local dir="${WORK}/etcd"
  mkdir -p "${dir}"
  cd "${dir}"
  go mod init envtest/etcd 2>/dev/null
  cat >main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod edit -require "go.etcd.io/etcd/server/v3@v${ETCD_VERSION}"
  go mod tidy >/dev/null 2>&1 || go mod tidy
  log "building etcd v${ETCD_VERSION}"
  go build -trimpath -ldflags "-s -w" -o "${ASSETS}/etcd.tmp" .
  mv "${ASSETS}/etcd.tmp" "${ASSETS}/etcd"
}

[[ -x "${ASSETS}/etcd" ]] || build_etcd
[[ -x "${ASSETS}/kube-apiserver" ]] || build_apiserver
if [[ ! -e "${ASSETS}/kubectl" ]] && command -v kubectl >/dev/null 2>&1; then
  ln -s "$(command -v kubectl)" "${ASSETS}/kubectl"
fi
log "built into ${ASSETS}"
echo "${ASSETS}"
