(function () {
  "use strict";
  var body = document.body;
  var state = body.getAttribute("data-state");
  var session = body.getAttribute("data-session");
  var attempt = body.getAttribute("data-attempt") || "";
  var page = "/checkout/" + session;
  var closed = { paid: 1, expired: 1, cancelled: 1, failed: 1 };

  function check() {
    fetch(page + "/status", { cache: "no-store", credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (s) {
        var changed = closed[s.state] ||
          (state === "pay" && (s.state !== "pay" || (s.attempt || "") !== attempt));
        if (changed) { location.replace(page); }
      })
      .catch(function () {});
  }
  if (state === "pay" || state === "choose") { setInterval(check, 3000); }

  var deadline = document.querySelector("[data-deadline]");
  if (deadline) {
    var end = Date.parse(deadline.getAttribute("data-deadline"));
    var left = deadline.querySelector(".left");
    var tick = function () {
      var s = Math.max(0, Math.round((end - Date.now()) / 1000));
      left.textContent = Math.floor(s / 60) + ":" + ("0" + (s % 60)).slice(-2);
      left.parentNode.hidden = false;
      if (s === 0) { check(); }
    };
    tick();
    setInterval(tick, 1000);
  }

  var buttons = document.querySelectorAll("[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    (function (b) {
      if (!navigator.clipboard) { return; }
      b.hidden = false;
      b.addEventListener("click", function () {
        navigator.clipboard.writeText(b.getAttribute("data-copy")).then(function () {
          b.textContent = b.getAttribute("data-done");
        });
      });
    })(buttons[i]);
  }
})();
