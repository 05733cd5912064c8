// Latent Explorer: a page over the server's own API (no build step, no dependencies).
const $ = (id) => document.getElementById(id);
const state = { key: localStorage.getItem("latentspace-key") || "", model: null };

// ---- talking to the server ------------------------------------------------------------------
function headers() {
  const h = { "Content-Type": "application/json" };
  if (state.key) h.Authorization = `Bearer ${state.key}`;
  return h;
}

async function api(path, body, method) {
  const res = await fetch(path, { method: method || (body ? "POST" : "GET"), headers: headers(),
                                  body: body ? JSON.stringify(body) : undefined });
  if (res.status === 401) { $("key-box").hidden = false; throw new Error("this server needs an API key (top right)"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ? data.error.message : `HTTP ${res.status}`);
  return data;
}

// POST and read server-sent events: calls onEvent(json) for each `data:` line
async function stream(path, body, onEvent) {
  const res = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) $("key-box").hidden = false;
    throw new Error(data.error ? data.error.message : `HTTP ${res.status}`);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 2);
      if (!line.startsWith("data:")) continue;
      const payload = line.slice(5).trim();
      if (payload === "[DONE]") return;
      const event = JSON.parse(payload);
      if (event.error) throw new Error(event.error.message);
      onEvent(event);
    }
  }
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").style.color = isError ? "#ffb4b4" : "";
}

function option(select, value, label) {
  const o = document.createElement("option");
  o.value = value; o.textContent = label || value;
  select.appendChild(o);
}

// ---- ask: stream the answer and the latent steps -------------------------------------------------
function latentOptions() {
  const latent = { trace: true };
  const strategy = $("strategy").value;
  if (strategy) latent.strategy = strategy;
  if (strategy && !strategy.startsWith("agents:")) latent.steps = Number($("steps").value);
  const memories = [...document.querySelectorAll(".use-memory:checked")].map((c) => c.value);
  if (memories.length) latent.memories = memories;
  return latent;
}

async function ask(event) {
  if (event) event.preventDefault();
  const prompt = $("prompt").value.trim();
  if (!prompt) return;
  $("run").disabled = true;
  $("answer").textContent = ""; $("answer").classList.remove("error");
  $("timeline").innerHTML = ""; $("usage").textContent = "";
  setStatus("thinking…");
  const body = { model: state.model, messages: [{ role: "user", content: prompt }], stream: true,
                 max_tokens: Number($("max-tokens").value), latent: latentOptions(),
                 stream_options: { include_usage: true } };
  const info = {};  // the usage chunk and the finish chunk's summary, in either order
  try {
    await stream("/v1/chat/completions", body, (chunk) => {
      const choice = chunk.choices && chunk.choices[0];
      if (choice && choice.delta && choice.delta.content) $("answer").textContent += choice.delta.content;
      if (chunk.usage) info.usage = `${chunk.usage.prompt_tokens} prompt tokens · ` +
        `${chunk.usage.completion_tokens} answer tokens · ${chunk.usage.latent_steps} latent steps`;
      if (chunk.latent && chunk.latent.event === "step") addStep(chunk.latent.index, chunk.latent.step);
      if (chunk.latent && chunk.latent.event === "done") info.done =
        `${chunk.latent.positions} positions · ${chunk.latent.seconds} s · ${chunk.latent.stop_reason}`;
      $("usage").textContent = [info.usage, info.done].filter(Boolean).join(" · ");
    });
    setStatus("done");
  } catch (err) {
    $("answer").textContent = err.message; $("answer").classList.add("error");
    setStatus("error", true);
  } finally {
    $("run").disabled = false;
  }
  try {
    await drawLens(prompt);  // its own errors: the answer above stays
  } catch (err) {
    $("cell-info").textContent = `lens: ${err.message}`;
  }
}

function addStep(index, step) {
  const li = document.createElement("li");
  li.className = `step ${step.kind}`;
  li.dataset.kind = step.kind;
  const entropy = step.entropy == null ? 0 : step.entropy;
  const top = (step.top || []).slice(0, 4)
    .map(([t, p]) => `<span title="${p.toFixed(3)}">${escape(JSON.stringify(t))} ${(100 * p).toFixed(0)}%</span>`)
    .join("");
  li.innerHTML = `<span class="muted">${index}</span><span class="chip ${step.kind}">${step.kind}</span>` +
    `<span class="top">${step.kind === "explicit" ? `<b>${escape(JSON.stringify(step.token))}</b> ` : ""}${top}</span>` +
    `<span title="entropy ${entropy.toFixed(2)} nats${step.norm ? `, norm ${step.norm.toFixed(1)}` : ""}">` +
    `<span class="ent"><i style="width:${Math.min(100, 100 * entropy / 6)}%"></i></span></span>`;
  $("timeline").appendChild(li);
}

