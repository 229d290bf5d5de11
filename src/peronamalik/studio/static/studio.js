// peronamalik studio: plain JS, no build step.  Frames arrive on the WebSocket as binary JPEG.
"use strict";
const $ = (id) => document.getElementById(id);
// values: what the controls show; applied: the config the server has in force (its last word)
const state = { session: null, preset: null, seed: null, schema: null, values: {}, applied: {}, paused: false, ws: null, frames: [],
  configId: 0, answered: 0, refusal: null, classicBusy: false, classicPending: false, classicStale: true, built: false, shown: false };

function showMessage(text, kind) {
  const box = $("message");
  box.textContent = text; box.className = kind || ""; box.hidden = !text;
  clearTimeout(showMessage.timer);
  if (text && kind === "info") showMessage.timer = setTimeout(() => { box.hidden = true; }, 4000);
}

// ---- values: slider positions <-> config values --------------------------------------------
const LOG_STEPS = 1000;
function toSlider(spec, v) {
  if (spec.log) return Math.round(LOG_STEPS * Math.log(v / spec.min) / Math.log(spec.max / spec.min));
  return v;
}
function fromSlider(spec, s) {
  if (spec.log) return +(spec.min * Math.pow(spec.max / spec.min, s / LOG_STEPS)).toPrecision(3);
  return +(+s).toPrecision(4);
}
const fmt = (v) => (typeof v === "number" ? (Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : +v.toPrecision(4)) : String(v));

// ---- controls generated from the schema ----------------------------------------------------
function buildControls() {
  const root = $("controls"); root.innerHTML = "";
  const groups = {};
  for (const g of state.schema.groups) {
    const d = document.createElement("details"); d.className = "group"; d.open = ["diffusion", "optimizer", "loss weights"].includes(g);
    d.innerHTML = `<summary>${g}</summary>`; groups[g] = d;
  }
  for (const spec of state.schema.controls) {
    const parent = groups[spec.group];
    if (spec.kind === "weights") {
      for (const term of spec.terms) parent.appendChild(row({ ...spec, kind: "range", name: `loss_weights.${term}`, label: term, step: 0.05 }));
    } else parent.appendChild(row(spec));
    parent.dataset.used = "1";
  }
  for (const g of state.schema.groups) if (groups[g].dataset.used) root.appendChild(groups[g]);
}

function row(spec) {
  const label = document.createElement("label"); label.className = "row";
  const name = spec.label || spec.name;
  label.innerHTML = `<span title="${spec.name}">${name}${spec.live ? "" : '<i class="restart-tag" title="a change restarts the run">↻</i>'}</span>`;
  let input;
  if (spec.kind === "select") {
    input = document.createElement("select");
    for (const c of spec.choices) input.add(new Option(c, c));
  } else if (spec.kind === "checkbox") {
    input = document.createElement("input"); input.type = "checkbox";
  } else if (spec.kind === "range") {
    input = document.createElement("input"); input.type = "range";
    input.min = spec.log ? 0 : spec.min; input.max = spec.log ? LOG_STEPS : spec.max;
    input.step = spec.log ? 1 : (spec.step || (spec.max - spec.min) / 200);
  } else {
    input = document.createElement("input"); input.type = "number"; input.min = spec.min;
    input.step = spec.kind === "int" ? 1 : "any";
  }
  input.dataset.name = spec.name; input.id = `f-${spec.name}`;
  label.appendChild(input);
  let out = null;
  if (spec.kind === "range") { out = document.createElement("output"); label.appendChild(out); }
  const read = () => {
    if (spec.kind === "checkbox") return input.checked;
    if (spec.kind === "range") return fromSlider(spec, input.value);
    if (spec.kind === "int") return parseInt(input.value || "0", 10);
    if (spec.kind === "float") return parseFloat(input.value || "0");
    return spec.choices && typeof spec.choices[0] === "number" ? +input.value : input.value;
  };
  input.addEventListener(spec.kind === "range" ? "input" : "change", () => {
    const v = read(); state.values[spec.name] = v; if (out) out.textContent = fmt(v); sendConfig();
  });
  input._set = (v) => {
    if (spec.kind === "checkbox") input.checked = !!v;
    else if (spec.kind === "range") { input.value = toSlider(spec, v); out.textContent = fmt(v); }
    else input.value = v;
  };
  return label;
}

