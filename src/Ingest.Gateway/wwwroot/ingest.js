/*
 * ingest.js: a dependency-free browser client for the Ingest gateway (wire protocol version 1).
 *
 *   <script src="https://gateway.example.com/ingest.js"></script>
 *   const ingest = new Ingest.Client({ apiKey: "k1", clientId: "checkout-page" });
 *   ingest.send({ msg: "clicked buy" });          // clientId and timestamp are filled in
 *   ingest.setApiKey(newToken);                   // a fresh short-lived token for the next connection
 *
 * What it does (docs/browser-client.md, "ingest.js"):
 * - batches events: a message goes out when maxBatch events are queued or flushIntervalMs after
 *   the first one; one event goes as a JSON object, more as an array (at most 1000, the protocol's
 *   limit), split further so that no message exceeds maxMessageBytes;
 * - numbers its messages 1, 2, 3, ... per connection exactly as the gateway does, keeps every
 *   unacked message and drops it on the cumulative {"type":"ack","upTo":N};
 * - on an error frame counts it; delivery_failed messages are queued again, other codes are final;
 * - reconnects with jittered exponential backoff (or after draining's reconnectAfterMs) and sends
 *   the unacked messages first on the new connection, renumbered;
 * - holds at most maxBuffered events; past that the oldest not on the wire are dropped and counted;
 * - flushes at once when the page is hidden or unloaded (pagehide, visibilitychange).
 *
 * Loaded as a classic script it defines the global `Ingest`; under CommonJS it is module.exports.
 */
