/*
 * The test page at /: sends telemetry with ingest.js, shows the client's counters and live charts
 * of its send rate and round trip, the events coming back from Kafka through /stream, and the
 * gateway's /stats.
 *
 * Query parameters (all optional): clientId, rate (events/s, default 1), batch, interval,
 * maxBuffered, backoffMin, backoffMax (ingest.js options), url (the WebSocket URL),
 * access_token (API key or token, for /ws, /stream and /stats), stream=0 (no /stream), stats=0
 * (no /stats polling). Every URL is relative to the page: served over https, the page uses wss:// and https://.
 * Tests read window.ingestPage: { client, clientId, setRate, generated(), ackedSeqs, stream } and
 * window.ingestChart: { seconds, points, length, last, draws } (the live charts, one point a second).
 */
(function () {
  "use strict";

  const params = new URLSearchParams(location.search);
  const $ = (id) => document.getElementById(id);
  const number = (name, fallback) => {
    const raw = params.get(name);
    const value = raw === null || raw === "" ? NaN : Number(raw);
    return Number.isFinite(value) ? value : fallback;
  };
  const randomId = () => {
    const bytes = new Uint8Array(6);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };
  const time = (ms) => new Date(ms).toISOString().slice(11, 23);

  const clientId = params.get("clientId") || "page-" + randomId();
  const accessToken = params.get("access_token");
  const withToken = (url) => (accessToken ? url + (url.includes("?") ? "&" : "?") + "access_token=" + encodeURIComponent(accessToken) : url);
  const client = new Ingest.Client({
    url: params.get("url"),
    apiKey: accessToken,
    clientId: clientId,
    maxBatch: number("batch", undefined),
    flushIntervalMs: number("interval", undefined),
    maxBuffered: number("maxBuffered", undefined),
    backoffMinMs: number("backoffMin", undefined),
    backoffMaxMs: number("backoffMax", undefined),
  });
  $("client-id").textContent = clientId;
  $("ws-url").textContent = client.url.replace(/access_token=[^&]*/, "access_token=…");

  // Seq numbers of acked events, for tests and for the curious (bounded).
  const ackedSeqs = [];
  const page = {
    client: client,
    clientId: clientId,
    ackedSeqs: ackedSeqs,
    setRate: setRate,
    generated: () => seq,
    // duplicates: events seen again (a resend after a lost ack lands twice; at-least-once).
    stream: { received: 0, dropped: 0, duplicates: 0, seqs: [] },
  };
  window.ingestPage = page;

  // ---- connection log ------------------------------------------------------------------------

  function log(text, cls) {
    const line = document.createElement("li");
    line.textContent = time(Date.now()) + "  " + text;
    if (cls) {
      line.className = cls;
    }
    const list = $("log");
    list.prepend(line);
    while (list.childElementCount > 50) {
      list.lastElementChild.remove();
    }
  }

  client.addEventListener("open", () => log("connected as " + clientId));
  client.addEventListener("close", (e) => {
    const d = e.detail;
    const next = d.reconnectInMs === null ? "" : "; reconnecting in " + d.reconnectInMs + " ms";
    log("closed " + d.code + (d.reason ? " (" + d.reason + ")" : "") + next, d.code === 1000 ? "" : "warn");
  });
  client.addEventListener("draining", (e) => log("gateway draining; back in " + e.detail.reconnectAfterMs + " ms", "warn"));
  client.addEventListener("error", (e) => log("error " + e.detail.code + " for message " + e.detail.seq + ": " + e.detail.message, "error"));
  client.addEventListener("dropped", (e) => log("dropped " + e.detail.count + " events (" + e.detail.reason + ")", "warn"));
  client.addEventListener("ack", (e) => {
    for (const event of e.detail.events) {
      if (ackedSeqs.length < 1000000) {
        ackedSeqs.push(event.seq);
      }
    }
  });

  // ---- counters --------------------------------------------------------------------------------

  const counterCells = Array.from(document.querySelectorAll("[data-counter]"));
  client.addEventListener("stats", (e) => {
    for (const cell of counterCells) {
      cell.textContent = e.detail[cell.dataset.counter];
    }
    $("state").textContent = e.detail.state;
    $("state").dataset.state = e.detail.state;
  });

  // ---- live charts: send rate and round trip, one point a second for the last 5 minutes --------

  // Each point closes one interval (a second, longer when the tab's timers are throttled): events
  // sent (resends included) and acked, as counts and per second, and the round trip of every
  // event acked in it, send to ack (now minus the event's own timestamp, set when the page made
  // it), as p50, p99 and max. Tests read window.ingestChart; #charts carries data-points.
  const CHART_SECONDS = 300;
  const chart = { seconds: CHART_SECONDS, points: [], draws: 0 };
  Object.defineProperty(chart, "length", { get: () => chart.points.length });
  Object.defineProperty(chart, "last", { get: () => chart.points[chart.points.length - 1] || null });
  window.ingestChart = chart;

  let interval = { at: performance.now(), sent: client.counters.sent, acked: client.counters.acked, rtts: [] };

  client.addEventListener("ack", (e) => {
    const now = Date.now();
    for (const event of e.detail.events) {
      if (event && Number.isFinite(event.timestamp)) {
        interval.rtts.push(Math.max(0, now - event.timestamp));
      }
    }
  });

  function sampleChart() {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - interval.at) / 1000);
    const c = client.counters;
    const rtts = interval.rtts.sort((a, b) => a - b);
    // Nearest rank: the smallest value with at least q of the values at or below it.
    const rank = (q) => (rtts.length === 0 ? null : rtts[Math.max(0, Math.ceil(q * rtts.length) - 1)]);
    chart.points.push({
      t: Date.now(),
      seconds: seconds,
      sent: c.sent - interval.sent,
      acked: c.acked - interval.acked,
      sentPerSecond: (c.sent - interval.sent) / seconds,
      ackedPerSecond: (c.acked - interval.acked) / seconds,
      rtts: rtts.length,
      rttP50: rank(0.5),
      rttP99: rank(0.99),
      rttMax: rank(1),
    });
    while (chart.points.length > CHART_SECONDS) {
      chart.points.shift();
    }
    interval = { at: now, sent: c.sent, acked: c.acked, rtts: [] };
    $("charts").dataset.points = String(chart.points.length);
    drawCharts();
  }

  // 1, 2 or 5 x 10^k at or above value: the top of the y axis.
  function niceCeiling(value) {
    if (!(value > 0)) {
      return 1;
    }
    const magnitude = Math.pow(10, Math.floor(Math.log10(value)));
    for (const factor of [1, 2, 5, 10]) {
      if (factor * magnitude >= value) {
        return factor * magnitude;
      }
    }
    return 10 * magnitude;
  }

  function shortNumber(value) {
    return value >= 10000 ? Math.round(value / 1000) + "k" : String(Math.round(value * 100) / 100);
  }

  // A line per series over the last CHART_SECONDS, right edge = now; null values break the line.
  function drawChart(canvas, series) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (width === 0 || height === 0) {
      return;
    }
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const left = 40;
    const right = 6;
    const top = 6;
    const bottom = 16;
    const plotWidth = width - left - right;
    const plotHeight = height - top - bottom;
    const now = Date.now();
    const x = (t) => left + plotWidth * (1 - (now - t) / (CHART_SECONDS * 1000));
    let max = 0;
    for (const s of series) {
      for (const p of chart.points) {
        const v = p[s.key];
        if (v !== null && v > max) {
          max = v;
        }
      }
    }
    max = niceCeiling(max);
    const y = (v) => top + plotHeight - (v / max) * plotHeight;

    ctx.font = "10px system-ui, sans-serif";
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#e1e4ea";
    ctx.fillStyle = "#667085";
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    // Five steps: a top of 1, 2 or 5 x 10^k gives round labels.
    for (let i = 0; i <= 5; i++) {
      const gy = Math.round(y((max * i) / 5)) + 0.5;
      ctx.beginPath();
      ctx.moveTo(left, gy);
      ctx.lineTo(width - right, gy);
      ctx.stroke();
      ctx.fillText(shortNumber((max * i) / 5), left - 4, gy);
    }
    ctx.textBaseline = "top";
    for (let minutes = CHART_SECONDS / 60; minutes >= 0; minutes--) {
      ctx.textAlign = minutes === CHART_SECONDS / 60 ? "left" : minutes === 0 ? "right" : "center";
      ctx.fillText(minutes === 0 ? "now" : "-" + minutes + " min", x(now - minutes * 60000), top + plotHeight + 3);
    }

    ctx.lineWidth = 1.5;
    for (const s of series) {
      ctx.strokeStyle = s.colour;
      ctx.fillStyle = s.colour;
      ctx.beginPath();
      let open = false;
      let run = 0;
      let last = null;
      for (const p of chart.points) {
        const v = p[s.key];
        if (v === null) {
          if (run === 1) {
            ctx.fillRect(last[0] - 1.5, last[1] - 1.5, 3, 3);
          }
          open = false;
          run = 0;
          continue;
        }
        const px = x(p.t);
        const py = y(v);
        if (open) {
          ctx.lineTo(px, py);
        } else {
          ctx.moveTo(px, py);
          open = true;
        }
        run++;
        last = [px, py];
      }
      if (run === 1) {
        ctx.fillRect(last[0] - 1.5, last[1] - 1.5, 3, 3);
      }
      ctx.stroke();
    }
  }

  function drawCharts() {
    drawChart($("chart-rate"), [
      { key: "sentPerSecond", colour: "#9aa8c7" },
      { key: "ackedPerSecond", colour: "#4a6fd8" },
    ]);
    drawChart($("chart-rtt"), [
      { key: "rttP50", colour: "#16794c" },
      { key: "rttMax", colour: "#b00020" },
    ]);
    chart.draws++;
  }

  setInterval(sampleChart, 1000);
  window.addEventListener("resize", drawCharts);
  drawCharts();

  // ---- the generator: `rate` events a second, paced on the clock -------------------------------

  let rate = 0;
  let pausedRate = 1;
  let seq = 0;
  let startedAt = 0;
  let produced = 0;
  let timer = null;

  function emit() {
    seq++;
    client.send({ msg: "page event " + seq, clientId: clientId, timestamp: Date.now(), seq: seq });
  }

  function tick() {
    // Due events since the rate was set; catches up after a throttled timer, at most 5000 at once.
    const due = Math.floor(((performance.now() - startedAt) * rate) / 1000) + 1 - produced;
    const n = Math.min(due, 5000);
    for (let i = 0; i < n; i++) {
      emit();
    }
    produced += due;
  }

  function setRate(value) {
    rate = Math.max(0, Math.min(5000, Number(value) || 0));
    $("rate").value = String(rate);
    $("rate-slider").value = String(Math.min(rate, 100));
    $("pause").textContent = rate > 0 ? "Pause" : "Resume";
    clearInterval(timer);
    timer = null;
    if (rate > 0) {
      startedAt = performance.now();
      produced = 0;
      timer = setInterval(tick, Math.max(10, Math.min(250, 1000 / rate)));
      tick();
    }
  }

  $("rate").addEventListener("input", (e) => setRate(e.target.value));
  $("rate-slider").addEventListener("input", (e) => setRate(e.target.value));
  $("pause").addEventListener("click", () => {
    if (rate > 0) {
      pausedRate = rate;
      setRate(0);
    } else {
      setRate(pausedRate);
    }
  });
  setRate(number("rate", 1));

  // ---- events back from Kafka (/stream) --------------------------------------------------------

  const rt = { count: 0, sum: 0, max: 0 };

  function setStreamState(state) {
    $("stream-state").textContent = state;
    $("stream-state").dataset.state = state;
  }

  const seen = new Set();

  function onTelemetry(message) {
    const record = JSON.parse(message.data);
    const event = record.event || {};
    const roundTrip = Date.now() - event.timestamp;
    page.stream.received++;
    if (seen.has(event.seq)) {
      page.stream.duplicates++;
      $("stream-duplicates").textContent = page.stream.duplicates;
    } else if (seen.size < 1000000) {
      seen.add(event.seq);
    }
    if (page.stream.seqs.length < 1000000) {
      page.stream.seqs.push(event.seq);
    }
    rt.count++;
    rt.sum += roundTrip;
    rt.max = Math.max(rt.max, roundTrip);
    $("stream-received").textContent = page.stream.received;
    $("rt-last").textContent = roundTrip + " ms";
    $("rt-avg").textContent = Math.round(rt.sum / rt.count) + " ms";
    $("rt-max").textContent = rt.max + " ms";

    const row = document.createElement("tr");
    row.className = "stream-row";
    row.dataset.clientId = record.clientId;
    row.dataset.seq = event.seq;
    const cells = [
      [event.seq, ""],
      [event.msg, ""],
      [record.partition + ":" + record.offset, ""],
      [record.receivedAt == null ? "–" : time(record.receivedAt), ""],
      [roundTrip + " ms", "num rt"],
    ];
    for (const [text, cls] of cells) {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (cls) {
        cell.className = cls;
      }
      row.append(cell);
    }
    const body = $("stream-rows");
    body.prepend(row);
    while (body.childElementCount > 200) {
      body.lastElementChild.remove();
    }
  }

  if (params.get("stream") !== "0" && typeof EventSource === "function") {
    // /stream has the same API key rules as /ws; EventSource cannot set headers either.
    const source = new EventSource(withToken("stream?clientId=" + encodeURIComponent(clientId)));
    page.stream.source = source;
    source.addEventListener("ready", () => setStreamState("live"));
    source.addEventListener("telemetry", onTelemetry);
    source.addEventListener("dropped", (e) => {
      page.stream.dropped += JSON.parse(e.data).dropped;
      $("stream-dropped").textContent = page.stream.dropped;
    });
    source.addEventListener("error", () => {
      // EventSource retries by itself (the server asks for 2 s) unless the answer was not SSE.
      setStreamState(source.readyState === EventSource.CLOSED ? "unavailable" : "reconnecting");
    });
  } else {
    setStreamState("off");
  }

  // ---- gateway totals (/stats) -----------------------------------------------------------------

  let previous = null;

  async function pollStats() {
    try {
      // With Ingest:Management:RequireApiKey, /stats needs the key too.
      const response = await fetch(withToken("stats"), { cache: "no-store" });
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      const s = await response.json();
      const now = performance.now();
      $("stats-state").textContent = "live";
      $("stats-state").dataset.state = "live";
      $("stat-connections").textContent = s.connectionsActive;
      $("stat-events").textContent = s.eventsReceived;
      $("stat-messages").textContent = s.messagesReceived;
      $("stat-rejected").textContent = s.messagesRejected;
      $("stat-failed").textContent = s.messagesDeliveryFailed;
      $("stat-depth").textContent = s.channelDepth + " / " + s.channelCapacity;
      $("stat-depth-meter").value = s.channelCapacity ? s.channelDepth / s.channelCapacity : 0;
      if (previous) {
        const seconds = (now - previous.at) / 1000;
        $("stat-rate-in").textContent = Math.round((s.eventsReceived - previous.s.eventsReceived) / seconds);
        $("stat-rate-out").textContent = Math.round((s.eventsDelivered - previous.s.eventsDelivered) / seconds);
      }
      previous = { s: s, at: now };
    } catch (e) {
      previous = null;
      $("stats-state").textContent = "unavailable";
      $("stats-state").dataset.state = "unavailable";
    }
  }

  if (params.get("stats") !== "0") {
    pollStats();
    setInterval(pollStats, 1000);
  }
})();