function flatten(config) {  // {loss_weights: {edge: 1}} -> {"loss_weights.edge": 1}, every term there (0: not in the config)
  const flat = {};
  for (const term of state.schema.controls.find((c) => c.kind === "weights")?.terms || []) flat[`loss_weights.${term}`] = 0;
  for (const [k, v] of Object.entries(config)) {
    if (k === "loss_weights") for (const [t, w] of Object.entries(v)) flat[`loss_weights.${t}`] = w;
    else flat[k] = v;
  }
  return flat;
}

function showConfig(config) {
  state.values = flatten(config);
  fillControls();
}
function fillControls() {
  for (const [k, v] of Object.entries(state.values)) { const el = $(`f-${k}`); if (el) el._set(v); }
}
// the controls are built once the first frame is on screen (or after a second without one):
// their script, style and layout would otherwise hold up the first frame's drawing
function buildControlsOnce() {
  if (state.built) return;
  state.built = true; buildControls(); fillControls();
  performance.mark("studio:controls");
}

function overrides(flat = state.values) {  // the fields of `flat` that differ from the preset's
  const base = flatten(state.schema.presets[state.preset]);
  const out = {};
  for (const [k, v] of Object.entries(flat)) if ((base[k] ?? 0) !== v) out[k] = v;
  return out;
}

// the address bar holds the run in force: preset, seed and the fields changed from the preset
// that the server applied (a refused value never gets there, so a reload never loses the link)
function updateUrl() {
  const q = new URLSearchParams({ preset: state.preset, seed: state.seed });
  for (const [k, v] of Object.entries(overrides(state.applied))) q.set(k, v);
  if (location.search !== `?${q}`) history.replaceState(null, "", `?${q}`);
}

let configTimer = null;
function sendConfig() {
  // at most one config message per animation frame while a slider moves; each has an id the
  // server's reply carries (see inForce)
  if (configTimer) return;
  configTimer = requestAnimationFrame(() => {
    configTimer = null;
    if (!state.ws || state.ws.readyState !== 1) return;
    state.configId += 1;
    send({ type: "config", preset: state.preset, overrides: overrides(), id: state.configId });
  });
}

// a reply is the latest word when it answers the last change sent (or none is outstanding):
// an older one is followed by the answer to a newer change, which the page waits for
function latest(msg) {
  if (msg.id !== undefined) state.answered = msg.id;
  return state.answered === state.configId;
}
function inForce(msg) {  // hello, or the server's reply to a change: the run now in force
  state.preset = msg.preset; state.seed = msg.seed; state.applied = flatten(msg.config);
  $("seed").textContent = msg.seed; markPreset(); updateUrl();
  const button = $("new-seed"), random = state.applied.kernel_noise > 0;  // the seed draws the kernel noise only
  button.disabled = !random;
  button.title = random ? "Start again with a new seed" : "no preset setting draws random numbers: kernel_noise is 0";
}
function accepted(msg) {
  if (!latest(msg)) return;
  inForce(msg);
  if (state.refusal !== null && $("message").textContent === state.refusal) showMessage("");
  state.refusal = null;
}
function refused(msg) {
  // a change the server refused: the controls go back to the settings in force, the message says which
  if (!latest(msg)) return;
  cancelAnimationFrame(configTimer); configTimer = null;
  const applied = flatten(msg.config);
  const names = Object.keys(state.values).filter((k) => k in applied && applied[k] !== state.values[k]);
  const what = names.slice(0, 3).map((k) => `${k} ${fmt(state.values[k])}`).join(", ") + (names.length > 3 ? ", …" : "");
  inForce(msg); showConfig(msg.config);
  state.refusal = `${what ? `${what}: ` : ""}not applied: ${msg.message}`;
  showMessage(state.refusal);
}

