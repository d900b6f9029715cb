/**
 * The HTML report's inline stylesheet and script. The script filters the incident tables and shows
 * an order's timeline from the JSON embedded in the page; it builds every node with textContent,
 * never from markup, so nothing from the journal is ever parsed as HTML.
 */

export const STYLE = `
:root{--ok:#2e7d32;--warn:#b26a00;--bad:#c62828;--muted:#5f6b76;--line:#d8dee4;--bg:#f6f8fa}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#fff}
main,header.verdict>div{max-width:1180px;margin:0 auto;padding:0 20px}
h1{font-size:26px;margin:0}h2{font-size:21px;margin:34px 0 6px;padding-top:14px;border-top:2px solid var(--line)}
h3{font-size:16px;margin:22px 0 8px}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
header.verdict{padding:18px 0 14px;border-bottom:1px solid var(--line)}
header.verdict.fail{background:#fdecea}header.verdict.pass{background:#e8f5e9}
.verdict-row{display:flex;align-items:baseline;gap:28px;flex-wrap:wrap}
.verdict-word{font-size:30px;font-weight:700}.fail .verdict-word{color:var(--bad)}.pass .verdict-word{color:var(--ok)}
.overall b{font-size:30px}.overall small{color:var(--muted);margin-left:4px}
.reasons{margin:10px 0 4px;padding-left:20px}.reasons li{margin:2px 0}
.meta{color:var(--muted);margin:6px 0 0;font-size:13px}
.intro{background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:10px 14px;margin:18px 0}
.intro p{margin:4px 0}
table{border-collapse:collapse;margin:4px 0 8px;width:100%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top}
th{background:var(--bg);font-weight:600;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.na{color:var(--muted,#888);font-style:italic}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;color:#fff}
.badge.ok,.badge.passed{background:var(--ok);color:#fff}.badge.bad,.badge.failed{background:var(--bad);color:#fff}.badge.partial{background:var(--warn);color:#fff}
.meter{display:inline-block;width:60px;height:7px;background:#e6e9ec;border-radius:4px;vertical-align:middle;margin-left:6px;overflow:hidden}
.meter i{display:block;height:100%}
.small,small{color:var(--muted);font-size:12px}
.what{color:var(--muted);font-size:12px;display:block}
.inv{list-style:none;padding:0;margin:0}.inv li{padding:3px 0}
.inv .viol{margin:2px 0 6px 22px;padding-left:0;list-style:disc}
.charts{display:grid;grid-template-columns:1fr;gap:16px}
ul.fault-legend{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:4px 18px;margin:4px 0 10px}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px}
figcaption{font-weight:600;margin-bottom:2px}
svg.chart{width:100%;height:auto;display:block}
svg .grid{stroke:#eceff1}svg .axis{stroke:#8c959f}svg .tick{font-size:11px;fill:#57606a}svg .label{font-size:12px;fill:#57606a}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;margin-top:4px}
.legend span::before{content:"";display:inline-block;width:11px;height:11px;margin-right:4px;vertical-align:-1px;background:var(--c);border-radius:2px}
.legend .line::before{height:3px;vertical-align:3px}
.filters{display:flex;flex-wrap:wrap;gap:10px;align-items:center;margin:6px 0}
.filters select,.filters input{font:inherit;padding:3px 6px}
.table-wrap{max-height:560px;overflow:auto;border:1px solid var(--line);border-radius:6px}
.table-wrap table{margin:0}.table-wrap th{position:sticky;top:0;z-index:1}
a.order-link{color:#0b5cad;cursor:pointer}
.timeline{border:2px solid #0b5cad;border-radius:6px;padding:10px 14px;margin:14px 0;background:#fbfdff}
.timeline h4{margin:0 0 6px;font-size:15px}
.timeline .close{float:right;font:inherit;cursor:pointer}
.lanes{position:relative;margin:8px 0 10px;border:1px solid var(--line);border-radius:4px;background:#fff}
.lane{position:relative;height:20px;border-bottom:1px dashed #eef0f2}
.lane:last-child{border-bottom:none}
.lane b{position:absolute;left:6px;top:2px;font-size:11px;font-weight:600;color:var(--muted);width:100px}
.lane .dot{position:absolute;top:5px;width:10px;height:10px;border-radius:50%;margin-left:-5px;background:var(--c)}
.lane .mark{position:absolute;top:0;bottom:0;width:2px;margin-left:-1px;background:var(--c)}
.chip{display:inline-block;border-radius:3px;padding:0 6px;font-size:11px;font-weight:600;color:#fff;background:var(--c);white-space:nowrap}
.stage-chip{--c:#b26a00}
tr.stage-row td{background:#fff8e1;font-weight:600}
.problem{background:#fff4e5;border:1px solid #f0c36d;border-radius:6px;padding:8px 12px}
footer{color:var(--muted);font-size:12px;margin:30px 0 20px}
`;

