// Figures wider than the screen scroll sideways in their box (.figure-scroll) rather than shrink below a
// legible size. Mark the boxes that do, so that the stylesheet shows a cue ("scroll sideways"), and make them
// reachable and scrollable with the keyboard, named after their figure.
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll(".figure-scroll").forEach(function (box) {
      var wide = box.scrollWidth > box.clientWidth + 1;
      box.classList.toggle("overflows", wide);
      if (wide) {
        var title = box.querySelector("svg title");
        box.tabIndex = 0;
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", (title ? title.textContent + ", " : "") + "scrolls sideways");
      } else if (box.hasAttribute("tabindex")) {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  mark();
  window.addEventListener("resize", mark);
})();
