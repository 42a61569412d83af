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
  // "Use my location": fills the latitude and longitude fields from the phone's GPS.
  document.querySelectorAll('[data-gps]').forEach(function (btn) {
    var ids = btn.getAttribute('data-gps').split(',');
    var lat = document.getElementById(ids[0]), lon = document.getElementById(ids[1]);
    var status = document.getElementById(ids[2]);
    if (!('geolocation' in navigator)) { btn.hidden = true; return; }
    btn.addEventListener('click', function () {
      if (status) status.textContent = '…';
      navigator.geolocation.getCurrentPosition(function (p) {
        lat.value = p.coords.latitude.toFixed(6);
        lon.value = p.coords.longitude.toFixed(6);
        if (status) status.textContent = lat.value + ', ' + lon.value + ' (±' + Math.round(p.coords.accuracy) + ' m)';
      }, function (e) {
        if (status) status.textContent = e.message;
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  });
  document.querySelectorAll('[data-print]').forEach(function (b) {
    b.addEventListener('click', function () { window.print(); });
  });
  // A chosen file fills a text box (CSV imports post text, so they work without this too).
  document.querySelectorAll('input[type=file][data-fill]').forEach(function (input) {
    input.addEventListener('change', function () {
      var f = input.files && input.files[0];
      var box = document.getElementById(input.getAttribute('data-fill'));
      if (!f || !box || !f.text) return;
      f.text().then(function (t) { box.value = t; });
    });
  });
})();
