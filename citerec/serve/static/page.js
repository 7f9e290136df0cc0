// The citerec page: calls the service's own /v1 API; no external scripts or assets.
"use strict";

const $ = (id) => document.getElementById(id);
const KEY_STORE = "citerec-api-key";

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const child of children) node.append(child);
  return node;
}

async function api(method, path, body) {
  const headers = { "Content-Type": "application/json" };
  const key = $("api-key").value.trim();
  if (key) headers.Authorization = "Bearer " + key;
  const response = await fetch(path, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    let detail = data.detail;
    if (Array.isArray(detail)) detail = detail.map((d) => d.msg).join("; ");
    const retry = response.headers.get("Retry-After");
    throw new Error(`${response.status}: ${detail || response.statusText}` + (retry ? ` (retry in ${retry} s)` : ""));
  }
  return data;
}

function setStatus(id, text, isError = false) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("error", isError);
}

function scoreCell(score, label) {
  const width = Math.max(1, Math.round(Math.min(1, Math.max(0, score)) * 60));
  return el("td", { className: "score" }, el("span", { className: "bar", style: `width:${width}px` }), label ?? score.toFixed(4));
}

// Recall scores (RRF fractions) mean nothing to a reader: show each as a share of the passage's top one.
function confidenceCell(s, reranked) {
  const cell = scoreCell(s.confidence, reranked ? s.confidence.toFixed(3) : `${Math.round(s.confidence * 100)}%`);
  cell.title = reranked ? `P(yes) ${s.score.toFixed(4)}` : `share of the top recall score (raw ${s.score.toFixed(4)})`;
  return cell;
}

// -- tabs ----------------------------------------------------------------
for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener("click", () => {
    for (const other of document.querySelectorAll('[role="tab"]')) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
  });
}

// -- suggest -------------------------------------------------------------
// What supported a suggestion (the draft's own citations nearby, the readings), strongest first.
function whyList(s) {
  const list = el("ul", { className: "why" });
  for (const line of s.why || []) list.append(el("li", {}, line));
  return list;
}

function renderContext(context, reranked) {
  const where = `${context.file}:${context.line_start}` + (context.section ? ` · ${context.section}` : "");
  const box = el("div", { className: "context" },
    el("div", { className: "where" }, where),
    el("blockquote", {}, context.sentence || context.query));
  if (context.expanded_query) box.append(el("p", { className: "muted expanded" }, `expanded: ${context.expanded_query}`));
  if (!context.suggestions.length) {
    box.append(el("p", { className: "muted" }, "no suggestion above the threshold"));
    return box;
  }
  const table = el("table");
  for (const s of context.suggestions) {
    table.append(el("tr", { className: "suggestion" },
      confidenceCell(s, reranked),
      el("td", {}, el("code", { className: "key" }, s.key)),
      el("td", {}, s.title, whyList(s))));
  }
  const cite = `\\cite{${context.suggestions.map((s) => s.key).join(",")}}`;
  const line = el("code", { className: "cite" }, cite);
  const copy = el("button", { type: "button", className: "copy" }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(cite);
      copy.textContent = "Copied";
    } catch {
      window.getSelection().selectAllChildren(line);  // clipboard needs https or localhost
      copy.textContent = "Selected: press Ctrl+C";
    }
  });
  box.append(table, el("div", { className: "cite-line" }, line, copy));
  return box;
}

$("suggest-file").addEventListener("change", async (event) => {
  const file = event.target.files[0];
  if (!file) return;
  $("suggest-text").value = await file.text();
  $("suggest-is-tex").checked = file.name.endsWith(".tex");
});

