// Gallery tiles in justified rows: each tile grows in proportion to its aspect ratio, so every row
// fills the width at one height and no image is cropped. This only hands each tile its ratio (from
// the thumbnail's width and height attributes); app.css does the layout. Without JavaScript the
// tiles sit in rows of one height with a ragged right edge, still uncropped.

function size(tiles) {
  for (const tile of tiles) {
    const img = tile.querySelector("img");
    const ratio = Number(img?.getAttribute("width")) / Number(img?.getAttribute("height"));
    if (Number.isFinite(ratio) && ratio > 0) {
      tile.style.setProperty("--ratio", ratio.toFixed(4));
      tile.classList.add("sized");
    }
  }
}

size(document.querySelectorAll("[data-tile]"));
// Infinite scroll and filters swap in new tiles.
document.body.addEventListener("htmx:afterSwap", () => size(document.querySelectorAll("[data-tile]:not(.sized)")));
