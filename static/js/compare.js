// The comparison page: keys 1–6 vote for a column, the "Add models" search, and a full-size
// side-by-side viewer whose zoom and pan move every column together. Event delegation, because
// htmx swaps the columns and the vote panel in and out.

const MAX_ZOOM = 16;

function typing(target) {
  return target.closest?.("input, textarea, select, [contenteditable]") !== null;
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  if (document.querySelector(".viewer")) return; // the viewer has its own keys
  const button = document.querySelector(`#vote-panel [data-pick-key="${event.key}"]`);
  if (button && !button.disabled) {
    event.preventDefault();
    button.click();
  }
});

document.addEventListener("input", (event) => {
  if (!event.target.matches?.("[data-filter-checks]")) return;
  const words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
  for (const label of event.target.closest("fieldset").querySelectorAll("label")) {
    const text = label.textContent.toLowerCase();
    label.hidden = !words.every((word) => text.includes(word));
  }
});

// --- The viewer ------------------------------------------------------------------------------

class SyncedViewer {
  constructor(shots) {
    this.zoom = 1;
    this.x = 0; // pan, in fractions of a pane's size, so panes of any size stay in step
    this.y = 0;
    this.root = document.createElement("div");
    this.root.className = "viewer";
    this.root.setAttribute("role", "dialog");
    this.root.setAttribute("aria-modal", "true");
    this.root.setAttribute("aria-label", "Full size, side by side");
    this.root.innerHTML = `<div class="viewer-bar">
        <span>Scroll or +/− to zoom, drag to pan, 0 to reset, Esc to close.</span>
        <span><button type="button" data-zoom="in">+</button> <button type="button" data-zoom="out">−</button>
        <button type="button" data-zoom="reset">Reset</button> <button type="button" data-close>Close</button></span>
      </div><div class="viewer-panes"></div>`;
    const panes = this.root.querySelector(".viewer-panes");
    this.images = shots.map((shot) => {
      const pane = document.createElement("figure");
      pane.className = "viewer-pane";
      const img = document.createElement("img");
      img.src = shot.src;
      img.alt = shot.alt;
      img.draggable = false;
      const caption = document.createElement("figcaption");
      caption.textContent = shot.closest(".column").querySelector(".column-name").textContent;
      pane.append(img, caption);
      panes.append(pane);
      return img;
    });
    this.bind();
    document.body.append(this.root);
    this.root.querySelector("[data-close]").focus();
  }

  bind() {
    this.root.addEventListener("click", (event) => {
      const zoom = event.target.dataset?.zoom;
      if (zoom === "in") this.zoomBy(1.5);
      if (zoom === "out") this.zoomBy(1 / 1.5);
      if (zoom === "reset") this.reset();
      if (event.target.matches("[data-close]")) this.close();
    });
    this.root.addEventListener(
      "wheel",
      (event) => {
        if (!event.target.closest(".viewer-pane")) return;
        event.preventDefault();
        this.zoomBy(event.deltaY < 0 ? 1.2 : 1 / 1.2);
      },
      { passive: false },
    );
    this.root.addEventListener("pointerdown", (event) => {
      const pane = event.target.closest(".viewer-pane");
      if (!pane) return;
      pane.setPointerCapture(event.pointerId);
      const start = { x: event.clientX, y: event.clientY, panX: this.x, panY: this.y };
      const move = (e) => {
        this.x = start.panX + (e.clientX - start.x) / pane.clientWidth / this.zoom;
        this.y = start.panY + (e.clientY - start.y) / pane.clientHeight / this.zoom;
        this.apply();
      };
      const up = () => {
        pane.removeEventListener("pointermove", move);
        pane.removeEventListener("pointerup", up);
      };
      pane.addEventListener("pointermove", move);
      pane.addEventListener("pointerup", up);
    });
    this.onKey = (event) => {
      if (event.key === "Escape") this.close();
      else if (event.key === "+" || event.key === "=") this.zoomBy(1.5);
      else if (event.key === "-") this.zoomBy(1 / 1.5);
      else if (event.key === "0") this.reset();
      else return;
      event.preventDefault();
    };
    document.addEventListener("keydown", this.onKey);
  }

  zoomBy(factor) {
    this.zoom = Math.min(MAX_ZOOM, Math.max(1, this.zoom * factor));
    if (this.zoom === 1) this.x = this.y = 0;
    this.apply();
  }

  reset() {
    this.zoom = 1;
    this.x = this.y = 0;
    this.apply();
  }

  apply() {
    for (const img of this.images) {
      const pane = img.parentElement;
      const dx = this.x * pane.clientWidth;
      const dy = this.y * pane.clientHeight;
      img.style.transform = `scale(${this.zoom}) translate(${dx}px, ${dy}px)`;
    }
    this.root.dataset.zoom = this.zoom.toFixed(2);
  }

  close() {
    document.removeEventListener("keydown", this.onKey);
    this.root.remove();
    document.querySelector("[data-viewer-open]")?.focus();
  }
}

document.addEventListener("click", (event) => {
  if (!event.target.matches?.("[data-viewer-open]")) return;
  const shots = [...document.querySelectorAll(".column img.shot")];
  if (shots.length) new SyncedViewer(shots);
});

// --- Ranking ---------------------------------------------------------------------------------
// The list's order is the vote: dragging (or ↑) reorders it and rewrites the save button's value.

function saveOrder(list) {
  const columns = [...list.querySelectorAll("li")].map((li) => li.dataset.column);
  list.closest("details").querySelector("[data-rank-save]").value = `ranking:${columns.join(",")}`;
}

let dragged = null;

document.addEventListener("dragstart", (event) => {
  dragged = event.target.closest?.("[data-rank-list] li") ?? null;
  if (dragged) event.dataTransfer.effectAllowed = "move";
});

document.addEventListener("dragover", (event) => {
  const over = event.target.closest?.("[data-rank-list] li");
  if (!dragged || !over || over === dragged || over.parentElement !== dragged.parentElement) return;
  event.preventDefault();
  const below = event.clientY > over.getBoundingClientRect().top + over.offsetHeight / 2;
  over.parentElement.insertBefore(dragged, below ? over.nextSibling : over);
  saveOrder(over.parentElement);
});

document.addEventListener("dragend", () => {
  dragged = null;
});

document.addEventListener("click", (event) => {
  if (!event.target.matches?.("[data-rank-up]")) return;
  const item = event.target.closest("li");
  if (item.previousElementSibling) item.parentElement.insertBefore(item, item.previousElementSibling);
  saveOrder(item.parentElement);
  event.target.focus();
});
