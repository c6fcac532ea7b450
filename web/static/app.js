// The search page: cards first (from /api/search), previews fetched lazily as cards scroll into view and drawn as
// stick figures on canvases, all looping over each hit's own window in one requestAnimationFrame loop.

const $ = (selector) => document.querySelector(selector);
const LEFT = new Set([1, 4, 7, 10, 13, 16, 18, 20]);   // SMPL-22 left-side joints (hip, knee, ... wrist)
const RIGHT = new Set([2, 5, 8, 11, 14, 17, 19, 21]);
const HEAD = 15;
const VIEW_YAW = Math.PI / 7;                           // a three-quarter view: depth shows as a slight shear
const PREVIEW_FETCHES = 4;                              // previews fetched at once
// With reduced motion asked for, a figure plays only while its card is hovered or focused (and in the detail view).
const REDUCED_MOTION = window.matchMedia("(prefers-reduced-motion: reduce)");

const state = {
  query: null,          // {kind: "text"|"motion"|"similar", text, file, motionId}
  nextOffset: null,
  config: {default_top_k: 12, max_upload_bytes: 32 * 1024 * 1024},
  figures: new Map(),   // canvas -> Figure
  queue: [],            // cards waiting for their preview
  inFlight: 0,
  searchStarted: 0,
  opener: null,         // the card that opened the detail view (focus goes back there)
  detailFigure: null,
};
// Timings the browser test reads (performance.now() milliseconds).
window.mrTimings = {firstHits: null, firstPreview: null};

// -- API --------------------------------------------------------------------------------------------------------------
async function api(url, options) {
  const response = await fetch(url, options);
  let body = null;
  try { body = await response.json(); } catch { /* a non-JSON answer: reported below by status */ }
  if (!response.ok) {
    const message = body && body.error ? body.error : `${response.status} ${response.statusText}`;
    throw new Error(message);
  }
  return body;
}

function filterParams() {
  const params = new URLSearchParams();
  const dataset = $("#f-dataset").value.trim();
  if (dataset) params.set("dataset", dataset);
  for (const tag of $("#f-tags").value.split(",").map((t) => t.trim()).filter(Boolean)) params.append("tag", tag);
  if ($("#f-min").value !== "") params.set("min_s", $("#f-min").value);
  if ($("#f-max").value !== "") params.set("max_s", $("#f-max").value);
  if ($("#f-every").checked) params.set("every_window", "1");
  params.set("top_k", String(state.config.default_top_k));
  return params;
}

async function fetchPage(query, offset) {
  const params = filterParams();
  params.set("offset", String(offset));
  if (query.kind === "text") {
    params.set("text", query.text);
    return api(`/api/search?${params}`);
  }
  if (query.kind === "similar") {
    return api(`/api/motions/${encodeURIComponent(query.motionId)}/similar?${params}`);
  }
  const form = new FormData();
  form.append("file", query.file, query.file.name);
  return api(`/api/search/motion?${params}`, {method: "POST", body: form});
}

// -- searching ----------------------------------------------------------------------------------------------------
function setStatus(text, isError = false) {
  const status = $("#status");
  status.textContent = text;
  status.classList.toggle("error", isError);
}

async function runQuery(query, {append = false} = {}) {
  const offset = append ? state.nextOffset : 0;
  if (!append) {
    state.query = query;
    clearResults();
    state.searchStarted = performance.now();
    window.mrTimings.firstHits = null;
    window.mrTimings.firstPreview = null;
  }
  setStatus(append ? "Loading more…" : "Searching…");
  $("#more").hidden = true;
  try {
    const page = await fetchPage(query, offset);
    if (query !== state.query) return;  // a newer search started meanwhile
    const first = $("#results").children.length;
    page.hits.forEach((hit, i) => $("#results").append(makeCard(hit, first + i + 1)));
    if (!append && page.hits.length) {
      // Cards are in the DOM now; the next frame paints them, before any preview has arrived.
      requestAnimationFrame(() => { window.mrTimings.firstHits = performance.now() - state.searchStarted; });
    }
    state.nextOffset = page.next_offset;
    $("#more").hidden = page.next_offset === null;
    setStatus(summary(query, page, $("#results").children.length));
  } catch (error) {
    if (query === state.query) setStatus(`Search failed: ${error.message}`, true);
  }
}

