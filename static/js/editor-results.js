// Editor results on the canvas: when a job run from this editor finishes, its image is laid over
// the source with a before/after slider; Accept makes it the image the next edit starts from
// (iterate without leaving the editor), Discard goes back to the source as it was. Clicking a
// result's thumbnail in the list shows that one instead (Ctrl/Cmd-click still opens its page).

const root = document.querySelector("[data-editor]");
if (root) start(root);

function start(root) {
  const $ = (selector) => root.querySelector(selector);
  const jobs = document.getElementById("edit-jobs");
  const result = $("[data-result-image]");
  const line = $("[data-split-line]");
  const bar = $("[data-result-bar]");
  const split = $("[data-result-split]");
  const label = $("[data-result-label]");
  const form = document.getElementById("edit-form");
  const waiting = new Set(); // ids of job cards sent from this page and not yet shown
  let shown = null;

  const url = (pattern, id) => root.dataset[pattern].replace("{}", id);
  const detailPattern = new RegExp(`^${root.dataset.detailUrl.replace("{}", "(\\d+)")}$`);
  const imageId = (link) => new URL(link.href, location.href).pathname.match(detailPattern)?.[1];

  function show(id) {
    shown = id;
    result.src = url("fileUrl", id);
    result.hidden = line.hidden = bar.hidden = false;
    label.textContent = `Result: image ${id}`;
    setSplit();
    // On a phone the form is below the canvas: bring the canvas back into view.
    $("[data-viewport]").scrollIntoView({ block: "nearest" });
  }

  function hide() {
    shown = null;
    result.hidden = line.hidden = bar.hidden = true;
    result.removeAttribute("src");
  }

  function setSplit() {
    // Left of the split: the source (with its mask); right of it: the result.
    const at = Number(split.value);
    result.style.clipPath = `inset(0 0 0 ${at}%)`;
    line.style.left = `${at}%`;
  }

  function accept() {
    const id = shown;
    form.querySelector("[name=source]").value = id;
    document.getElementById("editor-title").textContent = `Edit image ${id}`;
    const note = $("[data-source-note]");
    note.textContent = "From ";
    const link = note.appendChild(document.createElement("a"));
    link.href = url("detailUrl", id);
    link.textContent = `image ${id}`;
    note.append(", the result you accepted.");
    history.replaceState(null, "", url("editorUrl", id) + location.search);
    root.dispatchEvent(new CustomEvent("editor:open", { detail: { url: url("fileUrl", id) } }));
  }

  function finished() {
    for (const id of [...waiting]) {
      const link = document.getElementById(id)?.querySelector("a[href] img")?.closest("a");
      const image = link && imageId(link);
      if (image) {
        waiting.delete(id);
        show(image);
      }
    }
  }

  document.body.addEventListener("htmx:afterSwap", (event) => {
    if (event.detail.target !== jobs) return;
    const card = jobs.querySelector(".job-card");
    if (card?.id) waiting.add(card.id);
    finished();
  });
  // Cards poll and replace themselves: watch the list for the one that brings images.
  new MutationObserver(finished).observe(jobs, { childList: true, subtree: true });

  jobs.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    const image = link && link.querySelector("img") && imageId(link);
    if (!image || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    show(image);
  });

  split.addEventListener("input", setSplit);
  bar.addEventListener("click", (event) => {
    const action = event.target.closest("[data-result-action]")?.dataset.resultAction;
    if (action === "accept") accept();
    if (action === "discard") hide();
  });
  root.addEventListener("editor:loaded", hide);
}
