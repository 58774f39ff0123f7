// generate.js writes the trace sets in this folder with real
// instrumentation libraries. It starts, on 127.0.0.1:
//
//   - a fake OpenAI-compatible model server (POST /v1/chat/completions)
//     that answers with tool calls, then a final answer;
//   - an OTLP/HTTP receiver that stores each export request it is sent,
//     byte for byte: JSON bodies as one line of <set>/traces.jsonl
//     (gzipped at the end to keep the repository small), protobuf bodies
//     as <set>/<service>-NNNN.pb;
//
// then runs the two agents (support-agent.js, billing-agent.js) as child
// processes, each with its own OpenTelemetry SDK and resource, for every
// set. Usage: npm ci && node generate.js
"use strict";

const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");
const { spawn } = require("node:child_process");
const zlib = require("node:zlib");

// The sets: which resource key each agent writes for the environment and
// which OTLP encoding its exporter uses.
const sets = [
  {
    dir: "store",
    agents: [
      { script: "support-agent.js", env: { ENV_KEY: "deployment.environment.name" } },
      { script: "billing-agent.js", env: { ENV_KEY: "deployment.environment" } },
    ],
  },
  {
    dir: "store-legacy-env",
    agents: [
      { script: "support-agent.js", env: { ENV_KEY: "deployment.environment" } },
      { script: "billing-agent.js", env: { ENV_KEY: "deployment.environment.name" } },
    ],
  },
  {
    dir: "protobuf",
    agents: [{ script: "support-agent.js", env: { ENV_KEY: "deployment.environment.name", ENCODING: "protobuf", FROM_MINUTE: "64", MAX_RUNS: "6" } }],
  },
];

let completionSeq = 0;

function completion(body) {
  const msgs = body.messages || [];
  const toolNames = (body.tools || []).map((t) => t.function && t.function.name);
  const user = [...msgs].reverse().find((m) => m.role === "user");
  const question = typeof user?.content === "string" ? user.content : JSON.stringify(user?.content ?? "");
  const toolResults = msgs.filter((m) => m.role === "tool");
  const last = toolResults[toolResults.length - 1];
  const lastJSON = () => {
    try {
      return JSON.parse(typeof last.content === "string" ? last.content : "{}");
    } catch {
      return {};
    }
  };
  const call = (name, args) => ({
    content: null,
    tool_calls: [{ id: `call_${(++completionSeq).toString(36).padStart(8, "0")}`, type: "function", function: { name, arguments: JSON.stringify(args) } }],
    finish: "tool_calls",
  });
  const answer = (text) => ({ content: text, finish: "stop" });

  let out;
  if (toolNames.includes("lookup_order")) {
    const order = (question.match(/ORD-\d+/) || ["ORD-00000"])[0];
    if (toolResults.length === 0) out = call("lookup_order", { order_id: order });
    else if (toolResults.length === 1) out = call("get_shipping_status", { tracking_number: lastJSON().tracking_number || "unknown" });
    else out = answer(`Order ${order} is in transit with UPS and should arrive on 2026-03-12.`);
  } else if (toolNames.includes("get_invoice")) {
    const inv = (question.match(/INV-\d+/) || ["INV-000000"])[0];
    if (toolResults.length === 0) out = call("get_invoice", { invoice_id: inv });
    else out = answer(`Invoice ${inv} was charged once (${lastJSON().amount_eur} EUR); the second line is a card pre-authorisation that expires in 7 days.`);
  } else {
    out = answer("How can I help?");
  }
  const promptTokens = Math.ceil(JSON.stringify(msgs).length / 4) + 60 * toolNames.length;
  const completionTokens = Math.ceil(JSON.stringify(out.content ?? out.tool_calls).length / 4);
  return {
    id: `chatcmpl-${completionSeq}-${Math.random().toString(36).slice(2, 10)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: "gpt-4o-mini-2024-07-18",
    choices: [{ index: 0, message: { role: "assistant", content: out.content, tool_calls: out.tool_calls, refusal: null }, logprobs: null, finish_reason: out.finish }],
    usage: { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens },
    system_fingerprint: "fp_local",
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

const pbSeq = {};

async function handle(req, res) {
  const body = await readBody(req);
  if (req.method === "POST" && req.url === "/v1/chat/completions") {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(completion(JSON.parse(body.toString("utf8")))));
    return;
  }
  // /otlp/<set>/<service>/v1/traces
  const m = req.url.match(/^\/otlp\/([\w-]+)\/([\w-]+)\/v1\/traces$/);
  if (req.method === "POST" && m) {
    const dir = path.join(__dirname, m[1]);
    fs.mkdirSync(dir, { recursive: true });
    if ((req.headers["content-type"] || "").includes("protobuf")) {
      const n = (pbSeq[m[2]] = (pbSeq[m[2]] || 0) + 1);
      fs.writeFileSync(path.join(dir, `${m[2]}-${String(n).padStart(4, "0")}.pb`), body);
    } else {
      fs.appendFileSync(path.join(dir, "traces.jsonl"), body.toString("utf8").trim() + "\n");
    }
    res.writeHead(200, { "content-type": req.headers["content-type"] || "application/json" });
    res.end(req.headers["content-type"]?.includes("protobuf") ? Buffer.alloc(0) : "{}");
    return;
  }
  res.writeHead(404);
  res.end();
}

function run(script, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, script)], { env: { ...process.env, ...env }, stdio: "inherit" });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${script} exited ${code}`))));
  });
}

async function main() {
  const server = http.createServer((req, res) => handle(req, res).catch((e) => {
    console.error(e);
    res.writeHead(500);
    res.end();
  }));
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  for (const set of sets) {
    fs.rmSync(path.join(__dirname, set.dir), { recursive: true, force: true });
    for (const a of set.agents) {
      const service = path.basename(a.script, ".js");
      await run(a.script, { ...a.env, MODEL_URL: `${base}/v1`, COLLECTOR_URL: `${base}/otlp/${set.dir}/${service}/v1/traces` });
    }
    const jsonl = path.join(__dirname, set.dir, "traces.jsonl");
    if (fs.existsSync(jsonl)) {
      fs.writeFileSync(jsonl + ".gz", zlib.gzipSync(fs.readFileSync(jsonl), { level: 9 }));
      fs.rmSync(jsonl);
    }
  }
  server.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
