// support-agent: a LangChain.js agent loop (ChatOpenAI with bound tools),
// traced by @arizeai/openinference-instrumentation-langchain. Its
// get_shipping_status tool calls a shipping API that starts answering 503
// at fleet.incidentStart; lookup_order fails now and then throughout for
// order numbers customers mistype.
"use strict";

const clock = require("./clock");
const fleet = require("./fleet");
const { rng } = require("./rand");

clock.install(fleet.start);

const { provider } = require("./telemetry");
const tp = provider({
  service: "support-agent",
  version: "1.14.2",
  envKey: process.env.ENV_KEY || "deployment.environment.name",
  collector: process.env.COLLECTOR_URL,
  encoding: process.env.ENCODING || "json",
});

const { LangChainInstrumentation } = require("@arizeai/openinference-instrumentation-langchain");
const CallbackManagerModule = require("@langchain/core/callbacks/manager");
new LangChainInstrumentation({ tracerProvider: tp }).manuallyInstrument(CallbackManagerModule);

const { ChatOpenAI } = require("@langchain/openai");
const { tool } = require("@langchain/core/tools");
const { RunnableLambda } = require("@langchain/core/runnables");
const { SystemMessage, HumanMessage } = require("@langchain/core/messages");
const { z } = require("zod");

const r = rng(12);

class OrderNotFoundError extends Error {
  constructor(id) {
    super(`order ${id} not found`);
    this.name = "OrderNotFoundError";
  }
}

class ShippingApiError extends Error {
  constructor(status, url) {
    super(`shipping API answered ${status} for GET ${url}`);
    this.name = "ShippingApiError";
    this.status = status;
  }
}

const lookupOrder = tool(
  async ({ order_id }) => {
    clock.advance(r.int(40, 160));
    if (order_id.endsWith("0")) throw new OrderNotFoundError(order_id);
    return JSON.stringify({ order_id, status: "shipped", tracking_number: `1Z${r.int(100000, 999999)}A${r.int(1000, 9999)}` });
  },
  {
    name: "lookup_order",
    description: "Look up an order by its id.",
    schema: z.object({ order_id: z.string() }),
  },
);

const getShippingStatus = tool(
  async ({ tracking_number }) => {
    const url = `https://shipping-api.internal/v2/shipments/${tracking_number}/status`;
    if (clock.now() >= fleet.incidentStart && r.next() < 0.75) {
      clock.advance(r.int(2900, 3100)); // the API's gateway times out
      throw new ShippingApiError("503 Service Unavailable", url);
    }
    clock.advance(r.int(90, 350));
    return JSON.stringify({ tracking_number, carrier: "UPS", state: "in_transit", eta: "2026-03-12" });
  },
  {
    name: "get_shipping_status",
    description: "Get the carrier status of a shipment by tracking number.",
    schema: z.object({ tracking_number: z.string() }),
  },
);

const tools = { lookup_order: lookupOrder, get_shipping_status: getShippingStatus };

const model = new ChatOpenAI({
  model: "gpt-4o-mini",
  temperature: 0,
  apiKey: "sk-local-fake",
  maxRetries: 0,
  configuration: {
    baseURL: process.env.MODEL_URL,
    fetch: async (url, init) => {
      clock.advance(r.int(450, 1600));
      return fetch(url, init);
    },
  },
}).bindTools(Object.values(tools));

const agent = RunnableLambda.from(async (question, config) => {
  const messages = [
    new SystemMessage("You are the customer support agent of an online shop. Use the tools to answer."),
    new HumanMessage(question),
  ];
  for (let step = 0; step < 5; step++) {
    const ai = await model.invoke(messages, config);
    messages.push(ai);
    if (!ai.tool_calls || ai.tool_calls.length === 0) return ai.content;
    for (const call of ai.tool_calls) {
      // No error handling: a failing tool fails the run.
      messages.push(await tools[call.name].invoke(call, config));
    }
  }
  throw new Error("agent stopped after 5 steps");
}).withConfig({ runName: "support_agent" });

async function main() {
  // FROM_MINUTE and MAX_RUNS cut a short extract (the protobuf set).
  let t = fleet.start + Number(process.env.FROM_MINUTE || 0) * 60000;
  let runs = Number(process.env.MAX_RUNS || Infinity);
  while (t < fleet.end && runs-- > 0) {
    clock.advanceTo(t);
    const order = `ORD-${r.int(10000, 99999)}`;
    const q = r.pick([`Where is my order ${order}?`, `Has ${order} shipped yet?`, `When will order ${order} arrive?`]);
    try {
      await agent.invoke(q);
    } catch {
      // recorded on the spans
    }
    await tp.forceFlush();
    t += r.int(55, 85) * 1000;
  }
  await tp.shutdown();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
