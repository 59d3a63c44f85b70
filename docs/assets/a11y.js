// The theme's search overlay is a dialog without an accessible name; screen readers announce it as
// "dialog" only. Give it one. (Reported by axe-core's aria-dialog-name rule.)
document.querySelectorAll(".md-search[role='dialog']").forEach(function (el) {
  if (!el.hasAttribute("aria-label")) el.setAttribute("aria-label", "Search this review");
});