$("suggest-go").addEventListener("click", async () => {
  const text = $("suggest-text").value;
  if (!text.trim()) return setStatus("suggest-status", "Paste a passage first.", true);
  const body = {
    top_n: Number($("suggest-top").value) || 5, rerank: $("suggest-rerank").value, expand: $("suggest-expand").value,
  };
  body[$("suggest-is-tex").checked ? "tex" : "text"] = text;
  $("suggest-go").disabled = true;
  $("suggest-results").replaceChildren();
  $("suggest-warnings").replaceChildren();
  setStatus("suggest-status", "Ranking…");
  const started = performance.now();
  try {
    const result = await api("POST", "/v1/suggest", body);
    $("suggest-results").replaceChildren(...result.contexts.map((c) => renderContext(c, result.reranked)));
    const how = result.reranked ? `reranked by ${result.reranker}` : "recall only (not reranked)";
    const notes = result.notes.length ? " · " + result.notes.join(" · ") : "";
    const warnings = (result.warnings || []).map((w) => `${w.file}:${w.line}: ${w.message}`);
    $("suggest-warnings").replaceChildren(...warnings.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    setStatus("suggest-status", `${result.contexts.length} passage(s), ${how}, ${seconds} s${notes}`);
  } catch (error) {
    setStatus("suggest-status", error.message, true);
  } finally {
    $("suggest-go").disabled = false;
  }
});

// -- where to cite ---------------------------------------------------------
// The draft as sent, with the sentences that likely need a citation marked (offsets come from the service).
// Offsets count code points (Python's str), not UTF-16 units: slice an array of code points.
function renderDraft(source, sentences) {
  const text = Array.from(source);
  const slice = (a, b) => text.slice(a, b).join("");
  const flagged = sentences.filter((s) => s.needs_citation).sort((a, b) => a.start - b.start);
  const parts = [];
  let at = 0;
  for (const s of flagged) {
    if (s.start < at) continue;
    parts.push(slice(at, s.start));
    const mark = el("mark", { className: "needs-citation", title: `may need a citation (${Math.round(s.score * 100)}%)` },
      slice(s.start, s.end));
    mark.addEventListener("click", () => {
      for (const other of document.querySelectorAll("mark.needs-citation")) other.classList.remove("selected");
      mark.classList.add("selected");
      const context = { file: s.file, line_start: s.line, section: s.section, sentence: s.text, suggestions: s.suggestions };
      $("check-suggestions").replaceChildren(renderContext(context, s.suggestions.some((x) => x.rerank_score !== null)));
    });
    parts.push(mark);
    at = s.end;
  }
  parts.push(slice(at));
  $("check-draft").replaceChildren(...parts);
  return flagged.length;
}

$("check-go").addEventListener("click", async () => {
  const text = $("check-text").value;
  if (!text.trim()) return setStatus("check-status", "Paste a draft first.", true);
  const threshold = Number($("check-threshold").value);
  const body = { threshold: Number.isFinite(threshold) ? threshold : 0.25, rerank: $("check-rerank").value };
  body[$("check-is-tex").checked ? "tex" : "text"] = text;
  $("check-go").disabled = true;
  $("check-draft").replaceChildren();
  $("check-suggestions").replaceChildren();
  setStatus("check-status", "Checking…");
  try {
    const result = await api("POST", "/v1/check", body);
    const flagged = renderDraft(text, result.sentences);
    const how = result.adapted ? "adapted to this draft's citations" : "first-draft model (too few citations to read)";
    setStatus("check-status", `${flagged} of ${result.sentences.length} uncited sentence(s) may need a citation (${how})`);
  } catch (error) {
    setStatus("check-status", error.message, true);
  } finally {
    $("check-go").disabled = false;
  }
});

// -- rerank --------------------------------------------------------------
$("rerank-go").addEventListener("click", async () => {
  const query = $("rerank-query").value.trim();
  const documents = $("rerank-docs").value.split("\n").map((d) => d.trim()).filter(Boolean);
  if (!query || !documents.length) return setStatus("rerank-status", "Give a query and at least one document.", true);
  const body = { query, documents };
  const instruction = $("rerank-instruction").value.trim();
  if (instruction) body.instruction = instruction;
  $("rerank-go").disabled = true;
  setStatus("rerank-status", "Scoring…");
  try {
    const result = await api("POST", "/v1/rerank", body);
    $("rerank-results").replaceChildren(...result.results.map((r) =>
      el("li", { className: "result" },
        el("span", { className: "score" }, el("span", { className: "bar", style: `width:${Math.round(r.relevance_score * 60)}px` }),
          r.relevance_score.toFixed(4)),
        el("span", { className: "doc" }, `#${r.index + 1} ${r.document.text}`))));
    setStatus("rerank-status", `${result.results.length} document(s) scored by ${result.model}`);
  } catch (error) {
    setStatus("rerank-status", error.message, true);
  } finally {
    $("rerank-go").disabled = false;
  }
});

// -- header: health and the API key ----------------------------------------
$("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
$("api-key").addEventListener("change", () => sessionStorage.setItem(KEY_STORE, $("api-key").value.trim()));

fetch("/healthz").then((r) => r.json()).then((h) => {
  const model = h.model ? `reranker ${h.model}` : "no reranker (recall only)";
  $("health").textContent = `${h.library_papers} papers · ${model} · v${h.version}`;
  $("key-box").hidden = !h.auth;
  if (!h.model) $("tab-rerank").disabled = true;
}).catch(() => { $("health").textContent = "service unreachable"; });