function summary(query, page, shown) {
  const what = query.kind === "text" ? `“${query.text}”`
    : query.kind === "motion" ? `motions like ${query.file.name}` + (page.query.used_s < page.query.duration_s
      ? ` (its first ${page.query.used_s.toFixed(1)} s of ${page.query.duration_s.toFixed(1)} s)` : "")
      : `motions like ${query.label}`;
  if (!shown) return `No hits for ${what}. Loosen the filters or rephrase.`;
  return `${shown} hit${shown === 1 ? "" : "s"} for ${what}. Enter or click a card to see it larger.`;
}

function clearResults() {
  for (const canvas of state.figures.keys()) { observer.unobserve(canvas); onScreen.unobserve(canvas); }
  state.figures.clear();
  state.queue = [];
  $("#results").replaceChildren();
  state.nextOffset = null;
}

// -- cards --------------------------------------------------------------------------------------------------------
function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function describeHit(hit) {
  return `${hit.name || hit.id}, score ${hit.score.toFixed(3)}, ${hit.duration_s.toFixed(1)} seconds, ` +
    `${hit.dataset}${hit.tags.length ? ", tags " + hit.tags.join(", ") : ""}`;
}

function makeCard(hit, rank) {
  const item = el("li");
  const card = el("button", "card");
  card.type = "button";
  card.dataset.id = hit.id;
  card.setAttribute("aria-label", `Hit ${rank}: ${describeHit(hit)}. Open details`);
  const canvas = el("canvas", "preview");
  canvas.width = 320;
  canvas.height = 240;
  canvas.dataset.state = "waiting";
  canvas.setAttribute("aria-hidden", "true");
  const info = el("span", "info");
  const name = el("span", "name", hit.name || hit.id);
  const score = el("span", "score", hit.score.toFixed(3));
  const line = el("span", "line",
    `${hit.duration_s.toFixed(1)} s · ${hit.start_s.toFixed(1)}–${hit.end_s.toFixed(1)} s · ${hit.dataset}`);
  const tags = el("span", "tags");
  for (const tag of hit.tags) tags.append(el("span", "tag", tag));
  const head = el("span", "head");
  head.append(name, score);
  info.append(head, line, tags);
  card.append(canvas, info);
  card.addEventListener("click", () => openDetail(hit, card));
  item.append(card);
  const figure = new Figure(canvas, hit);
  for (const [event, active] of [["mouseenter", true], ["mouseleave", false], ["focus", true], ["blur", false]]) {
    card.addEventListener(event, () => { figure.active = active; });
  }
  state.figures.set(canvas, figure);
  drawPlaceholder(canvas, hit);
  observer.observe(canvas);
  onScreen.observe(canvas);
  return item;
}

// Previews load when their card comes near the viewport, a few at a time.
const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    observer.unobserve(entry.target);
    const figure = state.figures.get(entry.target);
    if (figure) state.queue.push(figure);
  }
  pumpPreviews();
}, {rootMargin: "200px"});

// Only figures on screen are drawn each frame (paging can put hundreds of cards in the page).
const onScreen = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const figure = state.figures.get(entry.target);
    if (figure) figure.visible = entry.isIntersecting;
  }
});

function pumpPreviews() {
  while (state.inFlight < PREVIEW_FETCHES && state.queue.length) {
    const figure = state.queue.shift();
    state.inFlight += 1;
    figure.load().finally(() => { state.inFlight -= 1; pumpPreviews(); });
  }
}

// -- previews -----------------------------------------------------------------------------------------------------
function decodePreview(preview) {
  // int16 (little endian) units of preview.scale metres, relative to preview.origin -> Float32Array metres
  const bytes = Uint8Array.from(atob(preview.data), (c) => c.charCodeAt(0));
  const view = new DataView(bytes.buffer);
  const count = preview.frames * preview.joints * 3;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, true) * preview.scale + preview.origin[i % 3];
  return out;
}

class Figure {
  constructor(canvas, hit) {
    this.canvas = canvas;
    this.hit = hit;
    this.preview = null;
    this.points = null;    // (frames, joints, 2) projected screen-independent coordinates, flattened
    this.visible = true;
    this.active = false;   // hovered or focused
    this.drawnFrame = -1;
  }

  async load() {
    try {
      const preview = await api(this.hit.preview_url);
      this.setPreview(preview);
      if (window.mrTimings.firstPreview === null) {
        window.mrTimings.firstPreview = performance.now() - state.searchStarted;
      }
    } catch (error) {
      this.canvas.dataset.state = "failed";
      drawPlaceholder(this.canvas, this.hit, `no preview: ${error.message}`);
    }
  }

