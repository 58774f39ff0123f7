// One tracer provider per agent process, exporting with the real OTLP/HTTP
// exporter (JSON or protobuf) to the local collector of generate.js.
"use strict";

const { NodeTracerProvider } = require("@opentelemetry/sdk-trace-node");
const { BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { resourceFromAttributes } = require("@opentelemetry/resources");

function provider({ service, version, envKey, collector, encoding }) {
  const { OTLPTraceExporter } =
    encoding === "protobuf"
      ? require("@opentelemetry/exporter-trace-otlp-proto")
      : require("@opentelemetry/exporter-trace-otlp-http");
  const exporter = new OTLPTraceExporter({ url: collector });
  const resource = resourceFromAttributes({
    "service.name": service,
    "service.version": version,
    [envKey]: "production",
    "cloud.region": "eu-west-1",
  });
  const p = new NodeTracerProvider({
    resource,
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  p.register(); // AsyncLocalStorage context manager, global provider
  return p;
}

module.exports = { provider };
