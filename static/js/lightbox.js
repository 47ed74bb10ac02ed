// Gallery lightbox: click a tile to see it large; ← → browse the tiles on the page; Esc closes.
// Ctrl/Cmd/Shift-click still opens the detail page; without JavaScript tiles are plain links.

const dialog = document.querySelector("[data-lightbox]");
if (dialog) start(dialog);

function start(dialog) {
  const image = dialog.querySelector("[data-lightbox-image]");
  const prompt = dialog.querySelector("[data-lightbox-prompt]");
  const meta = dialog.querySelector("[data-lightbox-meta]");
  const links = {
    reuse: dialog.querySelector("[data-lightbox-reuse]"),
    edit: dialog.querySelector("[data-lightbox-edit]"),
    detail: dialog.querySelector("[data-lightbox-detail]"),
  };
  let current = null;

  // The page gives URL patterns with {} for the image id, so tiles carry only their id.
  const url = (pattern, id) => dialog.dataset[pattern].replace("{}", id);

  function show(tile) {
    current = tile;
    const id = tile.dataset.id;
    const thumbnail = tile.querySelector("img");
    image.src = url("fileUrl", id);
    image.alt = thumbnail.alt;
    prompt.textContent = thumbnail.alt;
    meta.textContent = tile.querySelector(".tile-meta").textContent.trim();
    links.reuse.href = url("reuseUrl", id);
    links.edit.href = url("editUrl", id);
    links.detail.href = url("detailUrl", id);
    if (!dialog.open) dialog.showModal();
  }

  function step(offset) {
    const tiles = [...document.querySelectorAll("[data-tile]")];
    const next = tiles[tiles.indexOf(current) + offset];
    if (next) {
      show(next);
      next.scrollIntoView({ block: "nearest" });
    }
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest("[data-tile] > a:first-child");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    show(link.parentElement);
  });

  dialog.addEventListener("keydown", (event) => {
    if (event.key === "ArrowRight") step(1);
    if (event.key === "ArrowLeft") step(-1);
  });
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog || event.target.closest("[data-lightbox-close]")) dialog.close();
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
