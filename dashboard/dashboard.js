// The operator dashboard's only script. The pages work without it; it adds:
// - "/" moves the focus to the search field (when the page has one), as on many sites;
// - a page marked data-reload-while-pending reloads every 2 s while a delivery is pending,
//   so a resent event's new attempt appears without pressing reload;
// - buttons that change something ask for confirmation first.
"use strict";

document.addEventListener("keydown", (event) => {
  if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  const search = document.querySelector('input[type="search"]');
  if (search) {
    event.preventDefault();
    search.focus();
  }
});

if (document.querySelector("[data-reload-while-pending]")) {
  setTimeout(() => window.location.reload(), 2000);
}

for (const form of document.querySelectorAll('form[action$="/recover"]')) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm("Re-enable this endpoint and queue its failed deliveries again?")) {
      event.preventDefault();
    }
  });
}