function buildPresets() {
  const root = $("presets"); root.innerHTML = "";
  for (const name of Object.keys(state.schema.presets)) {
    const b = document.createElement("button"); b.setAttribute("role", "radio"); b.dataset.preset = name;
    if (state.schema.photo_presets.includes(name)) {  // a thumbnail (a placeholder until it loads)
      const thumb = b.appendChild(document.createElement("span")); thumb.className = "thumb";
      thumb.appendChild(document.createElement("img")).alt = "";
      b.appendChild(document.createElement("span")).textContent = name;
    } else {  // a look made for clips (no photo thumbnail): a full-width row
      b.className = "wide";
      b.appendChild(document.createElement("span")).textContent = name;
      b.appendChild(document.createElement("small")).textContent = "the webcam's look, for clips";
    }
    b.addEventListener("click", () => {
      state.preset = name; showConfig(state.schema.presets[name]); markPreset(); sendConfig();
    });
    root.appendChild(b);
  }
}
// thumbnails: rendered by the server in the background, once per input; the page never waits
let thumbVersion = 0;
function loadThumbs() {
  thumbVersion += 1;
  for (const img of $("presets").querySelectorAll("img")) {
    img.classList.remove("ready"); img.onload = () => img.classList.add("ready");
    img.src = `/api/thumb?session=${encodeURIComponent(state.session)}&preset=${img.closest("button").dataset.preset}&v=${thumbVersion}`;
  }
}
function markPreset() {
  for (const b of $("presets").children) b.setAttribute("aria-checked", b.dataset.preset === state.preset ? "true" : "false");
}

// ---- the WebSocket --------------------------------------------------------------------------
function send(msg) { if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(msg)); }

function connect({ ws, early }) {
  // the socket the page's head opened; messages that came before this script ran are in `early`
  state.ws = ws;
  const canvas = $("view"), ctx = canvas.getContext("2d");
  let meta = "", drawing = Promise.resolve();
  let inbox = Promise.resolve();
  ws.onmessage = (event) => { inbox = inbox.then(() => receive(event)).catch((e) => showMessage(String(e))); };
  let pending = null;  // a JPEG waits for the JSON that follows it and says what it is
  const receive = (event) => {
    if (typeof event.data !== "string") { pending = event.data; return; }
    const msg = JSON.parse(event.data);
    if ((msg.type === "frame" || msg.type === "webcam") && pending !== null) {
      const jpeg = pending; pending = null;
      // while the webcam runs, a photo frame still in flight is taken (acked), not drawn
      if (msg.type === "webcam" || !cam.stream) draw(jpeg); else send({ type: "ack" });
    }
    handle(msg);
  };
  const draw = (jpeg) => {
      const blob = new Blob([jpeg], { type: "image/jpeg" });
      drawing = drawing.then(() => createImageBitmap(blob)).then((bitmap) => {
        if (canvas.width !== bitmap.width || canvas.height !== bitmap.height) { canvas.width = bitmap.width; canvas.height = bitmap.height; }
        ctx.drawImage(bitmap, 0, 0); bitmap.close();
        state.frames.push(performance.now()); send({ type: "ack" });
        if (!state.shown) {  // after the first frame, never delaying it: its paint, then the controls and thumbnails
          state.shown = true; performance.mark("studio:first-frame");
          requestAnimationFrame(() => setTimeout(() => { buildControlsOnce(); loadThumbs(); }));
        }
      }).catch(() => send({ type: "ack" }));
  };
  const handle = (msg) => {
    if (msg.type === "hello") {  // the run the address asked for (the socket carried its query)
      performance.mark("studio:hello");
      state.session = msg.session; state.paused = msg.paused;
      inForce(msg); showConfig(msg.config);
    } else if (msg.type === "config") {
      accepted(msg);
    } else if (msg.type === "frame") {
      if (!cam.stream) { meta = `frame ${msg.index} · iteration ${msg.iteration}`; $("status").textContent = meta; }
    } else if (msg.type === "webcam") {
      camReply(msg);
    } else if (msg.type === "state") {
      state.paused = msg.paused; $("pause").textContent = msg.paused ? "Resume" : "Pause";
    } else if (msg.type === "error") {
      if (msg.config) refused(msg); else showMessage(msg.message);
    }
  };
  const closed = () => { $("status").textContent = "disconnected: reload the page"; };
  ws.onclose = closed;
  for (const event of early) ws.onmessage(event);
  if (ws.readyState === WebSocket.CLOSED) closed();
}

