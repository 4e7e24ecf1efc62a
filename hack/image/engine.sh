#!/usr/bin/env bash
# Prints the container engine command to use: $CONTAINER_TOOL when set, else docker when a
# docker engine answers (`docker info`; a docker client without an engine does not count),
# else podman when installed. Fails with a hint when there is none.
set -euo pipefail
if [[ -n "${CONTAINER_TOOL:-}" ]]; then
  echo "${CONTAINER_TOOL}"
  exit 0
fi
if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
  echo docker
  exit 0
fi
if command -v podman >/dev/null 2>&1; then
  echo podman
  exit 0
fi
echo "no container engine: install podman (apt-get install -y podman runc) or start a docker engine, or set CONTAINER_TOOL" >&2
exit 1