  setPreview(preview) {
    this.preview = preview;
    const positions = decodePreview(preview);
    const n = preview.frames * preview.joints;
    const points = new Float32Array(n * 2);
    const cos = Math.cos(VIEW_YAW), sin = Math.sin(VIEW_YAW);
    let minX = Infinity, maxX = -Infinity, maxY = 0;
    for (let i = 0; i < n; i++) {
      const x = positions[3 * i], y = positions[3 * i + 1], z = positions[3 * i + 2];
      const sx = x * cos - z * sin;        // turn the scene about the vertical axis, then look along -z
      points[2 * i] = sx;
      points[2 * i + 1] = y;
      minX = Math.min(minX, sx); maxX = Math.max(maxX, sx); maxY = Math.max(maxY, y);
    }
    this.points = points;
    this.bounds = {minX, maxX, height: Math.max(maxY, 1.0)};
    this.canvas.dataset.state = "playing";
    this.startedAt = performance.now();
    this.drawnFrame = -1;
  }

  frameAt(now, still) {
    if (still) return 0;
    const p = this.preview;
    const elapsed = (now - this.startedAt) / 1000;
    return Math.floor(elapsed * p.fps) % p.frames;
  }

  draw(now, still = false) {
    if (!this.points || !this.visible) return;
    const frame = this.frameAt(now, still && !this.active);
    if (frame === this.drawnFrame) return;  // previews run at a lower rate than the display
    this.drawnFrame = frame;
    const {canvas} = this;
    const ctx = canvas.getContext("2d");
    const w = canvas.width, h = canvas.height;
    const p = this.preview, J = p.joints;
    const base = frame * J * 2;
    // Scale to the figure's height; follow the root sideways only when the whole path does not fit.
    const scale = (h * 0.8) / (this.bounds.height + 0.1);
    const span = (this.bounds.maxX - this.bounds.minX) * scale;
    const centre = span < w * 0.9 ? (this.bounds.minX + this.bounds.maxX) / 2 : this.points[base];
    const toX = (x) => w / 2 + (x - centre) * scale;
    const toY = (y) => h * 0.9 - y * scale;

    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#eef1f4";
    ctx.fillRect(0, 0, w, h);
    // the floor, with ticks every 0.5 m that slide when the camera follows the root
    ctx.strokeStyle = "#c4cbd3";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(0, toY(0)); ctx.lineTo(w, toY(0));
    const first = Math.floor((centre - w / 2 / scale) / 0.5) * 0.5;
    for (let x = first; toX(x) < w; x += 0.5) { ctx.moveTo(toX(x), toY(0)); ctx.lineTo(toX(x), toY(0) + 5); }
    ctx.stroke();

    ctx.lineCap = "round";
    ctx.lineWidth = Math.max(2, scale * 0.035);
    for (let j = 1; j < J; j++) {
      const parent = p.parents[j];
      ctx.strokeStyle = LEFT.has(j) ? "#2f7ed8" : RIGHT.has(j) ? "#e4572e" : "#3d4a57";
      ctx.beginPath();
      ctx.moveTo(toX(this.points[base + 2 * parent]), toY(this.points[base + 2 * parent + 1]));
      ctx.lineTo(toX(this.points[base + 2 * j]), toY(this.points[base + 2 * j + 1]));
      ctx.stroke();
    }
    ctx.fillStyle = "#3d4a57";
    ctx.beginPath();
    ctx.arc(toX(this.points[base + 2 * HEAD]), toY(this.points[base + 2 * HEAD + 1]), scale * 0.08, 0, 2 * Math.PI);
    ctx.fill();
    // where in the window we are
    const t = this.hit.start_s + frame / p.fps;
    ctx.fillStyle = "#5b6470";
    ctx.font = `${Math.round(h / 16)}px system-ui, sans-serif`;
    ctx.fillText(`${t.toFixed(1)} s`, 8, h / 12);
    ctx.fillStyle = "#1f6feb";
    ctx.fillRect(0, h - 4, (w * (frame + 1)) / p.frames, 4);
  }
}

function drawPlaceholder(canvas, hit, message = "loading preview…") {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#eef1f4";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#5b6470";
  ctx.font = `${Math.round(canvas.height / 18)}px system-ui, sans-serif`;
  ctx.fillText(message, 12, canvas.height / 2);
}

function animate(now) {
  for (const figure of state.figures.values()) figure.draw(now, REDUCED_MOTION.matches);
  if (state.detailFigure) state.detailFigure.draw(now);
  requestAnimationFrame(animate);
}

