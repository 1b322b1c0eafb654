# syntax=docker/dockerfile:1
# One image for the manager and the in-cluster token engine: a static binary on distroless, non-root.
# test/image builds the same binary with the same flags and checks it is static.

# The build stage runs on the builder's platform and cross-compiles: no emulation for other arches.
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
# VERSION is what `token-operator --version` prints; set it with --build-arg VERSION=v0.1.0
# (and REVISION=$(git rev-parse HEAD) for the revision label).
ARG VERSION=dev
# CGO_ENABLED=0: a static binary that needs no libc (distroless static has none); -trimpath:
# no build paths in the binary, reproducible; -s -w: no symbol table or DWARF.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/token-operator .

# distroless static: CA certificates and tzdata, no shell or package manager.
FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=""
# The labels `make image` sets too (internal/ociimage).
LABEL org.opencontainers.image.source="https://github.com/tokenops/token-operator" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.title="token-operator"
COPY --from=build /out/token-operator /token-operator
# Numeric, so that the kubelet can verify runAsNonRoot without reading /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/token-operator"]
CMD ["manager"]