function escape(text) {
  return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
}

// ---- logit-lens heatmap ----------------------------------------------------------------------
function colour(p) { // white -> blue, by probability
  const t = Math.max(0, Math.min(1, p));
  const r = Math.round(255 - 200 * t), g = Math.round(255 - 150 * t), b = Math.round(255 - 60 * t);
  return `rgb(${r},${g},${b})`;
}

async function drawLens(prompt) {
  const reading = await api("/v1/lens", { model: state.model, text: prompt, chat: true, k: 5 });
  const grid = $("heatmap");
  grid.innerHTML = "";
  const P = reading.positions.length;
  grid.style.gridTemplateColumns = `3rem repeat(${P}, minmax(2.6rem, 1fr))`;
  grid.appendChild(Object.assign(document.createElement("div"), { className: "head lay", textContent: "layer" }));
  reading.tokens.forEach((t) => grid.appendChild(Object.assign(document.createElement("div"),
    { className: "head", textContent: JSON.stringify(t).slice(1, -1), title: t })));
  // top row = last layer, as a model's depth reads top-down
  for (let li = reading.layers.length - 1; li >= 0; li--) {
    grid.appendChild(Object.assign(document.createElement("div"), { className: "lay", textContent: reading.layers[li] }));
    for (let pi = 0; pi < P; pi++) {
      const cell = document.createElement("div");
      const tokens = reading.top_tokens[li][pi], probs = reading.top_probs[li][pi];
      cell.className = "cell";
      cell.tabIndex = 0;
      cell.dataset.layer = reading.layers[li];
      cell.dataset.position = reading.positions[pi];
      cell.style.background = colour(probs[0]);
      cell.textContent = JSON.stringify(tokens[0]).slice(1, -1);
      const info = `layer ${reading.layers[li]}, after ${JSON.stringify(reading.tokens[pi])}: ` +
        tokens.map((t, k) => `${JSON.stringify(t)} ${(100 * probs[k]).toFixed(1)}%`).join(", ") +
        ` · entropy ${reading.entropy[li][pi].toFixed(2)} nats`;
      cell.title = info;
      cell.addEventListener("focus", () => { $("cell-info").textContent = info; });
      cell.addEventListener("mouseenter", () => { $("cell-info").textContent = info; });
      grid.appendChild(cell);
    }
  }
  $("legend").innerHTML = `<span>top-1 probability</span><span>0</span><span class="bar" style="background:` +
    `linear-gradient(to right, ${colour(0)}, ${colour(0.5)}, ${colour(1)})"></span><span>1</span>`;
}

// ---- steering slider -------------------------------------------------------------------------
let steerTimer = null;
async function steerCompare() {
  $("strength-out").textContent = $("strength").value;
  const vector = $("vector").value;
  if (!vector) { $("steered-out").textContent = "no steering vectors yet: train one from a concept"; return; }
  const prompt = $("prompt").value.trim() || "Tell me about your day.";
  const base = { model: state.model, messages: [{ role: "user", content: prompt }], max_tokens: 40 };
  const strength = Number($("strength").value);
  try {
    const [plain, steered] = await Promise.all([
      api("/v1/chat/completions", base),
      api("/v1/chat/completions", { ...base, latent: { steer: [{ id: vector, strength }] } }),
    ]);
    $("plain-out").textContent = plain.choices[0].message.content;
    $("steered-out").textContent = steered.choices[0].message.content;
  } catch (err) {
    $("steered-out").textContent = err.message;
  }
}

async function trainVector() {
  const concept = $("concept").value;
  if (!concept) return;
  $("train").disabled = true;
  setStatus(`training a vector for ${concept}…`);
  try {
    await api("/v1/vectors", { model: state.model, id: concept, concept });
    await loadVectors(concept);
    setStatus(`vector ${concept} ready`);
  } catch (err) { setStatus(err.message, true); } finally { $("train").disabled = false; }
}

