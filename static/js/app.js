// Page-wide behaviours: keyboard submit, PNG drop-to-import, confirmations. Event delegation,
// because htmx replaces the forms these act on.

document.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    const form = event.target.closest?.("form[data-ctrl-enter]") ?? document.querySelector("form[data-ctrl-enter]");
    if (form) {
      event.preventDefault();
      form.requestSubmit();
    }
  }
});

document.addEventListener("dragover", (event) => {
  const panel = event.target.closest?.("#job-form");
  if (panel && event.dataTransfer?.types.includes("Files")) {
    event.preventDefault();
    panel.classList.add("dropping");
  }
});

document.addEventListener("dragleave", (event) => {
  event.target.closest?.("#job-form")?.classList.remove("dropping");
});

document.addEventListener("drop", (event) => {
  const panel = event.target.closest?.("#job-form");
  const file = event.dataTransfer?.files?.[0];
  if (!panel || !file) return;
  event.preventDefault();
  panel.classList.remove("dropping");
  const form = panel.querySelector("form[data-drop-import]");
  const input = form.querySelector("input[type=file]");
  const files = new DataTransfer();
  files.items.add(file);
  input.files = files.files;
  form.requestSubmit();
});

document.addEventListener("submit", (event) => {
  const message = event.target.dataset?.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

document.addEventListener("focusin", (event) => {
  if (event.target.matches?.("[data-select-on-focus]")) event.target.select();
});

document.addEventListener("change", (event) => {
  if (event.target.matches?.("[data-autosubmit]")) event.target.form.requestSubmit();
});

// Where the job list stacks under the form (phones, narrow windows), a new job's card would
// appear out of sight: bring it into view, so Generate visibly did something.
document.addEventListener("htmx:afterSwap", (event) => {
  const list = event.detail.target;
  if (list?.id !== "jobs" || !window.matchMedia("(max-width: 860px)").matches) return;
  list.querySelector(".job-card")?.scrollIntoView({ behavior: "smooth", block: "start" });
});
