// Imports page: follow a running import by polling its progress (no inline script, for the CSP).
(function () {
  "use strict";
  var box = document.getElementById("ccd-import-progress");
  if (!box || box.getAttribute("data-finished") === "true") {
    return;
  }
  var bar = box.querySelector("progress");
  var status = box.querySelector("[data-role=status]");

  function poll() {
    fetch(box.getAttribute("data-progress-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        if (data.total) {
          bar.max = data.total;
          bar.value = data.done;
        }
        bar.textContent = data.percent + "%";
        status.textContent = data.message;
        if (data.finished) {
          window.location.reload();
        } else {
          window.setTimeout(poll, 1500);
        }
      })
      .catch(function () {
        window.setTimeout(poll, 5000);
      });
  }

  window.setTimeout(poll, 1000);
})();
