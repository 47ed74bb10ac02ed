// Gallery selection: shift-click a box to select the range from the last one clicked, Ctrl/Cmd+A
// selects every tile on the page, Esc clears; the bulk bar says how many are selected. The boxes
// are plain checkboxes in the bulk form, so selecting works without JavaScript too.

const form = document.getElementById("bulk-form");
if (form) start(form);

function start(form) {
  const count = form.querySelector("[data-selected-count]");
  const none = form.querySelector("[data-select-none]");
  let anchor = null;

  const boxes = () => [...document.querySelectorAll('[data-tile] input[name="ids"]')];

  function update() {
    const selected = boxes().filter((box) => box.checked).length;
    count.textContent = `${selected} selected`;
    none.hidden = selected === 0;
  }

  document.addEventListener("click", (event) => {
    const box = event.target.closest?.('[data-tile] input[name="ids"]');
    if (!box) return;
    if (event.shiftKey && anchor && anchor !== box && anchor.isConnected) {
      const all = boxes();
      const [from, to] = [all.indexOf(anchor), all.indexOf(box)].sort((a, b) => a - b);
      for (const other of all.slice(from, to + 1)) other.checked = box.checked;
    }
    anchor = box;
    update();
  });
  document.addEventListener("change", (event) => {
    if (event.target.matches?.('[data-tile] input[name="ids"]')) update();
  });

  document.addEventListener("keydown", (event) => {
    if (event.target.closest?.("input:not([type=checkbox]), textarea, select, [contenteditable]")) return;
    if (document.querySelector("dialog[open]")) return;
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "a") {
      event.preventDefault();
      for (const box of boxes()) box.checked = true;
      update();
    } else if (event.key === "Escape") {
      clear();
    }
  });

  function clear() {
    for (const box of boxes()) box.checked = false;
    anchor = null;
    update();
  }
  none.addEventListener("click", clear);
  update();
}