/** Runs in the page; plain ES2017, no libraries. */
export const SCRIPT = `
(function () {
  'use strict';
  var source = document.getElementById('ordeal-data');
  if (!source) return;
  var data = JSON.parse(source.textContent || '{}');
  var lanes = data.lanes;
  var scenarios = data.scenarios.map(function (s) {
    var byKey = new Map();
    s.timelines.forEach(function (t) { byKey.set(t.key, t); });
    return { loadStart: s.loadStart, name: s.name, timelines: byKey };
  });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function ms(value) {
    if (value === null || value === undefined) return '–';
    var a = Math.abs(value);
    if (a < 1000) return Math.round(value) + 'ms';
    return (value / 1000).toFixed(a < 10000 ? 2 : 1) + 's';
  }
  function loadTime(s, t) { return ((t - scenarios[s].loadStart) / 1000).toFixed(3) + ' s'; }
  function cells(row, values, classes) {
    values.forEach(function (value, i) {
      var td = el('td', classes && classes[i] ? classes[i] : '');
      if (value instanceof Node) td.appendChild(value); else td.textContent = value;
      row.appendChild(td);
    });
    return row;
  }
  function chip(laneIndex) {
    var lane = lanes[laneIndex];
    var c = el('span', 'chip', lane.name);
    c.style.setProperty('--c', lane.color);
    return c;
  }

  // ── incident filters ──
  Array.prototype.forEach.call(document.querySelectorAll('.incidents'), function (box) {
    var byClass = box.querySelector('.filter-class');
    var byOutcome = box.querySelector('.filter-outcome');
    var byOrder = box.querySelector('.filter-order');
    var shown = box.querySelector('.shown');
    var rows = box.querySelectorAll('tbody tr');
    function apply() {
      var c = byClass.value, o = byOutcome.value, q = byOrder.value.trim().toLowerCase(), n = 0;
      Array.prototype.forEach.call(rows, function (row) {
        var visible = (!c || row.getAttribute('data-class') === c) &&
          (!o || row.getAttribute('data-outcome') === o) &&
          (!q || (row.getAttribute('data-order') || '').indexOf(q) >= 0);
        row.hidden = !visible;
        if (visible) n++;
      });
      shown.textContent = String(n);
    }
    byClass.addEventListener('change', apply);
    byOutcome.addEventListener('change', apply);
    byOrder.addEventListener('input', apply);
  });

  // ── one order's timeline ──
  function show(s, key) {
    var panel = document.getElementById('timeline-' + s);
    if (!panel) return;
    var timeline = scenarios[s] && scenarios[s].timelines.get(key);
    panel.textContent = '';
    var close = el('button', 'close', 'close ✕');
    close.type = 'button';
    close.addEventListener('click', function () { panel.hidden = true; });
    panel.appendChild(close);
    if (!timeline) {
      panel.appendChild(el('h4', '', key));
      panel.appendChild(el('p', 'small', 'This order\\'s timeline was not kept (the report keeps at most ' + data.maxTimelines + ' per scenario); read it from journal.ndjson in the run folder.'));
      panel.hidden = false;
      panel.scrollIntoView({ block: 'start' });
      return;
    }
    var title = timeline.orderId !== null ? 'Order ' + timeline.orderId : 'Buyer ' + timeline.buyerId + ' (no order was created)';
    if (timeline.orderId !== null && timeline.buyerId !== null) title += ' · buyer ' + timeline.buyerId;
    panel.appendChild(el('h4', '', title));

    var start = null;
    var marks = [];
    if (timeline.incidents.length > 0) {
      var table = el('table', 'stages');
      var head = el('tr');
      ['incident', 'started', 'stage', 'what counts', 'met at', 'after start', 'deadline', 'credit', ''].forEach(function (h) { head.appendChild(el('th', '', h)); });
      table.appendChild(head);
      timeline.incidents.forEach(function (incident) {
        if (start === null || incident.startedAt < start) start = incident.startedAt;
        ['detect', 'notify', 'recover'].forEach(function (name, i) {
          var stage = incident.stages[name];
          var deadline = incident.deadlines ? incident.deadlines[name] : null;
          var met = stage.at !== undefined && stage.at !== null;
          var verdict = stage.credit >= 0.9995 ? 'in time' : met ? (stage.credit > 0 ? 'late' : (stage.note || 'too late')) : 'never met';
          var cls = stage.credit >= 0.9995 ? 'ok' : stage.credit > 0 ? 'warn' : 'bad';
          var row = cells(el('tr'), [
            i === 0 ? incident.class + ' · score ' + (incident.score * 100).toFixed(0) + ' (' + incident.outcome + ')' : '',
            i === 0 ? loadTime(s, incident.startedAt) : '',
            name,
            incident.meaning ? incident.meaning[name] : '',
            met ? loadTime(s, stage.at) : '–',
            met ? ms(stage.ms) : '–',
            ms(deadline),
            stage.credit.toFixed(2),
            verdict,
          ], ['', 'mono', '', 'small', 'mono', 'mono', 'mono', 'num ' + cls, cls]);
          table.appendChild(row);
          if (met) marks.push({ t: stage.at, text: name + ' met (' + incident.class + '): ' + ms(stage.ms) + ' after the incident started, deadline ' + ms(deadline) + ', credit ' + stage.credit.toFixed(2) + (stage.note ? ' — ' + stage.note : '') });
        });
      });
      panel.appendChild(table);
    }

    // Swimlanes: one row per lane, a dot per event, a bar where a stage was met.
    var events = timeline.events;
    if (events.length > 0) {
      var t0 = events[0][0], t1 = events[events.length - 1][0];
      marks.forEach(function (m) { t0 = Math.min(t0, m.t); t1 = Math.max(t1, m.t); });
      var span = Math.max(1, t1 - t0);
      var lanesBox = el('div', 'lanes');
      var used = {};
      events.forEach(function (e) { used[e[1]] = true; });
      lanes.forEach(function (lane, index) {
        if (!used[index]) return;
        var row = el('div', 'lane');
        row.setAttribute('data-lane', lane.name);
        row.appendChild(el('b', '', lane.name));
        events.forEach(function (e) {
          if (e[1] !== index) return;
          var dot = el('span', 'dot');
          dot.style.setProperty('--c', lane.color);
          dot.style.left = 'calc(110px + (100% - 130px) * ' + ((e[0] - t0) / span).toFixed(4) + ')';
          dot.title = loadTime(s, e[0]) + ' ' + e[2];
          row.appendChild(dot);
        });
        marks.forEach(function (m) {
          var bar = el('span', 'mark');
          bar.style.setProperty('--c', '#f9a825');
          bar.style.left = 'calc(110px + (100% - 130px) * ' + ((m.t - t0) / span).toFixed(4) + ')';
          bar.title = m.text;
          row.appendChild(bar);
        });
        lanesBox.appendChild(row);
      });
      panel.appendChild(lanesBox);
    }

    var list = el('table', 'events');
    var h = el('tr');
    ['load time', 'since incident', 'lane', 'what happened'].forEach(function (name) { h.appendChild(el('th', '', name)); });
    list.appendChild(h);
    var rows = events.map(function (e) { return { t: e[0], lane: e[1], text: e[2] }; });
    marks.forEach(function (m) { rows.push({ t: m.t, lane: -1, text: m.text }); });
    rows.sort(function (a, b) { return a.t - b.t || (a.lane === -1 ? 1 : 0) - (b.lane === -1 ? 1 : 0); });
    rows.forEach(function (r) {
      var tr = el('tr', r.lane === -1 ? 'stage-row' : 'event-row');
      if (r.lane >= 0) tr.setAttribute('data-lane', lanes[r.lane].name);
      cells(tr, [
        loadTime(s, r.t),
        start === null ? '' : (r.t >= start ? '+' : '') + ms(r.t - start),
        r.lane === -1 ? el('span', 'chip stage-chip', 'stage') : chip(r.lane),
        r.text,
      ], ['mono', 'mono num', '', '']);
      list.appendChild(tr);
    });
    panel.appendChild(list);
    if (timeline.omitted > 0) panel.appendChild(el('p', 'small', timeline.omitted + ' later events left out; the journal has them all.'));
    panel.hidden = false;
    panel.scrollIntoView({ block: 'start' });
  }

  document.addEventListener('click', function (event) {
    var target = event.target;
    var link = target && target.closest ? target.closest('a.order-link') : null;
    if (!link) return;
    event.preventDefault();
    show(Number(link.getAttribute('data-scenario')), link.getAttribute('data-key'));
  });
})();
`;
