// The `openai` npm package (web/package.json's devDependency) against a live Helpline server,
// driven by tests/openai_api/test_node.py: prints what it saw as one JSON object.
// Usage: HELPLINE_BASE_URL=http://host:port/v1 HELPLINE_API_KEY=hl_... node client.mjs <web dir>
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const web = process.argv[2];
const entry = createRequire(join(web, "package.json")).resolve("openai");
const { default: OpenAI } = await import(pathToFileURL(entry).href);

const client = new OpenAI({ apiKey: process.env.HELPLINE_API_KEY, baseURL: process.env.HELPLINE_BASE_URL, maxRetries: 0 });
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const done = await client.chat.completions.create({
  model: "helpline",
  messages: [{ role: "user", content: "How do I reset my password?" }],
});
out.completion = {
  content: done.choices[0].message.content,
  finish_reason: done.choices[0].finish_reason,
  usage: done.usage,
  helpline: done.helpline,
};

const stream = await client.chat.completions.create({
  model: "helpline",
  messages: [{ role: "user", content: "How do I reset my password?" }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let last = null;
let usage = null;
for await (const chunk of stream) {
  if (chunk.choices.length > 0) {
    text += chunk.choices[0].delta.content ?? "";
    last = chunk;
  }
  if (chunk.usage) usage = chunk.usage;
}
out.stream = { text, finish_reason: last.choices[0].finish_reason, helpline: last.helpline, usage };

async function failure(call) {
  try {
    await call();
    return null;
  } catch (err) {
    return { class: err.constructor.name, status: err.status, code: err.code ?? null, param: err.param ?? null, type: err.type ?? null };
  }
}
const wrongKey = new OpenAI({ apiKey: "hl_000000000000_nope", baseURL: process.env.HELPLINE_BASE_URL, maxRetries: 0 });
out.errors = {
  key: await failure(() => wrongKey.models.list()),
  model: await failure(() => client.chat.completions.create({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })),
  n: await failure(() => client.chat.completions.create({ model: "helpline", n: 2, messages: [{ role: "user", content: "hi" }] })),
  empty: await failure(() => client.chat.completions.create({ model: "helpline", messages: [] })),
};
console.log(JSON.stringify(out));
