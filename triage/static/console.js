// Live console: server-sent events say "a red contact arrived" or "the queue changed";
// the page announces the first (role=alert) and refreshes the queue table for both.
// No contact details travel over this channel, and nothing here is needed to use the console.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.hasAttribute && target.hasAttribute("data-print")) {
      window.print();
    }
  });
  if (!document.body || document.body.getAttribute("data-live") !== "1" || !window.EventSource) {
    return;
  }
  var table = document.querySelector("table[data-rows-url]");
  var pending = null;
  function refreshRows() {
    if (!table) { return; }
    if (pending) { clearTimeout(pending); }
    pending = setTimeout(function () {
      pending = null;
      fetch(table.getAttribute("data-rows-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var body = document.getElementById("queue-rows");
          var holder = document.createElement("tbody");
          holder.innerHTML = html; // server-rendered and autoescaped
          body.replaceWith(holder);
          holder.id = "queue-rows";
        })
        .catch(function () {});
    }, 300);
  }
  var source = new EventSource("/console/events");
  source.addEventListener("red", function (event) {
    var data = {};
    try { data = JSON.parse(event.data); } catch (e) { return; }
    var box = document.getElementById("live-alert");
    box.textContent = "";
    var text = document.createTextNode(
      "RED contact " + data.reference + " (" + data.urgency + ") — locality: " + data.locality +
      ", language: " + data.language + ". ");
    var link = document.createElement("a");
    link.href = "/console/";
    link.textContent = "Go to the queue";
    box.appendChild(text);
    box.appendChild(link);
    box.hidden = false;
    refreshRows();
  });
  source.addEventListener("queue", refreshRows);
})();