(function (root, factory) {
  "use strict";
  if (typeof module === "object" && module.exports) {
    module.exports = factory(root);
  } else {
    root.Ingest = factory(root);
  }
})(typeof globalThis !== "undefined" ? globalThis : this, function (root) {
  "use strict";

  /** The protocol's largest batch (wire protocol: an array of 1 to 1000 objects). */
  const MAX_BATCH = 1000;

  /** Where this script was loaded from: the default gateway when the page lives elsewhere. */
  const scriptSrc = root.document && root.document.currentScript ? root.document.currentScript.src : null;

  const DEFAULTS = {
    url: null, // default: ws(s)://<host that served ingest.js>/ws, else the page's host
    apiKey: null, // sent as ?access_token=<key> (browsers cannot set the Authorization header)
    clientId: null, // put into events that have none
    maxBatch: 100, // events per message before a flush is forced (1 to 1000)
    flushIntervalMs: 50, // how long the first queued event waits for company
    maxMessageBytes: 1048576, // the gateway's Ingest:WebSocket:MaxMessageBytes
    maxBuffered: 10000, // events held (queued, waiting to be resent, or unacked)
    backoffMinMs: 250, // first reconnect delay
    backoffMaxMs: 30000, // reconnect delays grow up to this
    stableAfterMs: 5000, // a connection that lived this long resets the backoff
    maxSocketBufferBytes: 1048576, // pause sending while the socket's own send buffer holds more
    autoConnect: true,
  };

  const COUNTERS = ["sent", "acked", "errors", "rejected", "buffered", "dropped", "resent", "reconnects", "messages"];

  function defaultUrl() {
    const base = scriptSrc || (root.location ? root.location.href : null);
    if (!base) {
      throw new Error("ingest.js: no url given and no page location to derive one from");
    }
    const origin = new URL(base);
    return (origin.protocol === "https:" ? "wss:" : "ws:") + "//" + origin.host + "/ws";
  }

  function withApiKey(url, apiKey) {
    if (!apiKey && !/[?&]access_token=/.test(url)) {
      return url;
    }
    const parsed = new URL(url);
    if (apiKey) {
      parsed.searchParams.set("access_token", apiKey);
    } else {
      parsed.searchParams.delete("access_token");
    }
    return parsed.toString();
  }

  function utf8Length(text) {
    // A UTF-16 code unit is at most 3 UTF-8 bytes; count exactly only when it could matter.
    return text.length * 3 <= 65536 ? text.length * 3 : new TextEncoder().encode(text).length;
  }

  /**
   * One client: one WebSocket at a time, reconnecting until close() is called.
   * Events (EventTarget): open, close, ack, error, draining, dropped, stats.
   */
  class Client extends EventTarget {
    constructor(options) {
      super();
      const o = Object.assign({}, DEFAULTS);
      for (const [key, value] of Object.entries(options || {})) {
        if (value !== undefined && value !== null) {
          o[key] = value; // undefined or null keeps the default, so callers can pass optional values through
        }
      }
      o.maxBatch = Math.max(1, Math.min(MAX_BATCH, o.maxBatch | 0));
      o.maxBuffered = Math.max(1, o.maxBuffered | 0);
      this.options = o;
      this.url = withApiKey(o.url || defaultUrl(), o.apiKey);

      /** Counters; read them any time, or listen for "stats". */
      this.counters = {};
      for (const name of COUNTERS) {
        this.counters[name] = 0;
      }

      this._queue = []; // events never sent: { event, json }
      this._outbox = []; // messages to send again first: arrays of { event, json }
      this._unacked = []; // messages on the current connection: { seq, items, failed }
      this._socket = null;
      this._seq = 0; // messages sent on the current connection
      this._attempt = 0;
      this._nextDelayMs = null; // set by draining
      this._flushTimer = null;
      this._reconnectTimer = null;
      this._closed = false;
      this._openedAt = 0;
      this._everOpened = false;
      this._statsScheduled = false;
      this._idleWaiters = [];

      // Leaving or hiding the page: send what is queued now, the timer may never fire again.
      this._onPageHide = () => this._flushNow();
      this._onVisibility = () => {
        if (root.document.visibilityState === "hidden") {
          this._flushNow();
        }
      };
      this._onOnline = () => {
        // The browser says the network is back: skip the rest of the backoff.
        if (!this._socket && !this._closed) {
          this._attempt = 0;
          this._clearReconnectTimer();
          this._connectNow();
        }
      };
      this._listen(true);

      if (o.autoConnect) {
        this._connectNow();
      }
    }

    /** "connecting", "open", "draining", "offline" (waiting to reconnect) or "closed". */
    get state() {
      if (this._closed) {
        return "closed";
      }
      if (!this._socket) {
        return "offline";
      }
      if (this._socket.draining) {
        return "draining";
      }
      return ["connecting", "open", "closing", "closing"][this._socket.readyState];
    }

    /**
     * Queues one event (an object). clientId and timestamp (Unix ms) are added when missing.
     * Returns false when the client is closed.
     */
    send(event) {
      if (this._closed) {
        return false;
      }
      const e = Object.assign({}, event);
      if (e.clientId === undefined && this.options.clientId != null) {
        e.clientId = this.options.clientId;
      }
      if (e.timestamp === undefined) {
        e.timestamp = Date.now();
      }
      this._queue.push({ event: e, json: JSON.stringify(e) });
      this.counters.buffered++;
      this._enforceBound();
      if (this._queue.length >= this.options.maxBatch) {
        this._pump();
      } else if (this._flushTimer === null) {
        this._flushTimer = setTimeout(() => {
          this._flushTimer = null;
          this._pump();
        }, this.options.flushIntervalMs);
      }
      this._changed();
      return true;
    }

    /**
     * Sends everything queued now, without waiting for the batch timer. The returned promise
     * resolves once nothing is buffered (every event acked, rejected or dropped).
     */
    flush() {
      this._flushNow();
      return this.idle();
    }

    _flushNow() {
      this._clearFlushTimer();
      this._pump();
    }

    /** Resolves once nothing is buffered. */
    idle() {
      if (this.counters.buffered === 0) {
        return Promise.resolve();
      }
      return new Promise((resolve) => this._idleWaiters.push(resolve));
    }

    /**
     * Uses apiKey (an API key or a new token from the page's backend) from the next connection on;
     * the open one goes on (the gateway checks credentials at the handshake only).
     */
    setApiKey(apiKey) {
      this.url = withApiKey(this.url, apiKey);
    }

    /** Drops the current connection and connects again at once; unacked messages are resent. */
    reconnect() {
      if (this._closed) {
        return;
      }
      this._dropSocket(4000, "client reconnect", 0);
      this._clearReconnectTimer();
      this._connectNow();
      this._changed();
    }

    /** Closes for good (1000): no reconnects; what is still buffered stays unsent. */
    close() {
      if (this._closed) {
        return;
      }
      this._closed = true;
      this._clearFlushTimer();
      this._clearReconnectTimer();
      this._dropSocket(1000, "client closed", null);
      this._listen(false);
      this._changed();
    }

    _listen(on) {
      const method = on ? "addEventListener" : "removeEventListener";
      if (typeof root[method] === "function") {
        root[method]("pagehide", this._onPageHide);
        root[method]("online", this._onOnline);
      }
      if (root.document && typeof root.document[method] === "function") {
        root.document[method]("visibilitychange", this._onVisibility);
      }
    }

    // ---- connection ----------------------------------------------------------------------------

    _connectNow() {
      this._reconnectTimer = null;
      let socket;
      try {
        socket = new WebSocket(this.url);
      } catch (e) {
        // A malformed URL or a blocked port throws synchronously; treat it like a failed attempt.
        this._scheduleReconnect();
        return;
      }
      socket.draining = false;
      this._socket = socket;
      this._seq = 0;
      socket.onopen = () => {
        if (socket !== this._socket) {
          return;
        }
        this._openedAt = Date.now();
        if (this._everOpened) {
          this.counters.reconnects++;
        }
        this._everOpened = true;
        this._emit("open", { url: this.url });
        this._pump();
        this._changed();
      };
      socket.onmessage = (message) => {
        if (socket === this._socket) {
          this._onFrame(socket, message.data);
        }
      };
      socket.onclose = (e) => {
        if (socket === this._socket) {
          this._onClosed(e.code, e.reason);
        }
      };
      socket.onerror = () => {
        // Always followed by close, which handles it.
      };
      this._changed();
    }

    _onFrame(socket, data) {
      let frame;
      try {
        frame = JSON.parse(data);
      } catch (e) {
        return;
      }
      if (frame.type === "ack") {
        this._onAck(frame.upTo);
      } else if (frame.type === "error") {
        this._onError(frame);
      } else if (frame.type === "draining") {
        // The gateway stops reading at a message boundary: send nothing more on this socket; it
        // acks what it read, closes with 1001, and we come back after the hinted delay.
        socket.draining = true;
        this._nextDelayMs = Math.max(0, frame.reconnectAfterMs | 0);
        this._emit("draining", { reconnectAfterMs: this._nextDelayMs });
        this._changed();
      }
    }

    _onAck(upTo) {
      let count = 0;
      const events = [];
      while (this._unacked.length > 0 && this._unacked[0].seq <= upTo) {
        const message = this._unacked.shift();
        if (message.failed) {
          continue; // resolved by its error frame; already counted there
        }
        count += message.items.length;
        for (const item of message.items) {
          events.push(item.event);
        }
      }
      this._attempt = 0; // the gateway answers: this connection works
      this.counters.acked += count;
      this.counters.buffered -= count;
      this._emit("ack", { upTo: upTo, count: count, events: events });
      this._changed();
      this._pump();
    }

    _onError(frame) {
      this.counters.errors++;
      const message = this._unacked.find((m) => m.seq === frame.seq);
      const items = message ? message.items : [];
      if (message) {
        message.failed = true;
        if (frame.code === "delivery_failed") {
          // Kafka did not take it in time: the client may send it again (at-least-once).
          this._outbox.push(items);
        } else {
          // Rejected for good: sending it again would be rejected again.
          this.counters.rejected += items.length;
          this.counters.buffered -= items.length;
        }
      }
      this._emit("error", {
        seq: frame.seq,
        code: frame.code,
        message: frame.message,
        events: items.map((i) => i.event),
      });
      this._changed();
    }

    _onClosed(code, reason) {
      if (this._openedAt && Date.now() - this._openedAt >= this.options.stableAfterMs) {
        this._attempt = 0;
      }
      this._detach();
      const delay = this._closed ? null : this._scheduleReconnect();
      this._emit("close", { code: code, reason: reason, reconnectInMs: delay });
      this._changed();
    }

    _scheduleReconnect() {
      let delay;
      if (this._nextDelayMs !== null) {
        delay = this._nextDelayMs;
        this._nextDelayMs = null;
      } else {
        // Exponential backoff with "equal jitter": half fixed, half random, so a fleet of pages
        // that lost the same gateway does not come back in step.
        const o = this.options;
        const ceiling = Math.min(o.backoffMaxMs, o.backoffMinMs * Math.pow(2, this._attempt));
        delay = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
        this._attempt = Math.min(this._attempt + 1, 30);
      }
      this._clearReconnectTimer();
      this._reconnectTimer = setTimeout(() => this._connectNow(), delay);
      return delay;
    }

    _dropSocket(code, reason, reconnectInMs) {
      const socket = this._socket;
      if (!socket) {
        return;
      }
      try {
        socket.close(code, reason);
      } catch (e) {
        // already closing
      }
      // Forget it now: its close event is ignored (socket !== this._socket), and acks that
      // might still arrive on it cannot be matched to the renumbered resends.
      this._detach();
      this._emit("close", { code: code, reason: reason, reconnectInMs: reconnectInMs });
    }

    /** Forgets the socket; every unacked message goes back ahead of the unsent ones, in order. */
    _detach() {
      const back = [];
      for (const message of this._unacked) {
        if (!message.failed) {
          back.push(message.items);
        }
      }
      this._outbox = back.concat(this._outbox);
      this._unacked = [];
      this._socket = null;
      this._openedAt = 0;
    }

    // ---- sending -------------------------------------------------------------------------------

    /** Sends what the socket can take: resends first, then queued events in batches. */
    _pump() {
      const socket = this._socket;
      if (!socket || socket.readyState !== 1 || socket.draining) {
        return;
      }
      while (socket.bufferedAmount <= this.options.maxSocketBufferBytes) {
        if (this._outbox.length > 0) {
          const items = this._outbox.shift();
          this.counters.resent += items.length;
          this._sendMessage(socket, items);
          continue;
        }
        if (this._queue.length === 0) {
          break;
        }
        const items = this._queue.splice(0, this.options.maxBatch);
        this.counters.sent += items.length;
        this._sendMessage(socket, items);
      }
      if ((this._queue.length > 0 || this._outbox.length > 0) && this._flushTimer === null) {
        // The socket's buffer is full: try again shortly.
        this._flushTimer = setTimeout(() => {
          this._flushTimer = null;
          this._pump();
        }, this.options.flushIntervalMs);
      }
      this._changed();
    }

    _sendMessage(socket, items) {
      const text = items.length === 1 ? items[0].json : "[" + items.map((i) => i.json).join(",") + "]";
      if (utf8Length(text) > this.options.maxMessageBytes) {
        if (items.length > 1) {
          const half = Math.ceil(items.length / 2);
          this._sendMessage(socket, items.slice(0, half));
          this._sendMessage(socket, items.slice(half));
          return;
        }
        // One event over the gateway's limit would close the connection (1009), again and again.
        this.counters.dropped++;
        this.counters.buffered--;
        this._emit("dropped", { count: 1, reason: "event larger than maxMessageBytes", events: [items[0].event] });
        return;
      }
      socket.send(text);
      this._seq++;
      this.counters.messages++;
      this._unacked.push({ seq: this._seq, items: items, failed: false });
    }

    /**
     * Keeps at most maxBuffered events: drops the oldest not on the wire (waiting to be resent,
     * then never sent). Events sent on the open connection wait for their ack and are not dropped.
     */
    _enforceBound() {
      let excess = this.counters.buffered - this.options.maxBuffered;
      if (excess <= 0) {
        return;
      }
      const dropped = [];
      while (excess > 0 && this._outbox.length > 0) {
        const first = this._outbox[0];
        const take = Math.min(excess, first.length);
        for (const item of first.splice(0, take)) {
          dropped.push(item.event);
        }
        if (first.length === 0) {
          this._outbox.shift();
        }
        excess -= take;
      }
      if (excess > 0) {
        for (const item of this._queue.splice(0, excess)) {
          dropped.push(item.event);
        }
      }
      this.counters.dropped += dropped.length;
      this.counters.buffered -= dropped.length;
      this._emit("dropped", { count: dropped.length, reason: "maxBuffered", events: dropped });
    }

    // ---- plumbing ------------------------------------------------------------------------------

    _clearFlushTimer() {
      if (this._flushTimer !== null) {
        clearTimeout(this._flushTimer);
        this._flushTimer = null;
      }
    }

    _clearReconnectTimer() {
      if (this._reconnectTimer !== null) {
        clearTimeout(this._reconnectTimer);
        this._reconnectTimer = null;
      }
    }

    _emit(type, detail) {
      this.dispatchEvent(new CustomEvent(type, { detail: detail }));
    }

    /** Coalesces counter changes into one "stats" event per task, and wakes idle() waiters. */
    _changed() {
      if (this.counters.buffered === 0 && this._idleWaiters.length > 0) {
        const waiters = this._idleWaiters;
        this._idleWaiters = [];
        for (const resolve of waiters) {
          resolve();
        }
      }
      if (this._statsScheduled) {
        return;
      }
      this._statsScheduled = true;
      queueMicrotask(() => {
        this._statsScheduled = false;
        this._emit("stats", this.stats());
      });
    }

    /** A copy of the counters plus the connection state. */
    stats() {
      return Object.assign({ state: this.state }, this.counters);
    }
  }

  return { Client: Client, version: 1 };
});
