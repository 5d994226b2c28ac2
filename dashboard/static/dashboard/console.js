// Console behaviour without a framework: uploads with progress, usage charts.
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Uploads: send the form with XMLHttpRequest so the progress bar moves; reload when done.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-upload]")) return;
    var fileInput = form.querySelector("input[type=file]");
    if (!fileInput || !fileInput.files.length) return;
    event.preventDefault();
    var bar = form.querySelector("progress");
    var status = form.querySelector("[data-upload-status]");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action") || window.location.href);  // form.action may be the input named "action"
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("X-CSRFToken", csrfToken());
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable && bar) { bar.max = e.total; bar.value = e.loaded; }
      if (status) status.textContent = "Uploading… " + Math.round((100 * e.loaded) / (e.total || 1)) + "%";
    });
    xhr.addEventListener("load", function () {
      if (xhr.status === 201) {
        if (status) status.textContent = "Uploaded.";
        window.location.reload();
        return;
      }
      var message = "Upload failed (" + xhr.status + ").";
      try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* keep the status line */ }
      if (status) { status.textContent = message; status.className = "error"; }
    });
    xhr.addEventListener("error", function () { if (status) { status.textContent = "Network error."; status.className = "error"; } });
    xhr.send(new FormData(form));
  });

  // Usage charts: one line chart per metric, from the page's JSON endpoint.
  function drawCharts() {
    var holder = document.querySelector("[data-usage-url]");
    if (!holder || typeof Chart === "undefined") return;
    fetch(holder.getAttribute("data-usage-url"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        data.series.forEach(function (series) {
          var canvas = document.getElementById("chart-" + series.metric);
          if (!canvas) return;
          var chart = new Chart(canvas, {
            type: "line",
            data: {
              labels: data.labels.map(function (l) { return data.range === "1h" ? l.slice(11, 16) : l.slice(5, 16).replace("T", " "); }),
              datasets: [{ label: series.label, data: series.values, borderColor: "#3b5bdb", backgroundColor: "rgba(59,91,219,.35)", fill: true, tension: 0.2, pointRadius: 0 }],
            },
            options: {
              animation: false, maintainAspectRatio: false, plugins: { legend: { display: false } },
              scales: { x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
            },
          });
          var total = document.querySelector('[data-total-for="' + series.metric + '"]');
          if (total && series.metric !== "storage_bytes") total.textContent = String(series.total);
          canvas.setAttribute("data-points", String(series.values.length));
          canvas.setAttribute("data-total", String(series.total));
          canvas.chart = chart;
        });
        holder.setAttribute("data-ready", "true");
      });
  }
  document.addEventListener("DOMContentLoaded", drawCharts);
})();
