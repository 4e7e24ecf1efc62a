# Multi-stage build of the manager image: a Go builder stage compiles a static binary, and
# the runtime stage is distroless static, non-root (UID 65532), with the binary as
# /manager. `docker build .` uses the upstream images below; `make docker-build` on a
# machine without a registry passes local stand-ins for both (see hack/image/ and
# docs/install.md), and the image that comes out has the same entrypoint, user and labels.
ARG BUILDER_IMAGE=golang:1.26.8
ARG BASE_IMAGE=gcr.io/distroless/static:nonroot

FROM ${BUILDER_IMAGE} AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# The RUN steps use the exec form, so the builder needs a Go toolchain and nothing else
# (no shell): a toolchain-only image can stand in for golang when no registry is reachable.
# An empty GOOS or GOARCH means the builder's own.
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}

# Modules first, so a source change does not re-download them.
COPY go.mod go.sum ./
RUN ["go", "mod", "download"]

COPY cmd/manager/ cmd/manager/
COPY api/ api/
COPY internal/ internal/

# Static binary: the runtime image has no libc.
RUN ["go", "build", "-trimpath", "-ldflags=-s -w", "-o", "manager", "./cmd/manager"]

# distroless/static:nonroot: CA certificates, /etc/passwd with nonroot (65532), no shell or
# package manager.
FROM ${BASE_IMAGE}
ARG BASE_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="csms-operator" \
      org.opencontainers.image.description="Kubernetes operator for Huawei Cloud CSMS secrets (manager)" \
      org.opencontainers.image.source="https://github.com/csms-operator/csms-operator" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"
WORKDIR /
COPY --from=builder /workspace/manager /manager
USER 65532:65532

ENTRYPOINT ["/manager"]
