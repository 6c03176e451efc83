// Progressive enhancement only: every page works without this file.
"use strict";
(function () {
  // Copy buttons next to read-only fields (pull commands, a new token).
  function enableCopyButtons(root) {
    root.querySelectorAll("button.copy[data-copy-target]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy-target"));
        if (!field) { return; }
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () {
            field.select(); document.execCommand("copy"); done();
          });
        } else {
          field.select(); document.execCommand("copy"); done();
        }
      });
    });
  }

  // The cleanup preview: re-plan as the parameters change and show the result in place.
  function enableLivePreview() {
    var form = document.getElementById("cleanup-form");
    var target = document.getElementById("preview");
    if (!form || !target) { return; }
    var timer = null;
    var sequence = 0;
    // Busy from the first keystroke until the plan for the form as it now reads is shown, so
    // that assistive technology (and a test) waits instead of reading a plan being replaced.
    var settle = function (mine) {
      if (mine === sequence && timer === null) { target.removeAttribute("aria-busy"); }
    };
    var refresh = function () {
      timer = null;
      var mine = ++sequence;
      fetch(form.getAttribute("data-preview-url"), {
        method: "POST",
        body: new FormData(form),
        headers: { "X-Preview-Fragment": "1" },
        credentials: "same-origin"
      }).then(function (response) { return response.text(); }).then(function (html) {
        if (mine !== sequence) { return; }
        // The server's own autoescaped HTML; nothing from the page is pasted in.
        target.innerHTML = html;
      }).then(function () { settle(mine); }, function () { settle(mine); });
    };
    form.addEventListener("input", function () {
      clearTimeout(timer);
      target.setAttribute("aria-busy", "true");
      timer = setTimeout(refresh, 400);
    });
  }

  // A running job's page reloads itself (a <meta refresh> does the same without script;
  // this keeps the scroll position and focus).
  function enableJobPolling() {
    var panel = document.getElementById("job-progress");
    if (!panel || panel.getAttribute("data-running") !== "true") { return; }
    var poll = function () {
      fetch(panel.getAttribute("data-fragment-url"), { credentials: "same-origin" })
        .then(function (response) { return response.text(); })
        .then(function (html) {
          panel.innerHTML = html;
          var state = panel.querySelector("[data-state]");
          if (state && (state.getAttribute("data-state") === "queued" ||
                        state.getAttribute("data-state") === "running")) {
            setTimeout(poll, 1000);
          } else {
            panel.setAttribute("data-running", "false");
          }
        });
    };
    setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    enableCopyButtons(document);
    enableLivePreview();
    enableJobPolling();
  });
})();
