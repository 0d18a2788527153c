/*
 * The test page at /: sends telemetry with ingest.js, shows the client's counters, the events
 * coming back from Kafka through /stream, and the gateway's /stats.
 *
 * Query parameters (all optional): clientId, rate (events/s, default 1), batch, interval,
 * maxBuffered, backoffMin, backoffMax (ingest.js options), url (the WebSocket URL),
 * access_token (API key or token, for /ws, /stream and /stats), stream=0 (no /stream), stats=0
 * (no /stats polling). Every URL is relative to the page: served over https, the page uses wss:// and https://.
 * Tests read window.ingestPage: { client, clientId, setRate, generated(), ackedSeqs, stream }.
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
