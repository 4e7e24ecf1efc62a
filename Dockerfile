# Multi-stage build of the manager image. It cannot be built on the project's development
# machines (no container engine there); see docs/install.md.
FROM golang:1.26.8 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Modules first, so a source change does not re-download them.
COPY go.mod go.sum ./
RUN go mod download

COPY cmd/manager/ cmd/manager/
COPY api/ api/
COPY internal/ internal/

# Static binary: the runtime image has no libc.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o manager ./cmd/manager

# distroless/static:nonroot runs as UID 65532 with no shell or package manager.
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager .
USER 65532:65532

ENTRYPOINT ["/manager"]
