// Copy buttons: any element with data-copy copies its value, or the value of the
// input named by data-copy-target, and says so briefly.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy], [data-copy-target]");
  if (!button) return;
  let text = button.dataset.copy;
  if (button.dataset.copyTarget) {
    const target = document.querySelector(button.dataset.copyTarget);
    text = target ? (target.value ?? target.textContent) : "";
  }
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    return; // clipboard refused (plain http on another host): the text stays selectable
  }
  const icon = button.querySelector("i");
  if (!icon) return;
  const previous = icon.className;
  icon.className = "bi bi-check2";
  setTimeout(() => { icon.className = previous; }, 1200);
});
