# syntax=docker/dockerfile:1
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/oncall-copilot ./cmd/oncall-copilot \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/oncall-copilot /usr/local/bin/oncall-copilot
COPY --from=build /src/examples /examples
# The embedded store lives in /data, owned by the unprivileged user.
COPY --from=build --chown=65532:65532 /out/data /data
USER nonroot:nonroot
ENV DATA_DIR=/data LISTEN_ADDR=:8080
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/oncall-copilot"]
CMD ["serve"]
