// «Копировать» beside a record id: puts the id on the clipboard and says so (the id itself is
// also selectable with one click, for browsers without the clipboard API).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    button.textContent = "Скопировано";
  });
});
