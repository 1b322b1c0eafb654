# One image for the manager and the in-cluster token engine: a static binary on distroless, non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG TARGETOS=linux
ARG TARGETARCH=amd64
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -ldflags "-s -w" -o /out/token-operator .

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/token-operator /token-operator
USER 65532:65532
ENTRYPOINT ["/token-operator"]
CMD ["manager"]
