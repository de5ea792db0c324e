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

  // A page's streams close when the browser leaves it (pagehide) and open again if it comes
  // back from the back/forward cache: a left page that kept its streams would hold the
  // browser's few connections to this host (six over HTTP/1.1), and the next page's
  // requests would wait for one.
  function whileShown(open, close) {
    window.addEventListener("pagehide", close);
    window.addEventListener("pageshow", function (event) { if (event.persisted) open(); });
    open();
  }

  function follow() {
    if (!window.EventSource || !document.body.hasAttribute("hx-headers")) return;
    var warn = document.getElementById("stream-banner");
    var operation = document.getElementById("operation");
    var mine = operation ? operation.getAttribute("data-operation") : null;
    var stream = null;
    whileShown(function () {
      stream = new EventSource("/controller/events");
      stream.onopen = function () { if (warn) warn.hidden = true; };
      stream.onerror = function () { if (warn) warn.hidden = false; };
      ["deploy_status", "build_event", "health_event", "metric_event"].forEach(function (kind) {
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
    }, function () { if (stream) stream.close(); });
  }

  // The Metrics tab: figures from GET /controller/metrics/{agent}, drawn with uPlot.
  var CHARTS = {
    latency: [["p50_ms", "p50", "#7cb8ff"], ["p95_ms", "p95", "#f2c14e"]],
    requests: [["requests", "requests", "#5fd38d"], ["errors", "errors", "#ff7b7b"]],
    tokens: [["tokens_input", "input", "#7cb8ff"], ["tokens_output", "output", "#c792ea"]],
    cost: [["cost_usd", "USD", "#f2c14e"]],
    policy: [["policy_violations", "violations", "#ff7b7b"]]
  };
  var drawn = [];

  function percent(value) { return (value * 100).toFixed(1) + "%"; }
  function ms(value) { return value === null ? "—" : value.toFixed(value >= 10 ? 0 : 1) + " ms"; }

  function totals(data) {
    var set = function (name, text) {
      var cell = document.querySelector('#metrics-totals [data-total="' + name + '"]');
      if (cell) cell.textContent = text;
    };
    set("requests", String(data.requests));
    set("error_rate", data.requests ? percent(data.error_rate) : "—");
    set("p50", ms(data.latency_ms.p50));
    set("p95", ms(data.latency_ms.p95));
    set("tokens", data.tokens.input + " / " + data.tokens.output);
    set("cost", data.cost_usd === null ? "—" : "$" + data.cost_usd.toFixed(4));
    set("violations", String(data.policy_violations));
  }

  function draw(data) {
    drawn.forEach(function (plot) { plot.destroy(); });
    drawn = [];
    if (!window.uPlot) return;
    // Every chart of the page: the Metrics tab's and the Policies tab's violations trend.
    document.querySelectorAll("[data-chart]").forEach(function (box) {
      var lines = CHARTS[box.getAttribute("data-chart")] || [];
      var series = [{}];
      var columns = [data.series.t];
      lines.forEach(function (line) {
        // Points shown too: a slice with runs between empty ones is a lone point, no line.
        series.push({
          label: line[1], stroke: line[2], width: 1.5, spanGaps: false,
          points: { show: true, size: 4, fill: line[2] }
        });
        columns.push(data.series[line[0]]);
      });
      var axis = { stroke: "#a3adba", grid: { stroke: "#2a313b" }, ticks: { stroke: "#2a313b" } };
      drawn.push(new window.uPlot({
        width: Math.max(box.clientWidth, 320), height: 180, series: series,
        axes: [axis, axis], cursor: { drag: { x: false, y: false } }
      }, columns, box));
    });
  }

  function metrics() {
    var menu = document.getElementById("metrics-window");
    if (!menu) return;
    var load = function () {
      var url = menu.getAttribute("data-metrics-url") + "?window=" + encodeURIComponent(menu.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (answer) {
          if (!answer.ok) throw new Error("HTTP " + answer.status);
          return answer.json();
        })
        .then(function (data) { totals(data); draw(data); })
        .catch(function (error) { banner("Metrics could not be read (" + error.message + ")"); });
    };
    menu.addEventListener("change", load);
    load();
  }

  // The Logs tab: the runtime's last lines, then each new one as it is written (SSE from
  // GET /controller/logs/{agent}/follow), at the chosen level or above. A lost connection
  // starts again from the tail after 3 s (EventSource's own retry would repeat the tail).
  var LOG_LINES = 2000;

  function logs() {
    var box = document.getElementById("log-lines");
    var menu = document.getElementById("log-level");
    var state = document.getElementById("log-state");
    if (!box || !menu || !window.EventSource) return;
    var source = null;
    var retry = null;
    var say = function (text) { if (state) state.textContent = text; };
    var open = function () {
      if (source) source.close();
      clearTimeout(retry);
      box.textContent = "";
      var url = box.getAttribute("data-follow-url") + "?tail=200";
      if (menu.value) url += "&level=" + encodeURIComponent(menu.value);
      source = new EventSource(url);
      say("Following the log…");
      source.addEventListener("line", function (message) {
        var data = {};
        try { data = JSON.parse(message.data); } catch (ignored) { return; }
        var bottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
        box.appendChild(document.createTextNode(data.line + "\n"));
        while (box.childNodes.length > LOG_LINES) box.removeChild(box.firstChild);
        if (bottom) box.scrollTop = box.scrollHeight;
      });
      source.addEventListener("end", function () {
        source.close();
        say("The runtime stopped: the log ends here.");
      });
      source.addEventListener("log_error", function () {
        source.close();
        say("The log could not be read further.");
      });
      source.onerror = function () {
        source.close();
        say("The log stream was interrupted; following again in 3 s…");
        retry = setTimeout(open, 3000);
      };
    };
    menu.addEventListener("change", open);
    whileShown(open, function () {
      clearTimeout(retry);
      if (source) source.close();
    });
  }

  function ready() {
    follow();
    metrics();
    logs();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