async function loadProbes() {
  const { data } = await api("/v1/probes");
  $("audit-probe").innerHTML = '<option value="">none</option>';
  data.filter((p) => p.usable).forEach((p) => option($("audit-probe"), p.id,
    p.site === "thought" ? `${p.id} (thought ${p.thought})` : `${p.id} (layer ${p.layer})`));
}

async function loadVectors(select) {
  const { data } = await api("/v1/vectors");
  $("vector").innerHTML = "";
  data.filter((v) => v.usable).forEach((v) => option($("vector"), v.id, `${v.id} (${v.method || "?"})`));
  if (select) $("vector").value = select;
}

// ---- agents ----------------------------------------------------------------------------------
async function runAgents() {
  const question = $("prompt").value.trim();
  if (!question) return;
  $("run-agents").disabled = true;
  $("agents").innerHTML = "<li>running…</li>";
  try {
    const result = await api("/v1/agents/run", { model: state.model, pipeline: $("pipeline").value,
                                                 mode: $("agent-mode").value, question, max_tokens: 32 });
    $("agents").innerHTML = "";
    result.turns.forEach((turn) => {
      const li = document.createElement("li");
      li.className = "turn";
      const from = Object.entries(turn.received_from || {}).map(([a, n]) => `${a}: ${n} slots`).join(", ");
      const thoughts = turn.thoughts.map((s) => (s.top && s.top[0] ? JSON.stringify(s.top[0][0]) : "·")).join(" → ");
      li.innerHTML = `<b>${escape(turn.agent)}</b> <span class="from">received ${turn.received_slots} slots` +
        `${from ? ` (${escape(from)})` : ""}, read ${turn.prompt_tokens} tokens</span>` +
        (thoughts ? `<div>thought: ${escape(thoughts)}</div>` : "") +
        (turn.wrote ? `<div>wrote: ${escape(turn.wrote)}</div>` : "");
      $("agents").appendChild(li);
    });
    const li = document.createElement("li");
    li.innerHTML = `<b>answer</b> ${escape(result.answer)} <span class="from">(${result.positions} positions)</span>`;
    $("agents").appendChild(li);
  } catch (err) {
    $("agents").innerHTML = `<li class="error">${escape(err.message)}</li>`;
  } finally { $("run-agents").disabled = false; }
}

// ---- audit one question ----------------------------------------------------------------------
async function auditThoughts() {
  const question = $("prompt").value.trim();
  if (!question) return;
  // the Ask panel's strategy when it thinks in latents, else continuous (plain, direct, cot, agents have none)
  const strategy = ["continuous", "soft", "pause"].includes($("strategy").value) ? $("strategy").value : "continuous";
  $("run-audit").disabled = true;
  $("audit").innerHTML = "<tr><td>auditing…</td></tr>";
  try {
    const body = { model: state.model, question, strategy, steps: Math.max(1, Math.min(16, Number($("steps").value) || 4)) };
    if ($("audit-answer").value.trim()) body.answer = $("audit-answer").value.trim();
    if ($("audit-probe").value) body.probe = $("audit-probe").value;
    const result = await api("/v1/audit", body);
    const mark = result.correct === true ? " ✓" : "";
    const probed = body.probe !== undefined;
    let html = `<tr><th colspan=${probed ? 5 : 4}>${escape(result.strategy)} answers ${escape(result.answer || "")}${mark}</th></tr>` +
      "<tr><th>thought</th><th>lens reads</th>" + (probed ? `<th>${escape(body.probe)} reads</th>` : "") +
      "<th>answer, cut before it</th><th>answer, it as noise</th></tr>";
    result.thoughts.forEach((t) => {
      const lens = t.lens.map(([tok, p]) => `${escape(JSON.stringify(tok))} ${p.toFixed(2)}`).join(", ");
      html += `<tr><td>${t.thought}</td><td>${lens}</td>` + (probed ? `<td>${escape(String(t.probe))}</td>` : "") +
        `<td>${escape(t.answer_removed || "")}</td><td>${escape(t.answer_noised || "")}</td></tr>`;
    });
    $("audit").innerHTML = result.thoughts.length ? html : "<tr><td>this strategy thinks no latent thoughts</td></tr>";
  } catch (err) {
    $("audit").innerHTML = `<tr><td class="error">${escape(err.message)}</td></tr>`;
  } finally { $("run-audit").disabled = false; }
}