setInterval(() => {
  const now = performance.now();
  state.frames = state.frames.filter((t) => now - t < 1000);
  $("fps").textContent = state.frames.length;
  send({ type: "ping" });
}, 1000);

// ---- the run holds still while the webcam or the Classic tab shows; after, it runs again
// only if the user had not paused it
let held = null;  // null: not held; else whether the run was running when held
function hold() {
  if (held !== null) return;
  held = !state.paused; state.paused = true; send({ type: "pause" });
}
function release() {
  if (held === null) return;
  if (held) { state.paused = false; send({ type: "resume" }); }
  held = null;
}

// ---- webcam: camera frames (JPEG 320×240) to the server, one in flight; stylised frames back ----
// frames/latencies: what came back (the last 256 round trips, ms), read by benchmarks/studio.py
const cam = { stream: null, canvas: null, sentAt: 0, latency: 0, frames: 0, latencies: [] };
async function toggleWebcam() {
  if (cam.stream) { stopWebcam(); return; }
  try {
    cam.stream = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: false });
  } catch (e) { showMessage(`webcam: ${e.message || e.name}`); return; }
  const video = $("camera"); video.srcObject = cam.stream; await video.play();
  cam.canvas = cam.canvas || Object.assign(document.createElement("canvas"), { width: 320, height: 240 });
  $("webcam").setAttribute("aria-pressed", "true"); $("webcam").textContent = "Stop webcam";
  hold(); sendCamFrame();
}
function stopWebcam() {
  for (const track of cam.stream.getTracks()) track.stop();
  cam.stream = null; $("camera").srcObject = null;
  $("webcam").setAttribute("aria-pressed", "false"); $("webcam").textContent = "Webcam";
  send({ type: "webcam-stop" }); release();
}
function sendCamFrame() {
  if (!cam.stream) return;
  const video = $("camera"), ctx = cam.canvas.getContext("2d");
  const scale = Math.min(320 / video.videoWidth, 240 / video.videoHeight, 1) || 1;
  const w = Math.round(video.videoWidth * scale) || 320, h = Math.round(video.videoHeight * scale) || 240;
  if (cam.canvas.width !== w || cam.canvas.height !== h) { cam.canvas.width = w; cam.canvas.height = h; }
  ctx.drawImage(video, 0, 0, w, h);
  cam.canvas.toBlob((blob) => blob.arrayBuffer().then((buffer) => {
    cam.sentAt = performance.now();
    if (state.ws && state.ws.readyState === 1) state.ws.send(buffer);
  }), "image/jpeg", 0.8);
}
function camReply(msg) {
  if (!cam.stream) return;
  cam.latency = performance.now() - cam.sentAt;
  cam.frames += 1; cam.latencies.push(cam.latency); if (cam.latencies.length > 256) cam.latencies.shift();
  if (msg.error) showMessage(msg.error);
  else $("status").textContent = `webcam frame ${msg.index} · ${Math.round(cam.latency)} ms`;
  requestAnimationFrame(sendCamFrame);  // the next camera frame once this one is back: nothing queues
}
$("webcam").addEventListener("click", toggleWebcam);

// ---- transport, upload, download --------------------------------------------------------------
$("pause").addEventListener("click", () => {
  state.paused = $("pause").textContent === "Pause"; send({ type: state.paused ? "pause" : "resume" });
});
$("step").addEventListener("click", () => send({ type: "step" }));
$("restart").addEventListener("click", () => send({ type: "restart" }));
$("new-seed").addEventListener("click", () => send({ type: "new-seed" }));

// every request goes through here: a refusal (its {"error"}) or no answer at all (the server
// stopped) throws an Error whose message the page shows
async function request(url, options) {
  let response;
  try {
    response = await fetch(url, options);
  } catch {
    throw new Error("the studio server does not answer: is it still running? (start it again, then reload the page)");
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    throw new Error(body.error || `the server answered ${response.status}`);
  }
  return response;
}

