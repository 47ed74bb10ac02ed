// Mask editor: paint a mask over an image in image pixel space, whatever the zoom, with a round
// brush, eraser, hardness, invert, clear, undo/redo, zoom and pan. Outpainting grows the canvas.
// The mask is sent as a PNG: white where the image may change, grey on feathered edges.
// On a touch screen one finger paints and two fingers pinch to zoom and pan; only the canvas
// takes those gestures, so the page scrolls as usual around it. An image file dropped on the
// canvas is opened (and uploaded with the next Run); an "editor:open" event opens a gallery image
// (js/editor-results.js sends it when a result is accepted).

const HISTORY_LIMIT = 100;
const MIN_ZOOM = 0.05;
const MAX_ZOOM = 16;
const MASK_COLOR = "rgb(255, 45, 130)";
const AUTO_COLOR = "rgb(40, 200, 255)";
const MASKED_OPERATIONS = new Set(["edit", "outpaint", "erase"]);

const root = document.querySelector("[data-editor]");
if (root) start(root);

function start(root) {
  const $ = (selector) => root.querySelector(selector);
  const form = document.getElementById("edit-form");
  const viewport = $("[data-viewport]");
  const stage = $("[data-stage]");
  const imageCanvas = $("[data-image-canvas]");
  const overlay = $("[data-overlay-canvas]");
  const cursor = $("[data-cursor]");
  const empty = $("[data-empty]");
  const status = $("[data-status]");
  const sizeInput = $("[data-brush-size]");
  const sizeOutput = $("[data-size-output]");
  const hardnessInput = $("[data-brush-hardness]");
  const undoButton = $('[data-action="undo"]');
  const redoButton = $('[data-action="redo"]');
  const maskInput = form.querySelector("[data-mask-input]");
  const uploadInput = form.querySelector("[data-upload]");
  const sourceInput = form.querySelector("[name=source]");
  const overlap = Number(root.dataset.overlap || 32);

  const mask = document.createElement("canvas");
  const maskCtx = mask.getContext("2d", { willReadFrequently: true });
  const state = {
    source: null,
    extend: { left: 0, top: 0, right: 0, bottom: 0 },
    tool: "brush",
    zoom: 1,
    panX: 0,
    panY: 0,
    undo: [],
    redo: [],
    stroke: null,
    pan: null,
    pinch: null,
    spaceDown: false,
  };
  // Touch points on the canvas, by pointer id: two of them make a pinch.
  const touches = new Map();

  const operation = () => form.querySelector("[name=operation]:checked")?.value || "edit";
  const brushSize = () => Number(sizeInput.value);

  // --- Source image and canvas size -------------------------------------------------------------

  async function load(url) {
    const img = new Image();
    img.src = url;
    try {
      await img.decode();
    } catch {
      setStatus("That file could not be opened as an image.");
      return;
    }
    state.source = img;
    state.undo = [];
    state.redo = [];
    empty.hidden = true;
    resize(readExtension(), { keepMask: false });
    fit();
    root.dispatchEvent(new CustomEvent("editor:loaded"));
  }

  function readExtension() {
    if (operation() !== "outpaint" || !state.source) return { left: 0, top: 0, right: 0, bottom: 0 };
    const aspect = form.querySelector("[name=extend_aspect]")?.value;
    if (aspect) return extensionForAspect(state.source.naturalWidth, state.source.naturalHeight, aspect);
    const read = (side) => Math.max(0, Math.min(4096, Number(form.querySelector(`[name=extend_${side}]`)?.value) || 0));
    return { left: read("left"), top: read("top"), right: read("right"), bottom: read("bottom") };
  }

  function resize(extend, { keepMask }) {
    const width = state.source.naturalWidth + extend.left + extend.right;
    const height = state.source.naturalHeight + extend.top + extend.bottom;
    let previous = null;
    if (keepMask && mask.width > 1) {
      previous = document.createElement("canvas");
      previous.width = mask.width;
      previous.height = mask.height;
      previous.getContext("2d").drawImage(mask, 0, 0);
    }
    for (const canvas of [imageCanvas, overlay, mask]) {
      canvas.width = width;
      canvas.height = height;
    }
    stage.style.width = `${width}px`;
    stage.style.height = `${height}px`;
    if (previous) {
      // Keep what was painted over the same pixels of the source.
      maskCtx.drawImage(previous, extend.left - state.extend.left, extend.top - state.extend.top);
      state.undo = [];
      state.redo = [];
    }
    state.extend = extend;
    const ctx = imageCanvas.getContext("2d");
    ctx.fillStyle = "#3a3d4d";
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(state.source, extend.left, extend.top);
    drawOverlay();
    updateButtons();
    scheduleExport();
  }

  // --- Drawing ------------------------------------------------------------------------------------

  function drawOverlay() {
    const ctx = overlay.getContext("2d");
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, overlay.width, overlay.height);
    ctx.drawImage(mask, 0, 0);
    ctx.globalCompositeOperation = "source-in";
    ctx.fillStyle = MASK_COLOR;
    ctx.fillRect(0, 0, overlay.width, overlay.height);
    if (operation() === "outpaint" && state.source) {
      ctx.globalCompositeOperation = "destination-over";
      ctx.fillStyle = AUTO_COLOR;
      for (const [x, y, w, h] of autoMaskRects()) ctx.fillRect(x, y, w, h);
    }
    ctx.globalCompositeOperation = "source-over";
    status.textContent = describe();
  }

  function autoMaskRects() {
    // The strips the server masks for an outpaint: the new area plus an overlap into the source.
    const { left, top, right, bottom } = state.extend;
    const w = overlay.width;
    const h = overlay.height;
    const keepX0 = left + (left ? overlap : 0);
    const keepY0 = top + (top ? overlap : 0);
    const keepX1 = w - right - (right ? overlap : 0);
    const keepY1 = h - bottom - (bottom ? overlap : 0);
    if (!(left || top || right || bottom)) return [];
    return [
      [0, 0, w, keepY0],
      [0, keepY1, w, h - keepY1],
      [0, keepY0, keepX0, keepY1 - keepY0],
      [keepX1, keepY0, w - keepX1, keepY1 - keepY0],
    ].filter(([, , rw, rh]) => rw > 0 && rh > 0);
  }

  function dab(x, y, pressure) {
    const radius = Math.max(0.5, (brushSize() / 2) * pressure);
    const hardness = Number(hardnessInput.value) / 100;
    maskCtx.globalCompositeOperation = state.tool === "eraser" ? "destination-out" : "source-over";
    if (hardness >= 0.99) {
      maskCtx.fillStyle = "#fff";
    } else {
      const gradient = maskCtx.createRadialGradient(x, y, radius * hardness, x, y, radius);
      gradient.addColorStop(0, "rgba(255, 255, 255, 1)");
      gradient.addColorStop(1, "rgba(255, 255, 255, 0)");
      maskCtx.fillStyle = gradient;
    }
    maskCtx.beginPath();
    maskCtx.arc(x, y, radius, 0, Math.PI * 2);
    maskCtx.fill();
    maskCtx.globalCompositeOperation = "source-over";
    grow(state.stroke, x - radius - 1, y - radius - 1, x + radius + 1, y + radius + 1);
  }

  function segment(from, to, pressure) {
    const spacing = Math.max(1, brushSize() * 0.12);
    const distance = Math.hypot(to.x - from.x, to.y - from.y);
    const steps = Math.max(1, Math.ceil(distance / spacing));
    for (let i = 1; i <= steps; i += 1) {
      dab(from.x + ((to.x - from.x) * i) / steps, from.y + ((to.y - from.y) * i) / steps, pressure);
    }
  }

  function grow(stroke, x0, y0, x1, y1) {
    const rect = stroke.dirty;
    stroke.dirty = rect
      ? [Math.min(rect[0], x0), Math.min(rect[1], y0), Math.max(rect[2], x1), Math.max(rect[3], y1)]
      : [x0, y0, x1, y1];
  }

  // --- History ------------------------------------------------------------------------------------

  function crop(full, x, y, w, h) {
    const part = new ImageData(w, h);
    for (let row = 0; row < h; row += 1) {
      const from = ((y + row) * full.width + x) * 4;
      part.data.set(full.data.subarray(from, from + w * 4), row * w * 4);
    }
    return part;
  }

  function record(before, rect) {
    const [x0, y0, x1, y1] = rect;
    const x = Math.max(0, Math.floor(x0));
    const y = Math.max(0, Math.floor(y0));
    const w = Math.min(mask.width, Math.ceil(x1)) - x;
    const h = Math.min(mask.height, Math.ceil(y1)) - y;
    if (w <= 0 || h <= 0) return;
    state.undo.push({ x, y, before: crop(before, x, y, w, h), after: maskCtx.getImageData(x, y, w, h) });
    if (state.undo.length > HISTORY_LIMIT) state.undo.shift();
    state.redo = [];
    changed();
  }

  function wholeCanvas(change) {
    const before = maskCtx.getImageData(0, 0, mask.width, mask.height);
    change();
    record(before, [0, 0, mask.width, mask.height]);
  }

  function step(from, to, side) {
    const entry = from.pop();
    if (!entry) return;
    maskCtx.putImageData(entry[side], entry.x, entry.y);
    to.push(entry);
    changed();
  }

  function changed() {
    drawOverlay();
    updateButtons();
    scheduleExport();
  }

  function updateButtons() {
    undoButton.disabled = state.undo.length === 0;
    redoButton.disabled = state.redo.length === 0;
  }

  const actions = {
    undo: () => step(state.undo, state.redo, "before"),
    redo: () => step(state.redo, state.undo, "after"),
    clear: () => wholeCanvas(() => maskCtx.clearRect(0, 0, mask.width, mask.height)),
    invert: () =>
      wholeCanvas(() => {
        const pixels = maskCtx.getImageData(0, 0, mask.width, mask.height);
        for (let i = 0; i < pixels.data.length; i += 4) {
          pixels.data[i] = pixels.data[i + 1] = pixels.data[i + 2] = 255;
          pixels.data[i + 3] = 255 - pixels.data[i + 3];
        }
        maskCtx.putImageData(pixels, 0, 0);
      }),
    "zoom-in": () => zoomAt(state.zoom * 1.25),
    "zoom-out": () => zoomAt(state.zoom / 1.25),
    fit: () => fit(),
    actual: () => zoomAt(1),
  };

  // --- Zoom and pan -------------------------------------------------------------------------------

  function applyTransform() {
    stage.style.transform = `translate(${state.panX}px, ${state.panY}px) scale(${state.zoom})`;
    updateCursorSize();
    status.textContent = describe();
  }

  function fit() {
    if (!state.source) return;
    const box = viewport.getBoundingClientRect();
    state.zoom = Math.min(box.width / mask.width, box.height / mask.height, 1) * 0.96;
    state.panX = (box.width - mask.width * state.zoom) / 2;
    state.panY = (box.height - mask.height * state.zoom) / 2;
    applyTransform();
  }

  function zoomAt(zoom, clientX, clientY) {
    const box = viewport.getBoundingClientRect();
    const cx = clientX ?? box.left + box.width / 2;
    const cy = clientY ?? box.top + box.height / 2;
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
    // Keep the image point under (cx, cy) where it is.
    const ix = (cx - box.left - state.panX) / state.zoom;
    const iy = (cy - box.top - state.panY) / state.zoom;
    state.panX = cx - box.left - ix * next;
    state.panY = cy - box.top - iy * next;
    state.zoom = next;
    applyTransform();
  }

  function toImage(event) {
    const rect = overlay.getBoundingClientRect();
    return {
      x: ((event.clientX - rect.left) * overlay.width) / rect.width,
      y: ((event.clientY - rect.top) * overlay.height) / rect.height,
    };
  }

  function updateCursorSize() {
    cursor.style.width = cursor.style.height = `${brushSize()}px`;
    cursor.style.marginLeft = cursor.style.marginTop = `${-brushSize() / 2}px`;
  }

  function describe() {
    if (!state.source) return "";
    const parts = [`${mask.width}×${mask.height}`, `zoom ${Math.round(state.zoom * 100)}%`, `brush ${brushSize()} px`];
    if (state.tool === "eraser") parts.push("eraser");
    return parts.join(" · ");
  }

  // --- Pointer, wheel and keyboard ----------------------------------------------------------------

  function cancelStroke() {
    // A second finger means a pinch, not paint: the first finger's dab is taken back.
    if (!state.stroke) return;
    maskCtx.putImageData(state.stroke.before, 0, 0);
    state.stroke = null;
    drawOverlay();
  }

  function pinchStart() {
    const [a, b] = touches.values();
    const box = viewport.getBoundingClientRect();
    return {
      zoom: state.zoom,
      panX: state.panX,
      panY: state.panY,
      distance: Math.hypot(a.x - b.x, a.y - b.y) || 1,
      middle: { x: (a.x + b.x) / 2 - box.left, y: (a.y + b.y) / 2 - box.top },
    };
  }

  function pinchMove() {
    const [a, b] = touches.values();
    const box = viewport.getBoundingClientRect();
    const start = state.pinch;
    const middle = { x: (a.x + b.x) / 2 - box.left, y: (a.y + b.y) / 2 - box.top };
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, (start.zoom * Math.hypot(a.x - b.x, a.y - b.y)) / start.distance));
    // The image point first under the fingers' middle follows the middle: zoom and pan at once.
    const ix = (start.middle.x - start.panX) / start.zoom;
    const iy = (start.middle.y - start.panY) / start.zoom;
    state.zoom = zoom;
    state.panX = middle.x - ix * zoom;
    state.panY = middle.y - iy * zoom;
    applyTransform();
  }

  viewport.addEventListener("pointerdown", (event) => {
    if (!state.source) return;
    viewport.focus({ preventScroll: true });
    if (event.pointerType === "touch") {
      touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
      if (touches.size >= 2) {
        cancelStroke();
        state.pan = null;
        if (touches.size === 2) state.pinch = pinchStart();
        viewport.setPointerCapture(event.pointerId);
        event.preventDefault();
        return;
      }
    }
    // One finger moves the view when there is no mask to paint (remix, variation, upscale...).
    const touchPan = event.pointerType === "touch" && !MASKED_OPERATIONS.has(operation());
    if (event.button === 1 || (event.button === 0 && state.spaceDown) || touchPan) {
      state.pan = { x: event.clientX - state.panX, y: event.clientY - state.panY };
      viewport.setPointerCapture(event.pointerId);
      event.preventDefault();
      return;
    }
    if (event.button !== 0 || !MASKED_OPERATIONS.has(operation())) return;
    const point = toImage(event);
    state.stroke = { before: maskCtx.getImageData(0, 0, mask.width, mask.height), dirty: null, last: point };
    dab(point.x, point.y, pressureOf(event));
    drawOverlay();
    viewport.setPointerCapture(event.pointerId);
    event.preventDefault();
  });

  viewport.addEventListener("pointermove", (event) => {
    if (touches.has(event.pointerId)) touches.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (state.pinch) {
      if (touches.size >= 2) pinchMove();
      return;
    }
    if (state.source) {
      const point = toImage(event);
      cursor.hidden = !MASKED_OPERATIONS.has(operation());
      cursor.style.left = `${point.x}px`;
      cursor.style.top = `${point.y}px`;
    }
    if (state.pan) {
      state.panX = event.clientX - state.pan.x;
      state.panY = event.clientY - state.pan.y;
      applyTransform();
      return;
    }
    if (!state.stroke) return;
    const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
    for (const e of events.length ? events : [event]) {
      const point = toImage(e);
      segment(state.stroke.last, point, pressureOf(e));
      state.stroke.last = point;
    }
    drawOverlay();
  });

  function endPointer(event) {
    touches.delete(event.pointerId);
    // The pinch ends when its fingers lift; a finger left behind does not start painting.
    if (state.pinch) {
      if (touches.size === 0) state.pinch = null;
      return;
    }
    if (state.pan) state.pan = null;
    if (state.stroke) {
      const { before, dirty } = state.stroke;
      state.stroke = null;
      if (dirty) record(before, dirty);
    }
  }
  viewport.addEventListener("pointerup", endPointer);
  viewport.addEventListener("pointercancel", endPointer);
  viewport.addEventListener("pointerleave", () => {
    cursor.hidden = true;
  });

  viewport.addEventListener(
    "wheel",
    (event) => {
      if (!state.source) return;
      event.preventDefault();
      zoomAt(state.zoom * Math.exp(-event.deltaY * 0.0015), event.clientX, event.clientY);
    },
    { passive: false },
  );

  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest?.("input:not([type=range]):not([type=radio]), textarea, select");
    if (typing) return;
    const key = event.key.toLowerCase();
    if ((event.ctrlKey || event.metaKey) && key === "z") {
      event.preventDefault();
      (event.shiftKey ? actions.redo : actions.undo)();
    } else if ((event.ctrlKey || event.metaKey) && key === "y") {
      event.preventDefault();
      actions.redo();
    } else if (event.key === "[" || event.key === "]") {
      const current = brushSize();
      const change = Math.max(1, Math.round(current * 0.15));
      setBrushSize(event.key === "[" ? current - change : current + change);
    } else if (key === "e" && !event.ctrlKey) {
      setTool("eraser");
    } else if (key === "b" && !event.ctrlKey) {
      setTool("brush");
    } else if (event.key === " " && event.target === viewport) {
      state.spaceDown = true;
      viewport.classList.add("panning");
      event.preventDefault();
    }
  });
  document.addEventListener("keyup", (event) => {
    if (event.key === " ") {
      state.spaceDown = false;
      viewport.classList.remove("panning");
    }
  });

  function pressureOf(event) {
    return event.pointerType === "pen" && event.pressure > 0 ? event.pressure : 1;
  }

  function setBrushSize(size) {
    sizeInput.value = String(Math.max(Number(sizeInput.min), Math.min(Number(sizeInput.max), size)));
    sizeOutput.textContent = sizeInput.value;
    updateCursorSize();
    status.textContent = describe();
  }

  function setTool(tool) {
    state.tool = tool;
    for (const button of root.querySelectorAll("[data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
    }
    status.textContent = describe();
  }

  function setStatus(text) {
    status.textContent = text;
  }

  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action], button[data-tool]");
    if (!button) return;
    if (button.dataset.tool) setTool(button.dataset.tool);
    else actions[button.dataset.action]?.();
  });
  sizeInput.addEventListener("input", () => setBrushSize(Number(sizeInput.value)));

  // --- Form: operation, outpaint sizes, upload, and sending the mask -------------------------------

  function operationChanged() {
    root.dataset.operation = operation();
    if (state.source) extensionChanged();
  }

  function extensionChanged() {
    resize(readExtension(), { keepMask: true });
    fit();
  }

  function openUpload(file) {
    // An upload replaces the gallery image as what Run sends.
    sourceInput.value = "";
    document.getElementById("editor-title").textContent = "Edit an upload";
    root.querySelector("[data-source-note]").textContent = `From ${file.name}, uploaded when you press Run.`;
    load(URL.createObjectURL(file));
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "operation" || event.target.name === "extend_aspect") operationChanged();
    if (event.target === uploadInput && uploadInput.files[0]) openUpload(uploadInput.files[0]);
  });

  viewport.addEventListener("dragover", (event) => {
    if (!event.dataTransfer?.types.includes("Files")) return;
    event.preventDefault();
    viewport.classList.add("dropping");
  });
  viewport.addEventListener("dragleave", () => viewport.classList.remove("dropping"));
  viewport.addEventListener("drop", (event) => {
    const file = event.dataTransfer?.files?.[0];
    if (!file) return;
    event.preventDefault();
    viewport.classList.remove("dropping");
    if (!["image/png", "image/jpeg", "image/webp"].includes(file.type)) {
      setStatus("Drop a PNG, JPEG or WebP image to open it.");
      return;
    }
    const files = new DataTransfer();
    files.items.add(file);
    uploadInput.files = files.files;
    openUpload(file);
  });

  root.addEventListener("editor:open", (event) => {
    uploadInput.value = "";
    load(event.detail.url);
  });
  form.addEventListener("input", (event) => {
    if (event.target.name?.startsWith("extend_") && state.source) extensionChanged();
    if (["strength", "control_strength", "fidelity"].includes(event.target.name)) {
      const output = form.querySelector("[data-strength-output]");
      if (output) output.textContent = event.target.value;
    }
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target.id !== "edit-fields") return;
    operationChanged();
    document.querySelector("[data-run-errors]")?.focus();
  });

  let exportTimer = null;
  function scheduleExport() {
    clearTimeout(exportTimer);
    exportTimer = setTimeout(exportMask, 150);
  }

  function exportMask() {
    clearTimeout(exportTimer);
    return new Promise((resolve) => {
      const flat = document.createElement("canvas");
      flat.width = mask.width;
      flat.height = mask.height;
      const ctx = flat.getContext("2d");
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, flat.width, flat.height);
      ctx.drawImage(mask, 0, 0);
      flat.toBlob((blob) => {
        const files = new DataTransfer();
        files.items.add(new File([blob], "mask.png", { type: "image/png" }));
        maskInput.files = files.files;
        resolve();
      }, "image/png");
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (MASKED_OPERATIONS.has(operation()) && state.source) {
      await exportMask();
    } else {
      maskInput.value = "";
    }
    window.htmx.trigger(form, "atelier:submit");
  });

  window.addEventListener("resize", () => state.source && applyTransform());
  setBrushSize(brushSize());
  if (root.dataset.src) load(root.dataset.src);
}

export function extensionForAspect(width, height, aspect) {
  // Mirrors studio.imaging.extension_for_aspect: pixels to add on each side to reach `aspect`.
  const [a, b] = aspect.split(":").map(Number);
  if (width * b >= height * a) {
    const extra = Math.floor((width * b) / a + 0.5) - height;
    return { left: 0, top: Math.floor(extra / 2), right: 0, bottom: extra - Math.floor(extra / 2) };
  }
  const extra = Math.floor((height * a) / b + 0.5) - width;
  return { left: Math.floor(extra / 2), top: 0, right: extra - Math.floor(extra / 2), bottom: 0 };
}
