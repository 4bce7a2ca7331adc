// «Копировать» beside a record id: puts the id on the clipboard and says so (the id itself is
// also selectable with one click, for browsers without the clipboard API). Buttons marked
// hidden are shown only where the clipboard is there to be used, also in parts htmx swaps in.
// Once per page: htmx runs this file again when a swapped-in main carries its script tag.
(() => {
  if (window.nastavnikCopy) return;
  window.nastavnikCopy = true;
  const reveal = (root) => {
    root.querySelectorAll("button[data-copy][hidden]").forEach((b) => { b.hidden = false; });
  };
  if (navigator.clipboard) {
    reveal(document);
    document.addEventListener("htmx:load", (event) => reveal(event.target));
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.dataset.copy).then(() => {
      // The first word only: a screen reader's hidden rest of the name stays.
      button.firstChild.nodeValue = "Скопировано";
    });
  });
})();