async function upload(file) {
  if (!file) return;
  const max = state.schema.max_upload_bytes;
  if (file.size > max) { showMessage(`${file.name} is larger than the studio's limit of ${max >> 20} MiB`); return; }
  showMessage(`loading ${file.name}…`, "info");
  try {
    const body = await (await request(`/api/upload?session=${encodeURIComponent(state.session)}`, { method: "POST", body: file })).json();
    showMessage(`${file.name}: ${body.width}×${body.height}${body.video ? " clip (looping)" : ""}`, "info");
  } catch (e) { showMessage(`${file.name}: ${e.message}`); return; }
  loadClassic(); loadThumbs();
}
$("upload").addEventListener("change", (e) => { upload(e.target.files[0]); e.target.value = ""; });
$("open-file").addEventListener("click", () => $("upload").click());
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("dragging"); });
drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("dragging"); upload(e.dataTransfer.files[0]); });

$("download").addEventListener("click", async () => {
  const kind = $("format").value, button = $("download");
  button.disabled = true; button.textContent = "Rendering…";
  try {
    const response = await request(`/api/download?session=${encodeURIComponent(state.session)}&format=${kind}`);
    const name = (response.headers.get("content-disposition") || "").match(/filename="?([^";]+)/)?.[1] || `peronamalik.${kind}`;
    const url = URL.createObjectURL(await response.blob());
    const a = document.createElement("a"); a.href = url; a.download = name; a.click();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) { showMessage(`download: ${e.message}`); } finally { button.disabled = false; button.textContent = "Download"; }
});

