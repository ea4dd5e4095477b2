// ArchMesh gateway live dashboard: polls /api/v1/stats (current sample), /api/v1/stats/cluster (every node
// of the cluster) and /api/v1/stats/history (snapshots over the configured window) and draws hand-written SVG
// charts. No dependencies, no build.
(function () {
  'use strict';

  const params = new URLSearchParams(window.location.search);
  const refreshSeconds = Math.min(10, Math.max(0.5, Number(params.get('refresh')) || 1));
  const SVG = 'http://www.w3.org/2000/svg';
  const PRIORITY_COLORS = { critical: '#f85149', high: '#d29922', normal: '#58a6ff', low: '#8b96a3' };
  const PRIORITIES = ['critical', 'high', 'normal', 'low'];

  let history = [];        // snapshots from /api/v1/stats/history (every interval)
  let live = [];           // current samples newer than the last history snapshot
  let intervalSeconds = 10;
  let windowSeconds = 3600;
  let lastHistoryFetch = 0;

  const $ = (id) => document.getElementById(id);

  function fmt(value, digits) {
    if (value === null || value === undefined || Number.isNaN(value)) return '–';
    const abs = Math.abs(value);
    if (abs >= 1e9) return (value / 1e9).toFixed(1) + 'G';
    if (abs >= 1e6) return (value / 1e6).toFixed(1) + 'M';
    if (abs >= 1e4) return (value / 1e3).toFixed(1) + 'k';
    return value.toFixed(digits === undefined ? (Number.isInteger(value) ? 0 : 1) : digits);
  }

  function fmtBytes(value) {
    if (value >= 1048576) return (value / 1048576).toFixed(1) + ' MiB';
    if (value >= 1024) return (value / 1024).toFixed(1) + ' KiB';
    return value.toFixed(0) + ' B';
  }

  function axisLabel(v) {
    if (v >= 1e4 || Number.isInteger(v)) return fmt(v, 0);
    return v >= 10 ? v.toFixed(1) : String(Number(v.toFixed(3)));
  }

  function sum(p) { return p.critical + p.high + p.normal + p.low; }

  function setText(id, text) { const el = $(id); if (el) el.textContent = text; }

  function statusOf(s) {
    if (s.draining) return ['draining', 'draining'];
    if (!s.engineAvailable) return ['degraded', 'degraded (engine ' + s.engine + ': ' + (s.engineState || 'unreachable') + ')'];
    if (s.engineCircuit && s.engineCircuit !== 'closed') return ['degraded', 'degraded (engine circuit ' + s.engineCircuit + ')'];
    if (s.connections >= s.connectionLimit) return ['degraded', 'at connection cap'];
    return ['ready', 'ready'];
  }

  function renderCurrent(s) {
    setText('connections', fmt(s.connections, 0));
    setText('connection-limit', fmt(s.connectionLimit, 0));
    setText('published', fmt(sum(s.publishedPerSecond)));
    setText('delivered', fmt(sum(s.deliveredPerSecond)));
    setText('deliveries', fmt(s.deliveriesPerSecond));
    setText('shed', fmt(sum(s.shedPerSecond)));
    setText('e2e-p99', s.endToEndLatency.count ? fmt(s.endToEndLatency.p99Ms, 2) : '–');
    setText('dispatch-p99', s.dispatchLatency.count ? fmt(s.dispatchLatency.p99Ms, 3) : '–');
    setText('slow-consumers', fmt(s.slowConsumerClosesTotal, 0));
    setText('auth-failures', fmt(s.authFailuresTotal, 0));
    setText('frames', fmt(s.framesInPerSecond) + ' / ' + fmt(s.framesOutPerSecond));
    setText('bytes', fmtBytes(s.bytesInPerSecond) + ' / ' + fmtBytes(s.bytesOutPerSecond));
    setText('topics', fmt(s.topics, 0));

    const [cls, label] = statusOf(s);
    const pill = $('status');
    pill.className = 'pill pill-' + cls;
    pill.textContent = s.node + ' · ' + label;
    setText('updated', new Date(s.timestamp).toLocaleTimeString());

    const body = $('nodes').tBodies[0];
    body.replaceChildren();
    const row = body.insertRow();
    const ring = s.ringDepth;
    [s.node, label, fmt(s.connections, 0) + ' / ' + fmt(s.connectionLimit, 0),
      s.engine + (s.engineState ? ' — ' + s.engineState : (s.engineAvailable ? '' : ' (unreachable)')),
      [ring.critical, ring.high, ring.normal, ring.low].map((v) => fmt(v, 0)).join(' / ') + ' of ' + fmt(s.ringCapacity, 0),
      new Date(s.timestamp).toLocaleTimeString()].forEach((text) => { row.insertCell().textContent = text; });
  }

  // ---- cluster ------------------------------------------------------------------------------

  function age(seconds) {
    if (seconds < 60) return seconds.toFixed(seconds < 10 ? 1 : 0) + ' s ago';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ago';
    return (seconds / 3600).toFixed(1) + ' h ago';
  }

  function renderCluster(c) {
    const t = c.totals;
    const views = { redis: 'from Redis, every node', local: 'in-memory engine: this node is the cluster', unavailable: 'unavailable: ' + (c.reason || '') };
    setText('cluster-view', '· ' + (views[c.clusterView] || c.clusterView));
    $('cluster-view').className = 'meta' + (c.clusterView === 'unavailable' ? ' error' : '');
    setText('cluster-totals', '');
    const totals = $('cluster-totals');
    [[fmt(t.live, 0) + ' / ' + fmt(c.totalNodes, 0), ' nodes live'], [fmt(t.ready, 0), ' ready'], [fmt(t.stale, 0), ' stale'],
      [fmt(t.connections, 0), ' connections'], [fmt(t.publishedPerSecond), ' msgs in/s'], [fmt(t.deliveriesPerSecond), ' deliveries/s']]
      .forEach(([value, label], i) => {
        if (i > 0) totals.append(' · ');
        const strong = document.createElement('strong');
        strong.textContent = value;
        totals.append(strong, label);
      });
    if (c.truncated) totals.append(' · first ' + c.nodes.length + ' shown');

    const body = $('cluster').tBodies[0];
    body.replaceChildren();
    for (const n of c.nodes) {
      const row = body.insertRow();
      row.className = (n.self ? 'self ' : '') + (n.live ? '' : 'stale');
      row.dataset.instance = n.instance || '';
      const status = n.live ? (n.status || '?') + (n.statusReason && n.status !== 'draining' ? ' (' + n.statusReason + ')' : '') : 'stale since ' + new Date(n.lastSeen).toLocaleTimeString();
      const cells = [
        (n.node || n.instance) + (n.self ? ' (this node)' : ''),
        status,
        n.live ? (n.engine || '') + (n.engineState ? ' — ' + n.engineState : '') : '–',
        n.live ? fmt(n.connections, 0) : '–',
        n.live ? fmt(n.publishedPerSecond) : '–',
        n.live ? fmt(n.deliveriesPerSecond) : '–',
        n.self ? 'now' : age(n.ageSeconds),
      ];
      cells.forEach((text, i) => {
        const cell = row.insertCell();
        cell.textContent = text;
        if (i === 0) cell.title = n.instance || '';
        if (i === 1) cell.className = 'status-' + (n.live ? n.status : 'stale');
      });
    }
  }

  async function refreshCluster() {
    try {
      renderCluster(await getJson('/api/v1/stats/cluster'));
    } catch (e) {
      setText('cluster-view', '· update failed: ' + e.message);
      $('cluster-view').className = 'meta error';
    }
  }

  // ---- charts -------------------------------------------------------------------------------

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function niceMax(max) {
    if (max <= 0) return 1;
    const magnitude = Math.pow(10, Math.floor(Math.log10(max)));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (max <= step * magnitude) return step * magnitude;
    }
    return 10 * magnitude;
  }

  // series: [{ name, color, values: [[timeMs, value], ...] }]
  // range: [t0, t1] shared by every chart, so their time axes line up even where a series has gaps.
  function drawChart(id, series, range) {
    const svg = $(id);
    if (!svg) return;
    svg.replaceChildren();
    const W = 600, H = 220, L = 48, R = 8, T = 18, B = 22;
    const all = series.flatMap((s) => s.values);
    if (all.length < 2) {
      svg.appendChild(el('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'empty' }, 'collecting data…'));
      return;
    }
    const t0 = range ? range[0] : Math.min(...all.map((p) => p[0]));
    const t1 = range ? range[1] : Math.max(...all.map((p) => p[0]));
    const yMax = niceMax(Math.max(...all.map((p) => p[1])));
    const x = (t) => L + (t1 === t0 ? 0 : (t - t0) / (t1 - t0)) * (W - L - R);
    const y = (v) => T + (1 - v / yMax) * (H - T - B);

    for (let i = 0; i <= 4; i++) {
      const v = (yMax * i) / 4;
      svg.appendChild(el('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }));
      svg.appendChild(el('text', { x: L - 4, y: y(v) + 3, 'text-anchor': 'end', class: 'axis' }, axisLabel(v)));
    }
    const ticks = t1 === t0 ? 0 : 3;
    for (let i = 0; i <= ticks; i++) {
      const t = t0 + ((t1 - t0) * i) / 3;
      svg.appendChild(el('text', { x: x(t), y: H - 6, 'text-anchor': i === 0 ? 'start' : i === 3 ? 'end' : 'middle', class: 'axis' },
        new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })));
    }
    let legendX = L;
    for (const s of series) {
      if (s.values.length > 0) {
        const points = s.values.map((p) => x(p[0]).toFixed(1) + ',' + y(p[1]).toFixed(1)).join(' ');
        svg.appendChild(el('polyline', { points, stroke: s.color, 'data-series': s.name }));
        if (s.values.length < 3) {
          // A line needs two points: mark lone samples so they are visible.
          for (const p of s.values) svg.appendChild(el('circle', { cx: x(p[0]), cy: y(p[1]), r: 2.5, fill: s.color }));
        }
      }
      svg.appendChild(el('rect', { x: legendX, y: 4, width: 10, height: 4, fill: s.color }));
      svg.appendChild(el('text', { x: legendX + 13, y: 10, class: 'legend' }, s.name));
      legendX += 18 + s.name.length * 6;
    }
  }

  function points() {
    const lastHistory = history.length ? Date.parse(history[history.length - 1].timestamp) : 0;
    const recent = live.filter((s) => Date.parse(s.timestamp) > lastHistory);
    const cutoff = Date.now() - windowSeconds * 1000;
    return history.concat(recent).filter((s) => Date.parse(s.timestamp) >= cutoff);
  }

  function byPriority(samples, pick) {
    return PRIORITIES.map((p) => ({ name: p, color: PRIORITY_COLORS[p], values: samples.map((s) => [Date.parse(s.timestamp), pick(s)[p]]) }));
  }

  function line(samples, name, color, pick) {
    return { name, color, values: samples.map((s) => [Date.parse(s.timestamp), pick(s)]) };
  }

  function latency(samples, pick) {
    const withData = samples.filter((s) => pick(s).count > 0);
    return [
      line(withData, 'p50', '#3fb950', (s) => pick(s).p50Ms),
      line(withData, 'p90', '#d29922', (s) => pick(s).p90Ms),
      line(withData, 'p99', '#f85149', (s) => pick(s).p99Ms),
    ];
  }

  function renderCharts() {
    const samples = points();
    const times = samples.map((s) => Date.parse(s.timestamp));
    const range = times.length ? [Math.min(...times), Math.max(...times)] : null;
    drawChart('chart-connections', [line(samples, 'connections', '#58a6ff', (s) => s.connections)], range);
    drawChart('chart-published', byPriority(samples, (s) => s.publishedPerSecond), range);
    drawChart('chart-delivered', byPriority(samples, (s) => s.deliveredPerSecond), range);
    drawChart('chart-shed', byPriority(samples, (s) => s.shedPerSecond), range);
    drawChart('chart-e2e', latency(samples, (s) => s.endToEndLatency), range);
    drawChart('chart-dispatch', latency(samples, (s) => s.dispatchLatency), range);
    drawChart('chart-rings', byPriority(samples, (s) => s.ringDepth), range);
    drawChart('chart-frames', [
      line(samples, 'in', '#58a6ff', (s) => s.framesInPerSecond),
      line(samples, 'out', '#3fb950', (s) => s.framesOutPerSecond),
    ], range);
    drawChart('chart-failures', [
      line(samples, 'slow consumers', '#d29922', (s) => s.slowConsumerClosesPerSecond),
      line(samples, 'auth failures', '#f85149', (s) => s.authFailuresPerSecond),
    ], range);
  }

  // ---- polling ------------------------------------------------------------------------------

  async function getJson(url) {
    const response = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!response.ok) throw new Error(url + ' → HTTP ' + response.status);
    return response.json();
  }

  async function refreshHistory() {
    const since = history.length ? '?since=' + encodeURIComponent(history[history.length - 1].timestamp) : '';
    const h = await getJson('/api/v1/stats/history' + since);
    intervalSeconds = h.intervalSeconds;
    windowSeconds = h.windowSeconds;
    history = history.concat(h.snapshots).slice(-h.capacity);
    setText('window', Math.round(windowSeconds / 60) + ' min at ' + intervalSeconds + ' s');
    lastHistoryFetch = Date.now();
  }

  async function tick() {
    try {
      if (Date.now() - lastHistoryFetch >= intervalSeconds * 1000) await refreshHistory();
      // The cluster read may wait on Redis: it runs alongside and never holds up this node's own figures.
      const cluster = refreshCluster();
      const current = await getJson('/api/v1/stats');
      live.push(current);
      const lastHistory = history.length ? Date.parse(history[history.length - 1].timestamp) : 0;
      live = live.filter((s) => Date.parse(s.timestamp) > lastHistory).slice(-3600);
      renderCurrent(current);
      renderCharts();
      await cluster;
      $('error').hidden = true;
      document.body.dataset.ready = 'true';
    } catch (e) {
      const error = $('error');
      error.textContent = 'update failed: ' + e.message;
      error.hidden = false;
      const pill = $('status');
      pill.className = 'pill pill-down';
      pill.textContent = 'unreachable';
    } finally {
      setTimeout(tick, refreshSeconds * 1000);
    }
  }

  setText('refresh-rate', String(refreshSeconds));
  tick();
})();
