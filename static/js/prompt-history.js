// Prompt history in the studio: pick a past prompt from the list (searchable, served by the
// server), or press ↑ in an empty prompt box to bring back the last one.

let lastPrompt = "";

function remember() {
  const box = document.querySelector(".prompt-box[data-last-prompt]");
  if (box?.dataset.lastPrompt) lastPrompt = box.dataset.lastPrompt;
}

function putBack(textarea, prompt) {
  textarea.value = prompt;
  textarea.focus();
  textarea.setSelectionRange(prompt.length, prompt.length);
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
}

remember();
// The form is redrawn after each submit, carrying the prompt just sent.
document.body.addEventListener("htmx:afterSettle", remember);

document.addEventListener("keydown", (event) => {
  const textarea = event.target;
  if (event.key !== "ArrowUp" || !textarea.matches?.(".prompt-box textarea") || textarea.value !== "") return;
  if (!lastPrompt) return;
  event.preventDefault();
  putBack(textarea, lastPrompt);
});

document.addEventListener("click", (event) => {
  const button = event.target.closest?.("[data-use-prompt]");
  if (!button) return;
  const box = button.closest(".prompt-box");
  putBack(box.querySelector("textarea"), button.dataset.usePrompt);
  box.querySelector("details").open = false;
});
