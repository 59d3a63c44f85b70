// Site search from a page opened from disk (file://). The theme runs its search in a Web Worker, and browsers
// refuse to start one from a file:// page; the offline plugin provides the search index as a script. This
// file stands in for the Worker constructor on such pages only: the worker's script runs in a hidden frame of
// the page, and messages are copied both ways as a worker's would be. It is listed in mkdocs.yml under
// extra.polyfills, so that it loads before the theme's script, and its name tells the offline plugin that
// the site brings its own (the plugin would otherwise add one from another host).
(function () {
  "use strict";
  if (location.protocol !== "file:" || typeof window.structuredClone !== "function") return;

  function FrameWorker(url) {
    var worker = this;
    var listeners = [];
    var pending = [];
    var ready = false;
    var frame = document.createElement("iframe");
    frame.hidden = true;
    frame.tabIndex = -1;
    frame.setAttribute("aria-hidden", "true");
    frame.title = "search";
    (document.body || document.documentElement).appendChild(frame);
    var inner = frame.contentWindow;

    function toPage(data) {
      var event = new MessageEvent("message", { data: window.structuredClone(data) });
      if (typeof worker.onmessage === "function") worker.onmessage(event);
      listeners.slice().forEach(function (fn) { fn.call(worker, event); });
    }
    function toWorker(data) {
      inner.dispatchEvent(new inner.MessageEvent("message", { data: inner.structuredClone(data) }));
    }
    // Inside the frame, the script's postMessage(data) is the worker's: it reaches the page.
    inner.postMessage = function (data) { setTimeout(function () { toPage(data); }, 0); };

    var script = inner.document.createElement("script");
    script.src = new URL(url, location.href).href;
    script.onload = function () {
      ready = true;
      pending.splice(0).forEach(toWorker);
    };
    script.onerror = function (event) {
      if (typeof worker.onerror === "function") worker.onerror(event);
    };
    inner.document.head.appendChild(script);

    this.onmessage = null;
    this.onerror = null;
    this.postMessage = function (data) {
      if (ready) setTimeout(function () { toWorker(data); }, 0);
      else pending.push(data);
    };
    this.addEventListener = function (type, fn) {
      if (type === "message" && listeners.indexOf(fn) < 0) listeners.push(fn);
    };
    this.removeEventListener = function (type, fn) {
      var i = listeners.indexOf(fn);
      if (type === "message" && i >= 0) listeners.splice(i, 1);
    };
    this.terminate = function () { frame.remove(); };
  }
  window.Worker = FrameWorker;
})();
