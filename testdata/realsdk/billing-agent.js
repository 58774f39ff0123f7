// billing-agent: a hand-written agent on the OpenAI SDK, traced by
// @arizeai/openinference-instrumentation-openai for its model calls, with
// its agent and tool spans written by hand under the OpenTelemetry GenAI
// semantic conventions. It shares the store with support-agent and has
// its own steady failures: a quarter of its invoice lookups hit an invoice
// locked by the nightly billing job, before and during support-agent's
// incident alike.
"use strict";

const clock = require("./clock");
const fleet = require("./fleet");
const { rng } = require("./rand");

clock.install(fleet.start);

const { provider } = require("./telemetry");
const tp = provider({
  service: "billing-agent",
  version: "0.9.0",
  envKey: process.env.ENV_KEY || "deployment.environment",
  collector: process.env.COLLECTOR_URL,
  encoding: process.env.ENCODING || "json",
});

const { OpenAIInstrumentation } = require("@arizeai/openinference-instrumentation-openai");
const OpenAIModule = require("openai");
new OpenAIInstrumentation({ tracerProvider: tp }).manuallyInstrument(OpenAIModule);

const { trace, context, SpanStatusCode } = require("@opentelemetry/api");
const tracer = tp.getTracer("billing-agent", "0.9.0");

const r = rng(34);

const client = new OpenAIModule.OpenAI({
  apiKey: "sk-local-fake",
  baseURL: process.env.MODEL_URL,
  maxRetries: 0,
  fetch: async (url, init) => {
    clock.advance(r.int(600, 1900));
    return fetch(url, init);
  },
});

class InvoiceLockedError extends Error {
  constructor(id) {
    super(`invoice ${id} is locked by billing job reconcile-nightly`);
    this.name = "InvoiceLockedError";
  }
}

async function getInvoice({ invoice_id }) {
  clock.advance(r.int(30, 120));
  if (r.next() < 0.25) throw new InvoiceLockedError(invoice_id);
  return { invoice_id, amount_eur: r.int(10, 400), charges: 1, status: "paid" };
}

const toolDefs = [
  {
    type: "function",
    function: {
      name: "get_invoice",
      description: "Fetch an invoice by id.",
      parameters: { type: "object", properties: { invoice_id: { type: "string" } }, required: ["invoice_id"] },
    },
  },
];

async function runTool(call) {
  return tracer.startActiveSpan(`execute_tool ${call.function.name}`, async (span) => {
    span.setAttributes({
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": call.function.name,
      "gen_ai.tool.call.id": call.id,
      "gen_ai.tool.call.arguments": call.function.arguments,
    });
    try {
      const out = JSON.stringify(await getInvoice(JSON.parse(call.function.arguments)));
      span.setAttribute("gen_ai.tool.call.result", out);
      return out;
    } catch (e) {
      span.recordException(e);
      span.setAttribute("error.type", e.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      throw e;
    } finally {
      span.end();
    }
  });
}

async function runAgent(question) {
  return tracer.startActiveSpan("invoke_agent billing-agent", async (span) => {
    span.setAttributes({
      "gen_ai.operation.name": "invoke_agent",
      "gen_ai.agent.name": "billing-agent",
      "gen_ai.provider.name": "openai",
      "gen_ai.request.model": "gpt-4o-mini",
    });
    const messages = [
      { role: "system", content: "You answer billing questions. Use the tools." },
      { role: "user", content: question },
    ];
    try {
      for (let step = 0; step < 4; step++) {
        const res = await client.chat.completions.create({ model: "gpt-4o-mini", messages, tools: toolDefs });
        const msg = res.choices[0].message;
        messages.push(msg);
        if (!msg.tool_calls || msg.tool_calls.length === 0) return msg.content;
        for (const call of msg.tool_calls) {
          messages.push({ role: "tool", tool_call_id: call.id, content: await runTool(call) });
        }
      }
      throw new Error("agent stopped after 4 steps");
    } catch (e) {
      span.recordException(e);
      span.setAttribute("error.type", e.name);
      span.setStatus({ code: SpanStatusCode.ERROR, message: e.message });
      throw e;
    } finally {
      span.end();
    }
  });
}

async function main() {
  let t = fleet.start + 20000;
  while (t < fleet.end) {
    clock.advanceTo(t);
    const inv = `INV-${r.int(200000, 299999)}`;
    try {
      await context.with(context.active(), () => runAgent(`Why was I charged twice on ${inv}?`));
    } catch {
      // recorded on the spans
    }
    await tp.forceFlush();
    t += r.int(35, 65) * 1000;
  }
  await tp.shutdown();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