// -- detail view --------------------------------------------------------------------------------------------------
function openDetail(hit, card) {
  state.opener = card;
  $("#detail-title").textContent = hit.name || hit.id;
  const meta = $("#detail-meta");
  meta.replaceChildren();
  const rows = [["score", hit.score.toFixed(4)], ["window", `${hit.start_s.toFixed(2)}–${hit.end_s.toFixed(2)} s`],
    ["duration", `${hit.duration_s.toFixed(2)} s`], ["dataset", hit.dataset],
    ["tags", hit.tags.join(", ") || "none"], ["source", hit.source || "—"], ["id", hit.id]];
  for (const [key, value] of rows) meta.append(el("dt", "", key), el("dd", "", value));
  const captions = $("#detail-captions");
  captions.replaceChildren(...(hit.captions.length ? hit.captions : ["(none stored)"]).map((c) => el("li", "", c)));
  $("#dl-bvh").href = hit.clip_urls.bvh;
  $("#dl-npy").href = hit.clip_urls.npy;
  $("#dl-source").hidden = !hit.clip_urls.source;
  if (hit.clip_urls.source) $("#dl-source").href = hit.clip_urls.source;
  $("#more-like-this").onclick = () => {
    $("#detail").close();
    runQuery({kind: "similar", motionId: hit.id, label: hit.name || hit.id});
  };
  const canvas = $("#detail-canvas");
  canvas.setAttribute("aria-label", `Animated skeleton of ${describeHit(hit)}`);
  const figure = new Figure(canvas, hit);
  const small = state.figures.get(card.querySelector("canvas"));
  if (small && small.preview) figure.setPreview(small.preview);
  else { drawPlaceholder(canvas, hit); figure.load(); }
  state.detailFigure = figure;
  loadDescriptions(hit);
  $("#detail").showModal();
}

async function loadDescriptions(hit) {
  const list = $("#detail-described");
  list.replaceChildren(el("li", "", "finding captions…"));
  try {
    const body = await api(`/api/motions/${encodeURIComponent(hit.id)}/captions?top_k=5`);
    if (state.detailFigure?.hit !== hit) return;
    list.replaceChildren(...body.captions.map((c) => {
      const item = el("li", "", `${c.text} `);
      item.append(el("span", "score", `(${c.score.toFixed(3)})`));
      return item;
    }));
    if (!body.captions.length) list.replaceChildren(el("li", "", "no stored captions"));
  } catch (error) {
    list.replaceChildren(el("li", "", `cannot describe it: ${error.message}`));
  }
}

// -- files: drop anywhere, or the file input ------------------------------------------------------------------------
function searchByFile(file) {
  if (!file) return;
  if (!/\.(bvh|npy|npz)$/i.test(file.name)) {
    setStatus(`${file.name}: not a motion file; use a .bvh, .npy or .npz file`, true);
    return;
  }
  if (file.size > state.config.max_upload_bytes) {
    setStatus(`${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; the limit is ` +
      `${(state.config.max_upload_bytes / 2 ** 20).toFixed(0)} MiB`, true);
    return;
  }
  runQuery({kind: "motion", file});
}

function setUpDrop() {
  const zone = $("#drop-zone");
  let depth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer?.types || []).includes("Files");
  window.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    zone.hidden = false;
  });
  window.addEventListener("dragleave", () => { depth = Math.max(0, depth - 1); if (!depth) zone.hidden = true; });
  window.addEventListener("dragover", (event) => { if (hasFiles(event)) event.preventDefault(); });
  window.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    zone.hidden = true;
    searchByFile(event.dataTransfer.files[0]);
  });
}

// -- start --------------------------------------------------------------------------------------------------------
async function start() {
  try { Object.assign(state.config, await api("/api/config")); } catch (error) {
    setStatus(`The search service is not reachable: ${error.message}`, true);
  }
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("#q").value.trim();
    if (!text) return;
    history.replaceState(null, "", `?q=${encodeURIComponent(text)}`);
    runQuery({kind: "text", text});
  });
  $("#file-input").addEventListener("change", (event) => {
    searchByFile(event.target.files[0]);
    event.target.value = "";
  });
  $("#more").addEventListener("click", () => runQuery(state.query, {append: true}));
  $("#detail-close").addEventListener("click", () => $("#detail").close());
  $("#detail").addEventListener("close", () => {
    state.detailFigure = null;
    state.opener?.focus();
  });
  setUpDrop();
  requestAnimationFrame(animate);
  const initial = new URLSearchParams(location.search).get("q");
  if (initial) {
    $("#q").value = initial;
    runQuery({kind: "text", text: initial});
  }
}

start();