// ---- sampled thought paths -------------------------------------------------------------------
async function searchPaths() {
  const question = $("prompt").value.trim();
  if (!question) return;
  const strategy = ["continuous", "soft", "pause"].includes($("strategy").value) ? $("strategy").value : "soft";
  $("run-search").disabled = true;
  $("search").innerHTML = "<tr><td>sampling…</td></tr>";
  try {
    const body = { model: state.model, question, strategy, sampler: $("search-sampler").value.trim(),
      samples: Math.max(1, Math.min(64, Number($("search-samples").value) || 8)),
      steps: Math.max(1, Math.min(16, Number($("steps").value) || 4)) };
    const result = await api("/v1/search", body);
    const thoughts = (p) => p.thoughts.map((t) => escape(t.length ? t[0][0] : "")).join(" → ");
    let html = `<tr><th>path</th><th>thoughts (lens top-1)</th><th>answer</th><th>votes</th></tr>` +
      `<tr><td>greedy</td><td>${thoughts(result.greedy)}</td><td>${escape(result.greedy.answer)}</td><td></td></tr>`;
    result.paths.forEach((p, i) => {
      html += `<tr${p.selected ? ' class="selected"' : ""}><td>${i + 1}${p.selected ? " ★" : ""}</td>` +
        `<td>${thoughts(p)}</td><td>${escape(p.answer)}</td><td>${p.votes}</td></tr>`;
    });
    $("search").innerHTML = html;
  } catch (err) {
    $("search").innerHTML = `<tr><td class="error">${escape(err.message)}</td></tr>`;
  } finally { $("run-search").disabled = false; }
}

// ---- memories --------------------------------------------------------------------------------
async function loadMemories() {
  const { data } = await api("/v1/memories");
  const body = $("memories").querySelector("tbody");
  body.innerHTML = "";
  data.filter((m) => m.usable).forEach((m) => {
    const tr = document.createElement("tr");
    tr.innerHTML = `<td><input type="checkbox" class="use-memory" value="${m.id}" aria-label="use ${escape(m.title)}"></td>` +
      `<td>${escape(m.title)}</td><td>${m.tokens}</td><td>${m.slots}</td><td>${(m.bytes / 1e6).toFixed(1)} MB</td>` +
      `<td><button type="button" data-id="${m.id}" class="forget">forget</button></td>`;
    body.appendChild(tr);
  });
  body.querySelectorAll(".forget").forEach((b) => b.addEventListener("click", async () => {
    await api(`/v1/memories/${b.dataset.id}`, null, "DELETE");
    await loadMemories();
  }));
}

async function remember(event) {
  event.preventDefault();
  const text = $("memory-text").value.trim();
  if (!text) return;
  setStatus("reading the document once…");
  try {
    await api("/v1/memories", { model: state.model, text });
    $("memory-text").value = "";
    await loadMemories();
    setStatus("remembered");
  } catch (err) { setStatus(err.message, true); }
}

// ---- start -----------------------------------------------------------------------------------
async function start() {
  $("api-key").value = state.key;
  $("api-key").addEventListener("change", () => {
    state.key = $("api-key").value; localStorage.setItem("latentspace-key", state.key); start();
  });
  try {
    const models = await api("/v1/models");
    $("model").innerHTML = "";
    models.data.forEach((m) => option($("model"), m.id, `${m.id} (${m.layers} layers)`));
    state.model = models.data[0].id;
    const concepts = await api("/v1/concepts");
    $("concept").innerHTML = "";
    concepts.data.forEach((c) => option($("concept"), c.id));
    const pipelines = await api("/v1/pipelines");
    $("pipeline").innerHTML = "";
    pipelines.data.filter((p) => p.usable).forEach((p) => option($("pipeline"), p.id));
    await Promise.all([loadVectors(), loadMemories(), loadProbes()]);
    setStatus("ready");
  } catch (err) { setStatus(err.message, true); }
}

$("ask-form").addEventListener("submit", ask);
$("prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) ask(e); });
$("model").addEventListener("change", () => { state.model = $("model").value; });
$("strength").addEventListener("input", () => {
  $("strength-out").textContent = $("strength").value;
  clearTimeout(steerTimer); steerTimer = setTimeout(steerCompare, 350);
});
$("vector").addEventListener("change", steerCompare);
$("train").addEventListener("click", trainVector);
$("run-agents").addEventListener("click", runAgents);
$("run-audit").addEventListener("click", auditThoughts);
$("run-search").addEventListener("click", searchPaths);
$("memory-form").addEventListener("submit", remember);
start();
