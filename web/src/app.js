// Balaikota: small enhancements only; every page works without this script.
(function () {
  // Registers the service worker (offline shell).
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js').catch(function () {});
  }
  // Live audit log: prepend new entries sent by the server.
  var live = document.querySelector('[data-live-audit]');
  if (live && 'EventSource' in window) {
    var es = new EventSource(live.getAttribute('data-live-audit'));
    es.onmessage = function (msg) {
      try {
        var e = JSON.parse(msg.data);
        var tr = document.createElement('tr');
        [e.time, e.actor, e.action, e.subject].forEach(function (v) {
          var td = document.createElement('td'); td.textContent = v; tr.appendChild(td);
        });
        live.insertBefore(tr, live.firstChild);
      } catch (err) {}
    };
  }
})();