// ---- classic mode ---------------------------------------------------------------------------
const KAPPA = { min: 0.001, max: 1, log: true };  // auto chooses below 0.005 for nearly clean photos
function classicParams() {
  const kappa = fromSlider(KAPPA, $("c-kappa").value), iterations = +$("c-iterations").value;
  $("c-kappa-out").textContent = fmt(kappa); $("c-iterations-out").textContent = iterations;
  return new URLSearchParams({ session: state.session, kappa, iterations, diffusivity: $("c-diffusivity").value });
}
function loadClassic() {
  // the classic view's input and smoothing: computed only while it shows, else when it next does
  state.classicStale = !state.session || $("classic").hidden;
  if (state.classicStale) return;
  $("c-auto-out").hidden = true; wholePicture();  // chosen, and picked, on the input before
  showJpeg($("before"), `/api/input?session=${encodeURIComponent(state.session)}`).catch((e) => showMessage(`classic: ${e.message}`));
  refreshClassic();
}
async function showJpeg(img, url) {  // through request(): a failure is a message, not a broken image
  const blob = URL.createObjectURL(await (await request(url)).blob());
  const old = img.src; img.src = blob;
  await img.decode().catch(() => {}); if (old.startsWith("blob:")) URL.revokeObjectURL(old);
}
async function refreshClassic() {
  // latest wins: one request in flight, the newest slider position queued behind it
  if (state.classicBusy) { state.classicPending = true; return; }
  state.classicBusy = true;
  try {
    await showJpeg($("after"), `/api/smooth?${classicParams()}`);
  } catch (e) { showMessage(`classic: ${e.message}`); } finally {
    state.classicBusy = false;
    if (state.classicPending) { state.classicPending = false; refreshClassic(); }
  }
}
for (const id of ["c-kappa", "c-iterations", "c-diffusivity"]) {
  $(id).addEventListener("input", () => { $("c-auto-out").hidden = true; refreshClassic(); });  // no longer the choice
}
// "noise from": a part of the picture dragged over, in the preview's pixels [top, left, bottom, right]
const pick = { part: null, start: null };
function drawnImage() {  // where #before draws the preview (object-fit: contain), in client pixels
  const img = $("before"), r = img.getBoundingClientRect();
  const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  return { left: r.left + (r.width - img.naturalWidth * scale) / 2, top: r.top + (r.height - img.naturalHeight * scale) / 2,
           scale, width: img.naturalWidth, height: img.naturalHeight };
}
function wholePicture() {
  pick.part = pick.start = null; $("pick").hidden = $("pick-box").hidden = true;
  $("c-pick").textContent = "the whole picture"; $("c-pick").setAttribute("aria-pressed", "false");
}
function dragBox(x, y) {  // the dashed rectangle from the drag's start to (x, y), clipped to the picture
  const d = drawnImage(), frame = $("compare").getBoundingClientRect();
  const clampX = (v) => Math.max(d.left, Math.min(d.left + d.width * d.scale, v));
  const clampY = (v) => Math.max(d.top, Math.min(d.top + d.height * d.scale, v));
  const [x0, x1] = [clampX(pick.start[0]), clampX(x)].sort((a, b) => a - b);
  const [y0, y1] = [clampY(pick.start[1]), clampY(y)].sort((a, b) => a - b);
  Object.assign($("pick-box").style, { left: `${x0 - frame.left}px`, top: `${y0 - frame.top}px`, width: `${x1 - x0}px`, height: `${y1 - y0}px` });
  $("pick-box").hidden = false;
  const pixel = (v, origin) => Math.round((v - origin) / d.scale);
  return [pixel(y0, d.top), pixel(x0, d.left), pixel(y1, d.top), pixel(x1, d.left)];
}
$("c-pick").addEventListener("click", () => {
  if (pick.part || !$("pick").hidden) { wholePicture(); return; }
  $("pick").hidden = false; $("c-pick").setAttribute("aria-pressed", "true"); $("c-pick").textContent = "drag over a smooth part…";
});
$("pick").addEventListener("pointerdown", (e) => { pick.start = [e.clientX, e.clientY]; $("pick").setPointerCapture(e.pointerId); dragBox(e.clientX, e.clientY); });
$("pick").addEventListener("pointermove", (e) => { if (pick.start) dragBox(e.clientX, e.clientY); });
$("pick").addEventListener("pointerup", (e) => {
  if (!pick.start) return;
  pick.part = dragBox(e.clientX, e.clientY); pick.start = null; $("pick").hidden = true;
  const [top, left, bottom, right] = pick.part;
  $("c-pick").textContent = `a ${right - left}×${bottom - top} px part`;  // pressed: a click goes back to the whole
  $("c-auto").click();  // what the part is for
});
$("c-auto").addEventListener("click", async () => {
  // the server reads the noise of the input as shown and chooses; the sliders take its values
  const button = $("c-auto"), label = button.textContent;
  button.disabled = true; button.textContent = "Choosing…";
  try {
    const query = new URLSearchParams({ session: state.session, diffusivity: $("c-diffusivity").value });
    if (pick.part) query.set("part", pick.part.join(","));
    const chosen = await (await request(`/api/auto?${query}`)).json();
    $("c-kappa").value = toSlider(KAPPA, Math.min(KAPPA.max, Math.max(KAPPA.min, chosen.kappa)));
    $("c-iterations").value = chosen.iterations;
    $("c-auto-out").textContent = `Chosen: ${chosen.description}`; $("c-auto-out").hidden = false;
    refreshClassic();
  } catch (e) { showMessage(`auto: ${e.message}`); } finally { button.disabled = false; button.textContent = label; }
});
$("split").addEventListener("input", (e) => {
  $("after-clip").style.clipPath = `inset(0 0 0 ${e.target.value}%)`;
  $("compare").style.setProperty("--split", `${e.target.value}%`);
});
$("c-kappa").value = toSlider(KAPPA, 0.1);

for (const tab of document.querySelectorAll("[role=tab]")) {
  tab.addEventListener("click", () => {
    const mode = tab.dataset.mode;
    for (const t of document.querySelectorAll("[role=tab]")) t.setAttribute("aria-selected", t === tab ? "true" : "false");
    $("drugs").hidden = mode !== "drugs"; $("classic").hidden = mode !== "classic";
    if (cam.stream) stopWebcam();
    if (mode !== "classic") { release(); return; }
    hold();
    if (state.classicStale) loadClassic(); else refreshClassic();
  });
}
document.addEventListener("keydown", (e) => {
  if (e.code === "Space" && e.target === document.body && !$("drugs").hidden) { e.preventDefault(); $("pause").click(); }
});

// ---- start ----------------------------------------------------------------------------------
performance.mark("studio:script");
state.schema = JSON.parse($("studio-schema").textContent);  // inlined by the server (page.py)
for (const f of [...state.schema.formats, "json"]) $("format").add(new Option(f === "json" ? "config (JSON)" : f.toUpperCase(), f));
buildPresets();
connect(window.studioBoot);
setTimeout(buildControlsOnce, 1000);
