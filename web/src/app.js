// Balaikota: small enhancements only; every page works without this script.
(function () {
  // Filters folded away on a phone, so the list comes first, stand open on a desk's screen.
  if (window.matchMedia && window.matchMedia('(min-width: 720px)').matches) {
    document.querySelectorAll('details[data-wide-open]').forEach(function (d) { d.open = true; });
  }
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
        document.dispatchEvent(new Event('gps-filled'));
      }, function (e) {
        if (status) status.textContent = e.message;
      }, { enableHighAccuracy: true, timeout: 15000 });
    });
  });
  // A second tap while a form is on its way does not send it again (a slow network invites
  // it, and a report would be filed twice). Coming back to the page (back button) frees it.
  document.addEventListener('submit', function (e) {
    var f = e.target;
    if (!f || (f.getAttribute('method') || '').toLowerCase() !== 'post') return;
    if (f.hasAttribute('data-sending')) { e.preventDefault(); return; }
    f.setAttribute('data-sending', '1');
  });
  window.addEventListener('pageshow', function () {
    document.querySelectorAll('form[data-sending]').forEach(function (f) { f.removeAttribute('data-sending'); });
  });
  // Photos are shrunk on the phone before they are sent (the server keeps at most 2048 px a
  // side anyway): a 4 MB camera photo becomes a few hundred KB, which matters on 3G, and three
  // of them fit in one request. Where the browser cannot, the original goes as it is.
  var MAX_SIDE = 2048;
  var shrink = function (file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || file.size < 400 * 1024) return Promise.resolve(file);
    return createImageBitmap(file, { imageOrientation: 'from-image' }).then(function (bmp) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
      var c = document.createElement('canvas');
      c.width = Math.round(bmp.width * scale);
      c.height = Math.round(bmp.height * scale);
      var g = c.getContext('2d');
      g.fillStyle = '#fff';
      g.fillRect(0, 0, c.width, c.height);
      g.drawImage(bmp, 0, 0, c.width, c.height);
      if (bmp.close) bmp.close();
      return new Promise(function (done) {
        c.toBlob(function (b) {
          done(b && b.size < file.size
            ? new File([b], file.name.replace(/\.[^.]*$/, '') + '.jpg', { type: 'image/jpeg', lastModified: file.lastModified })
            : file);
        }, 'image/jpeg', 0.85);
      });
    }).catch(function () { return file; });
  };
  if (window.DataTransfer && window.createImageBitmap && window.HTMLCanvasElement && HTMLCanvasElement.prototype.toBlob) {
    document.querySelectorAll('input[type=file][accept^="image"]').forEach(function (input) {
      input.addEventListener('change', function () {
        var files = Array.prototype.slice.call(input.files || []);
        if (!files.length) return;
        var buttons = input.form ? Array.prototype.slice.call(input.form.querySelectorAll('button[type=submit]')) : [];
        buttons.forEach(function (b) { b.disabled = true; });
        input.setAttribute('aria-busy', 'true');
        Promise.all(files.map(shrink)).then(function (out) {
          var dt = new DataTransfer();
          out.forEach(function (f) { dt.items.add(f); });
          input.files = dt.files;
        }).catch(function () {}).then(function () {
          buttons.forEach(function (b) { b.disabled = false; });
          input.removeAttribute('aria-busy');
        });
      });
    });
  }
  // Offline drafts: the report form's answers are kept on the phone as they are given (photos
  // already sent travel by id), so a lost signal loses nothing; the first step offers to
  // continue, and the confirmation clears the draft.
  var prefix = location.pathname.replace(/\/(lapor|pengaduan\/.*)$/, '');
  var DRAFT = 'balaikota-lapor:' + prefix;
  if (document.querySelector('section.sent')) {
    try { localStorage.removeItem(DRAFT); } catch (err) {}
  }
  // Signing out forgets every draft kept in this browser: the next person on a shared phone
  // does not find someone else's report.
  document.querySelectorAll('form[action$="/keluar"]').forEach(function (f) {
    f.addEventListener('submit', function () {
      try {
        for (var i = localStorage.length - 1; i >= 0; i--) {
          var k = localStorage.key(i);
          if (k && k.indexOf('balaikota-lapor:') === 0) localStorage.removeItem(k);
        }
      } catch (err) {}
    });
  });
  var stepIn = document.querySelector('form input[name=langkah]');
  var stepForm = stepIn && stepIn.form;
  if (stepForm && window.localStorage && window.JSON) {
    var save = function () {
      var fields = [];
      Array.prototype.forEach.call(stepForm.elements, function (el) {
        if (!el.name || el.type === 'file' || el.name === 'ke' || el.name === 'langkah') return;
        if ((el.type === 'radio' || el.type === 'checkbox') && !el.checked) return;
        if (el.value !== '') fields.push([el.name, el.value]);
      });
      try {
        localStorage.setItem(DRAFT, JSON.stringify({ step: stepIn.value, fields: fields }));
      } catch (err) {}
    };
    var draft = null;
    try { draft = JSON.parse(localStorage.getItem(DRAFT) || 'null'); } catch (err) {}
    var fresh = stepForm.hasAttribute('data-fresh');
    var worth = draft && draft.fields && draft.fields.some(function (f) { return f[0] !== 'privacy'; });
    if (fresh && worth) {
      var box = document.createElement('div');
      box.className = 'notice draft';
      box.setAttribute('role', 'status');
      var p = document.createElement('p');
      p.textContent = stepForm.getAttribute('data-draft');
      box.appendChild(p);
      var go = document.createElement('button');
      go.type = 'button'; go.className = 'primary'; go.textContent = stepForm.getAttribute('data-draft-go');
      var drop = document.createElement('button');
      drop.type = 'button'; drop.className = 'link'; drop.textContent = stepForm.getAttribute('data-draft-drop');
      var row = document.createElement('p');
      row.className = 'step-buttons';
      row.appendChild(go); row.appendChild(drop);
      box.appendChild(row);
      stepForm.parentNode.insertBefore(box, stepForm);
      go.addEventListener('click', function () {
        // Back to the step it was left at, with every answer (nothing is judged on the way).
        var f = document.createElement('form');
        f.method = 'post'; f.action = stepForm.action; f.enctype = 'multipart/form-data';
        draft.fields.concat([['langkah', draft.step], ['ke', draft.step]]).forEach(function (kv) {
          var i = document.createElement('input');
          i.type = 'hidden'; i.name = kv[0]; i.value = kv[1];
          f.appendChild(i);
        });
        document.body.appendChild(f);
        f.submit();
      });
      drop.addEventListener('click', function () {
        try { localStorage.removeItem(DRAFT); } catch (err) {}
        box.parentNode.removeChild(box);
      });
    } else {
      save();
    }
    stepForm.addEventListener('input', save);
    stepForm.addEventListener('change', save);
    stepForm.addEventListener('submit', save);
  }
  // While reporting: open reports of the same category nearby, to support instead ("Saya juga").
  var near = document.getElementById('nearby');
  if (near && window.fetch) {
    var cat = document.getElementById('category');
    var la = document.getElementById('lat'), lo = document.getElementById('lon');
    var look = function () {
      if (!cat.value || !la.value || !lo.value) { near.hidden = true; return; }
      var u = near.getAttribute('data-url') + '?kategori=' + encodeURIComponent(cat.value) +
        '&lat=' + encodeURIComponent(la.value) + '&lon=' + encodeURIComponent(lo.value);
      fetch(u, { headers: { Accept: 'application/json' } }).then(function (r) { return r.ok ? r.json() : []; })
        .then(function (list) {
          near.textContent = '';
          if (!list.length) { near.hidden = true; return; }
          var h = document.createElement('h2'); h.textContent = near.getAttribute('data-title'); near.appendChild(h);
          var p = document.createElement('p'); p.textContent = near.getAttribute('data-lead'); near.appendChild(p);
          list.forEach(function (n) {
            var f = document.createElement('form');
            f.method = 'post'; f.action = near.getAttribute('data-base') + n.code + '/dukung';
            var c = document.createElement('input'); c.type = 'hidden'; c.name = '_csrf'; c.value = near.getAttribute('data-csrf'); f.appendChild(c);
            var t = document.createElement('p'); t.textContent = n.description + ' (' + n.distance_m + ' m, ' + n.code + ')'; f.appendChild(t);
            var b = document.createElement('button'); b.type = 'submit'; b.className = 'secondary'; b.textContent = near.getAttribute('data-me-too'); f.appendChild(b);
            near.appendChild(f);
          });
          near.hidden = false;
        }).catch(function () {});
    };
    [cat, la, lo].forEach(function (el) { el && el.addEventListener('change', look); });
    document.addEventListener('gps-filled', look);
  }
  // Maps (Leaflet, when installed): points with links, and optionally a pin that fills the
  // latitude/longitude fields. The page lists the same things as text for phones without it.
  var tones = { open: '#1d70b8', late: '#d4351c', done: '#00703c' };
  // Leaflet's script comes later in the page (deferred too): draw once every script has run.
  var drawMaps = function () { document.querySelectorAll('[data-map]').forEach(drawMap); };
  if (document.readyState === 'complete') drawMaps();
  else document.addEventListener('DOMContentLoaded', drawMaps);
  function drawMap(el) {
    if (!window.L) return;
    el.hidden = false;
    var centre = el.getAttribute('data-center').split(',').map(Number);
    var map = L.map(el, { scrollWheelZoom: false }).setView(centre, Number(el.getAttribute('data-zoom')) || 13);
    var tiles = el.getAttribute('data-tiles');
    if (tiles) L.tileLayer(tiles, { maxZoom: 19, attribution: el.getAttribute('data-attribution') }).addTo(map);
    var points = [];
    try { points = JSON.parse(el.getAttribute('data-points') || '[]'); } catch (err) {}
    var bounds = [];
    points.forEach(function (p) {
      var colour = tones[p.tone] || tones.open;
      var m = L.circleMarker([p.lat, p.lon], { radius: 8, color: '#fff', weight: 2, fillColor: colour, fillOpacity: 0.9 }).addTo(map);
      var a = document.createElement('a'); a.href = p.href; a.textContent = p.label;
      m.bindPopup(a);
      bounds.push([p.lat, p.lon]);
    });
    if (bounds.length > 1) map.fitBounds(bounds, { padding: [24, 24], maxZoom: 16 });
    else if (bounds.length === 1) map.setView(bounds[0], 16);
    var pick = el.getAttribute('data-pick');
    if (pick) {
      var ids = pick.split(','), la = document.getElementById(ids[0]), lo = document.getElementById(ids[1]);
      var pin = null;
      var place = function (lat, lon, pan) {
        if (!pin) pin = L.circleMarker([lat, lon], { radius: 10, color: '#fff', weight: 3, fillColor: '#d4351c', fillOpacity: 1 }).addTo(map);
        pin.setLatLng([lat, lon]);
        if (pan) map.setView([lat, lon], Math.max(map.getZoom(), 16));
      };
      var fromFields = function () {
        var lat = parseFloat(la.value), lon = parseFloat(lo.value);
        if (!isNaN(lat) && !isNaN(lon)) place(lat, lon, true);
      };
      fromFields();
      map.on('click', function (e) {
        la.value = e.latlng.lat.toFixed(6); lo.value = e.latlng.lng.toFixed(6);
        place(e.latlng.lat, e.latlng.lng, false);
        la.dispatchEvent(new Event('change'));
      });
      [la, lo].forEach(function (f) { f.addEventListener('change', fromFields); });
      document.addEventListener('gps-filled', fromFields);
    }
  }
  // The report form: only the chosen category's extra questions are shown.
  var catSelect = document.getElementById('category');
  var sets = document.querySelectorAll('fieldset.questions[data-category]');
  if (catSelect && sets.length) {
    var showQuestions = function () {
      sets.forEach(function (f) { f.hidden = f.getAttribute('data-category') !== catSelect.value; });
    };
    catSelect.addEventListener('change', showQuestions);
    showQuestions();
  }
  // Closing a report: only the fields the chosen closure needs are shown (all of them without
  // this script). A field with an error stays in view.
  document.querySelectorAll('form').forEach(function (form) {
    var parts = form.querySelectorAll('[data-for-closure]');
    var radios = form.querySelectorAll('input[name=closure]');
    if (!parts.length || !radios.length) return;
    var show = function () {
      var picked = form.querySelector('input[name=closure]:checked');
      parts.forEach(function (p) {
        p.hidden = !(picked && picked.value === p.getAttribute('data-for-closure')) && !p.querySelector('.error');
      });
    };
    radios.forEach(function (r) { r.addEventListener('change', show); });
    show();
  });
  // Reply templates: picking one puts its text in the box, to be edited before sending.
  document.querySelectorAll('select[data-reply-to]').forEach(function (sel) {
    var box = document.getElementById(sel.getAttribute('data-reply-to'));
    if (!box) return;
    var filled = '';
    sel.addEventListener('change', function () {
      var opt = sel.options[sel.selectedIndex];
      var body = opt ? (opt.getAttribute('data-body') || '') : '';
      if (box.value === '' || box.value === filled) {
        box.value = body; filled = body;
        box.dispatchEvent(new Event('input'));
      }
    });
  });
  // What the reporter will be told: the words being typed go into the shown message.
  document.querySelectorAll('[data-note-of]').forEach(function (span) {
    var box = document.getElementById(span.getAttribute('data-note-of'));
    if (!box) return;
    var fill = function () {
      var words = box.value.trim();
      span.textContent = words || span.getAttribute('data-empty');
      span.classList.toggle('told-note', !words);
    };
    box.addEventListener('input', fill);
    fill();
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
