// Gallery lightbox: click a tile to see it large. ← → keys, the on-screen arrows or a swipe browse
// the tiles on the page; the wheel or a pinch zooms around the pointer, a drag pans a zoomed image,
// 1:1 shows every pixel; favourite and download act on the image shown. Esc closes.
// Ctrl/Cmd/Shift-click still opens the detail page; without JavaScript tiles are plain links.

const MAX_ZOOM = 12;
const SWIPE_PIXELS = 50;

const dialog = document.querySelector("[data-lightbox]");
if (dialog) start(dialog);

function start(dialog) {
  const $ = (selector) => dialog.querySelector(selector);
  const stage = $("[data-lightbox-stage]");
  const image = $("[data-lightbox-image]");
  const favourite = $("[data-lightbox-favourite]");
  const zoomLevel = $("[data-lightbox-zoom-level]");
  const links = {
    reuse: $("[data-lightbox-reuse]"),
    edit: $("[data-lightbox-edit]"),
    detail: $("[data-lightbox-detail]"),
    download: $("[data-lightbox-download]"),
  };
  let current = null;
  // The image's transform over its fitted layout box: scale 1 at (0, 0) is "fit".
  const view = { scale: 1, x: 0, y: 0 };
  const pointers = new Map();
  let gesture = null;

  // The page gives URL patterns with {} for the image id, so tiles carry only their id.
  const url = (pattern, id) => dialog.dataset[pattern].replace("{}", id);

  function show(tile) {
    current = tile;
    const id = tile.dataset.id;
    const thumbnail = tile.querySelector("img");
    image.src = url("fileUrl", id);
    image.alt = thumbnail.alt;
    $("[data-lightbox-prompt]").textContent = thumbnail.alt;
    $("[data-lightbox-meta]").textContent = tile.dataset.byline;
    $("[data-lightbox-size]").textContent = `${thumbnail.getAttribute("width")}×${thumbnail.getAttribute("height")}`;
    $("[data-lightbox-seed]").textContent = tile.dataset.seed || "not recorded";
    $("[data-lightbox-options]").textContent = tile.dataset.options || "none";
    links.reuse.href = url("reuseUrl", id);
    links.edit.href = url("editUrl", id);
    links.detail.href = url("detailUrl", id);
    links.download.href = url("downloadUrl", id);
    showFavourite("favourite" in tile.dataset);
    const tiles = allTiles();
    $('[data-lightbox-step="-1"]').disabled = tiles[0] === tile;
    $('[data-lightbox-step="1"]').disabled = tiles.at(-1) === tile;
    setView(1, 0, 0);
    if (!dialog.open) dialog.showModal();
  }

  const allTiles = () => [...document.querySelectorAll("[data-tile]")];

  function step(offset) {
    const tiles = allTiles();
    const next = tiles[tiles.indexOf(current) + offset];
    if (next) {
      show(next);
      next.scrollIntoView({ block: "nearest" });
    }
  }

  // --- Zoom and pan ------------------------------------------------------------------------------

  function setView(scale, x, y) {
    view.scale = Math.min(MAX_ZOOM, Math.max(1, scale));
    [view.x, view.y] = view.scale === 1 ? [0, 0] : [x, y];
    image.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.scale})`;
    stage.classList.toggle("zoomed", view.scale > 1);
    const pixels = image.naturalWidth ? (view.scale * image.offsetWidth) / image.naturalWidth : 0;
    zoomLevel.textContent = view.scale === 1 ? "fit" : `${Math.round(pixels * 100)}%`;
  }

  function local(clientX, clientY) {
    // A point relative to the image's untransformed layout box.
    const box = stage.getBoundingClientRect();
    return { x: clientX - box.left - image.offsetLeft, y: clientY - box.top - image.offsetTop };
  }

  function zoomAround(scale, point, from = view) {
    const next = Math.min(MAX_ZOOM, Math.max(1, scale));
    const ix = (point.x - from.x) / from.scale;
    const iy = (point.y - from.y) / from.scale;
    setView(next, point.x - ix * next, point.y - iy * next);
  }

  function actualSize() {
    if (!image.naturalWidth || !image.offsetWidth) return;
    const scale = image.naturalWidth / image.offsetWidth;
    zoomAround(scale, { x: image.offsetWidth / 2, y: image.offsetHeight / 2 }, { scale: 1, x: 0, y: 0 });
  }

  stage.addEventListener(
    "wheel",
    (event) => {
      event.preventDefault();
      zoomAround(view.scale * Math.exp(-event.deltaY * 0.002), local(event.clientX, event.clientY));
    },
    { passive: false },
  );

  stage.addEventListener("pointerdown", (event) => {
    if (event.target.closest("button")) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    stage.setPointerCapture(event.pointerId);
    gesture = pointers.size === 2 ? pinchStart() : drag(event.clientX, event.clientY, true);
    event.preventDefault();
  });

  function drag(x, y, maySwipe) {
    return { kind: "drag", from: { ...view }, x, y, maySwipe };
  }

  function pinchStart() {
    const [a, b] = pointers.values();
    const middle = local((a.x + b.x) / 2, (a.y + b.y) / 2);
    return { kind: "pinch", from: { ...view }, distance: Math.hypot(a.x - b.x, a.y - b.y) || 1, middle };
  }

  stage.addEventListener("pointermove", (event) => {
    if (!pointers.has(event.pointerId) || !gesture) return;
    pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
    if (gesture.kind === "pinch" && pointers.size === 2) {
      const [a, b] = pointers.values();
      const middle = local((a.x + b.x) / 2, (a.y + b.y) / 2);
      const scale = (gesture.from.scale * Math.hypot(a.x - b.x, a.y - b.y)) / gesture.distance;
      // The image point first under the fingers' middle follows the middle as it moves.
      const ix = (gesture.middle.x - gesture.from.x) / gesture.from.scale;
      const iy = (gesture.middle.y - gesture.from.y) / gesture.from.scale;
      const next = Math.min(MAX_ZOOM, Math.max(1, scale));
      setView(next, middle.x - ix * next, middle.y - iy * next);
    } else if (gesture.kind === "drag" && view.scale > 1) {
      setView(view.scale, gesture.from.x + event.clientX - gesture.x, gesture.from.y + event.clientY - gesture.y);
    }
  });

  function pointerEnd(event) {
    if (!pointers.delete(event.pointerId)) return;
    if (gesture?.maySwipe && gesture.from.scale === 1 && event.type === "pointerup") {
      const dx = event.clientX - gesture.x;
      const dy = event.clientY - gesture.y;
      if (Math.abs(dx) > SWIPE_PIXELS && Math.abs(dx) > 1.5 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
    }
    // Lifting one finger of a pinch leaves a plain drag of the other, never a swipe.
    const [rest] = pointers.values();
    gesture = rest ? drag(rest.x, rest.y, false) : null;
  }
  stage.addEventListener("pointerup", pointerEnd);
  stage.addEventListener("pointercancel", pointerEnd);
  image.addEventListener("dblclick", () => (view.scale > 1 ? setView(1, 0, 0) : actualSize()));

  // --- Favourite ---------------------------------------------------------------------------------

  function showFavourite(on) {
    favourite.setAttribute("aria-pressed", String(on));
    favourite.textContent = on ? "★ Favourite" : "☆ Favourite";
  }

  async function toggleFavourite() {
    const tile = current;
    const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
    favourite.disabled = true;
    try {
      const response = await fetch(url("favouriteUrl", tile.dataset.id), {
        method: "POST",
        headers: { "X-CSRFToken": csrf, "HX-Request": "true" },
      });
      if (!response.ok) throw new Error(String(response.status));
      // The answer is the detail page's favourite button, which says the state now stored.
      const html = new DOMParser().parseFromString(await response.text(), "text/html");
      const on = html.querySelector("[aria-pressed]")?.getAttribute("aria-pressed") === "true";
      if (on) tile.dataset.favourite = "";
      else delete tile.dataset.favourite;
      tile.querySelector(".fav")?.toggleAttribute("hidden", !on);
      if (tile === current) showFavourite(on);
    } catch {
      favourite.textContent = "Could not save: try again";
    } finally {
      favourite.disabled = false;
    }
  }

  // --- Wiring ------------------------------------------------------------------------------------

  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-tile] > a:first-child");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    show(link.parentElement);
  });

  // On the document: an arrow button that just became disabled drops the focus out of the dialog.
  document.addEventListener("keydown", (event) => {
    if (!dialog.open) return;
    if (event.key === "ArrowRight") step(1);
    if (event.key === "ArrowLeft") step(-1);
  });
  dialog.addEventListener("click", (event) => {
    const target = event.target;
    if (target === dialog || target.closest("[data-lightbox-close]")) dialog.close();
    else if (target.closest("[data-lightbox-step]")) step(Number(target.closest("[data-lightbox-step]").dataset.lightboxStep));
    else if (target.closest("[data-lightbox-favourite]")) toggleFavourite();
    else if (target.closest('[data-lightbox-zoom="fit"]')) setView(1, 0, 0);
    else if (target.closest('[data-lightbox-zoom="actual"]')) actualSize();
  });
  dialog.addEventListener("close", () => {
    current?.querySelector("a")?.focus();
  });
}

// "Copy prompt" buttons, here and on the detail page.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-prompt]");
  if (!button) return;
  const text = button.dataset.copyPrompt || document.querySelector("[data-lightbox-prompt]")?.textContent || "";
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed: select the text instead";
  }
  setTimeout(() => {
    button.textContent = "Copy prompt";
  }, 1500);
});
