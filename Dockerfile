# The ingest image, for those with Docker (CI builds the same image without
# a daemon: go run ./cmd/ingest-image). Build and run:
#
#   docker build -t ghcr.io/ingestkit/clarifai-ingest:dev --build-arg VERSION=dev .
#   docker run --rm ghcr.io/ingestkit/clarifai-ingest:dev version
#
# The entrypoint is ingest; clarifai-emulator is beside it:
#
#   docker run --rm --entrypoint clarifai-emulator ghcr.io/ingestkit/clarifai-ingest:dev -h
#
# cmd/ingest-image/dockerfile_test.go checks this file's claims.

FROM golang:1.26 AS build
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=1970-01-01T00:00:00Z
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/ \
      -ldflags "-s -w -X github.com/ingestkit/clarifai-ingest/cmd/ingest/cli.buildVersion=${VERSION} -X github.com/ingestkit/clarifai-ingest/cmd/ingest/cli.buildCommit=${COMMIT} -X github.com/ingestkit/clarifai-ingest/cmd/ingest/cli.buildDate=${DATE}" \
      ./cmd/ingest ./cmd/clarifai-emulator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ingest /out/clarifai-emulator /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/ingest"]
CMD ["--help"]
