// The dashboard's only script (the Content-Security-Policy allows no inline script).
// It follows the control plane's event stream, tells htmx to refresh what changed, shows
// errors of htmx requests, and copies text. Everything shown is set with textContent.
(function () {
  "use strict";

  function banner(text) {
    var box = document.getElementById("action-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "action-error";
      box.className = "banner error";
      box.setAttribute("role", "alert");
      var main = document.getElementById("main");
      main.insertBefore(box, main.firstChild);
    }
    box.textContent = text;
  }

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var text = "Request failed (HTTP " + xhr.status + ")";
    try {
      var body = JSON.parse(xhr.responseText);
      if (body && body.detail) {
        text = body.error + ": " + body.detail;
      }
    } catch (ignored) {}
    banner(text);
  });

  document.addEventListener("htmx:sendError", function () {
    banner("The control plane did not answer (network error); try again.");
  });
  document.addEventListener("htmx:timeout", function () {
    banner("The control plane did not answer in 20 s; try again.");
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (source && navigator.clipboard) {
      navigator.clipboard.writeText(source.textContent).then(function () {
        button.textContent = "Copied";
      });
    }
  });

  function follow() {
    if (!window.EventSource || !document.body.hasAttribute("hx-headers")) return;
    var stream = new EventSource("/controller/events");
    var warn = document.getElementById("stream-banner");
    stream.onopen = function () { if (warn) warn.hidden = true; };
    stream.onerror = function () { if (warn) warn.hidden = false; };
    var operation = document.getElementById("operation");
    var mine = operation ? operation.getAttribute("data-operation") : null;
    ["deploy_status", "build_event", "health_event"].forEach(function (kind) {
      stream.addEventListener(kind, function (message) {
        var data = {};
        try { data = JSON.parse(message.data); } catch (ignored) {}
        if (mine && data.operation_id === mine) {
          document.body.dispatchEvent(new CustomEvent("agentdock:op"));
        }
        if (kind !== "build_event") {
          document.body.dispatchEvent(new CustomEvent("agentdock:changed"));
        }
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", follow);
  } else {
    follow();
  }
})();
