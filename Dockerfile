# syntax=docker/dockerfile:1
# sesq: a static binary on distroless, run as non-root.
#   docker build --build-arg VERSION=$(git describe --tags --always) -t sesq .
# Base images are pinned by digest; the tag beside each says what it is.

FROM golang:1.26.4-alpine@sha256:3ad57304ad93bbec8548a0437ad9e06a455660655d9af011d58b993f6f615648 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
# The build command; `make build` runs the same (a test in `make test` checks).
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/sesq ./cmd/sesq

FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/sesq /sesq
USER 65532:65532
EXPOSE 9090
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["/sesq", "health"]
ENTRYPOINT ["/sesq"]
CMD ["run"]
