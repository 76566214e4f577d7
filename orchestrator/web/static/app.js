// The dashboard page: renders the snapshots the server pushes over /ws (first paint from
// /api/state). Plain DOM, text only (textContent, never innerHTML: names and messages come from
// schedules and platforms). Between pushes the clock and the countdown run on locally.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  let snap = null; // the latest snapshot
  let receivedAt = 0; // performance.now() when it arrived
  let clockFormat = null; // Intl formatters for the event's time zone
  let retryMs = 500;

  // ------------------------------------------------------------------ small helpers

  function h(tag, props, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else el.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === "") continue;
      el.append(c instanceof Node ? c : String(c));
    }
    return el;
  }

  const FINAL = ["ended", "cancelled"];
  const hhmm = (iso) => (iso ? iso.slice(11, 16) : "");
  const hhmmss = (iso) => (iso ? iso.slice(11, 19) : "");
  const pill = (word) => h("span", { class: `pill ${word}` }, word.replace("_", " "));

  function titleOf(title) {
    // Korean first (the host's language), English under it; whatever exists otherwise.
    title = title || {};
    const langs = Object.keys(title || {});
    const main = title.ko || title[langs[0]] || "";
    const alt = title.ko ? title.en || "" : langs.slice(1).map((l) => title[l]).join(" / ");
    return { main, alt };
  }

  function formatCountdown(s) {
    if (s <= 0) return "due";
    if (s >= 3600) {
      const hrs = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
      return `${hrs}:${String(m).padStart(2, "0")}:${String(sec).padStart(2, "0")}`;
    }
    const m = Math.floor(s / 60), sec = s - m * 60;
    return `${String(m).padStart(2, "0")}:${sec.toFixed(1).padStart(4, "0")}`;
  }

  function lateClass(ms) {
    const a = Math.abs(ms);
    return a < 100 ? "late-ok" : a < 1000 ? "late-warn" : "late-bad";
  }

  function setFormatters(tz) {
    if (clockFormat && clockFormat.tz === tz) return;
    try {
      clockFormat = {
        tz,
        time: new Intl.DateTimeFormat("en-GB", { timeZone: tz, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }),
        date: new Intl.DateTimeFormat("ko-KR", { timeZone: tz, year: "numeric", month: "long", day: "numeric", weekday: "short" }),
      };
    } catch (e) {
      clockFormat = null; // unknown zone in this browser: the clock shows the server's text
    }
  }

  // ------------------------------------------------------------------ rendering

  function renderEvent(s) {
    const name = titleOf(s.event.name);
    $("event-name").textContent = name.main;
    $("event-name-alt").textContent = name.alt;
    document.title = `${s.on_air ? "● ON AIR — " : ""}${name.main}`;
    const p = s.progress;
    $("progress").textContent = p.total ? `actions ${p.done}/${p.total}${p.failed ? ` · ${p.failed} failed` : ""}` : "no plan attached";
  }

  function renderOnAir(s) {
    const box = $("onair");
    const lamp = $("onair-lamp");
    let state = "off", label = "Nothing on air", title = { main: "", alt: "" }, meta = "";
    if (s.on_air) {
      state = s.on_air.state === "overrun" ? "overrun" : "live";
      lamp.textContent = state === "overrun" ? "OVERRUN" : "ON AIR";
      label = `on air since ${hhmmss(s.on_air.since)}`;
      title = titleOf(s.on_air.title);
      meta = `scheduled end ${hhmm(s.on_air.end)}`;
    } else {
      const focus = s.sessions.find((x) => x.id === s.focus_session);
      lamp.textContent = "OFF AIR";
      if (focus && FINAL.includes(focus.state)) {
        meta = "all sessions done";
      } else if (focus) {
        if (focus.state === "standby") { state = "standby"; lamp.textContent = "STAND-BY"; }
        label = `next: ${focus.state}`;
        title = titleOf(focus.title);
        meta = `on air at ${hhmm(focus.start)}`;
      }
    }
    box.dataset.state = state;
    box.dataset.session = s.on_air ? s.on_air.id : "";
    $("onair-label").textContent = label;
    $("onair-title-ko").textContent = title.main;
    $("onair-title-en").textContent = title.alt;
    $("onair-meta").textContent = meta;
  }

  function renderSessions(s) {
    const rows = s.sessions.map((x) => {
      const t = titleOf(x.title);
      return h("tr", { class: x.id === s.focus_session ? "current" : "", "data-session": x.id, "data-state": x.state },
        h("td", {}, h("div", {}, t.main), h("div", { class: "title-alt" }, t.alt)),
        h("td", { class: "mono" }, `${hhmm(x.start)}–${hhmm(x.end)}`),
        h("td", {}, pill(x.state)),
        h("td", { class: "mono" }, x.on_air ? hhmmss(x.on_air) : "—"));
    });
    $("sessions").replaceChildren(...rows);
  }

  function renderDestinations(s) {
    const focus = s.sessions.find((x) => x.id === s.focus_session);
    $("dest-session").textContent = focus ? `· ${titleOf(focus.title).main}${FINAL.includes(focus.state) ? ` (${focus.state})` : ""}` : "";
    const rows = s.destinations.map((d) => {
      const ids = Object.entries(d.platform_ids).map(([k, v]) => h("div", {}, h("span", { class: "dim" }, `${k} `), v));
      const last = d.last_action;
      return h("tr", { "data-destination": d.id },
        h("td", {}, h("div", {}, d.name), d.name !== d.id ? h("div", { class: "dim small mono" }, d.id) : null),
        h("td", {}, d.kind),
        h("td", {}, d.language),
        h("td", { class: "mono small" }, ids.length ? ids : "—"),
        h("td", { class: "mono small ingest" }, d.ingest || "—", d.backup_ingest ? h("div", { class: "dim" }, `backup ${d.backup_ingest}`) : null),
        h("td", { title: last && last.error ? last.error : "" }, pill(d.status),
          last ? h("div", { class: "dim small" }, `${last.kind}${last.error_ms !== null ? ` ${last.error_ms.toFixed(0)} ms` : ""}`) : null));
    });
    $("destinations").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 6, class: "dim" }, "No session to show"))]));
  }

  function renderAlerts(s) {
    const errors = s.alerts.filter((a) => a.level === "error").length;
    const count = $("alert-count");
    count.textContent = s.alerts.length ? `${s.alerts.length}${errors ? ` · ${errors} error${errors > 1 ? "s" : ""}` : ""}` : "";
    count.className = `count${errors ? " errors" : ""}`;
    const items = s.alerts.map((a) =>
      h("li", { class: a.level, "data-seq": a.seq },
        h("span", { class: "level" }, a.level),
        h("span", { class: "mono small" }, hhmmss(a.at)),
        h("span", { class: "where" }, [a.session, a.destination].filter(Boolean).join(" / ")),
        h("span", { class: "message" }, a.message)));
    $("alerts").replaceChildren(...(items.length ? items : [h("li", { class: "empty" }, "No alerts")]));
  }

  function renderActions(s) {
    const rows = s.recent_actions.map((a) =>
      h("tr", { "data-action": a.id },
        h("td", { class: "mono small" }, a.executed ? hhmmss(a.executed) : "—"),
        h("td", {}, h("div", { class: "mono small" }, a.id), h("div", { class: "dim small" }, a.error || a.why || a.label)),
        h("td", {}, pill(a.outcome)),
        h("td", { class: `num ${a.error_ms !== null ? lateClass(a.error_ms) : ""}` }, a.error_ms !== null ? a.error_ms.toFixed(1) : "—")));
    $("actions").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 4, class: "dim" }, "Nothing has run yet"))]));
  }

  function render() {
    const s = snap;
    setFormatters(s.event.timezone);
    renderEvent(s);
    renderOnAir(s);
    renderSessions(s);
    renderDestinations(s);
    renderAlerts(s);
    renderActions(s);
    tick();
  }

  // Runs every 100 ms: the clock and the countdown between two pushes.
  function tick() {
    if (!snap) return;
    const elapsed = Math.min((performance.now() - receivedAt) / 1000, 2); // a stale push does not run on forever
    const eventMs = snap.now_ms + elapsed * 1000 * snap.clock_rate;
    if (clockFormat) {
      const d = new Date(eventMs);
      $("clock-time").textContent = clockFormat.time.format(d);
      $("clock-date").textContent = `${clockFormat.date.format(d)} · ${snap.zone || snap.event.timezone}`;
    } else {
      $("clock-time").textContent = hhmmss(snap.now);
    }
    const next = snap.next_changeover;
    const cd = $("countdown");
    if (next) {
      const left = next.countdown_s - elapsed;
      cd.textContent = formatCountdown(left);
      cd.classList.toggle("soon", left < 10);
      const t = titleOf(next.title);
      $("next-what").replaceChildren(
        h("span", { class: `change ${next.change}` }, next.change === "on_air" ? "ON AIR" : "OFF AIR"),
        `${t.main}${t.alt ? ` / ${t.alt}` : ""}`,
        h("span", { class: "dim" }, ` at ${hhmm(next.at)}`));
    } else {
      cd.textContent = "--:--";
      cd.classList.remove("soon");
      $("next-what").textContent = snap.progress.total && snap.progress.done === snap.progress.total ? "All sessions done" : "—";
    }
    const na = snap.next_action;
    $("next-action").textContent = na ? `next action ${na.id} (${na.label}) in ${formatCountdown(na.countdown_s - elapsed)}` : "";
    const link = $("link");
    if (link.dataset.state === "live" && performance.now() - receivedAt > 3000) {
      link.dataset.state = "stale";
      link.textContent = "no update for 3 s";
    }
  }

  function accept(data) {
    snap = data;
    receivedAt = performance.now();
    render();
  }

  // ------------------------------------------------------------------ transport

  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    const link = $("link");
    ws.onopen = () => { retryMs = 500; };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      if (msg.type === "snapshot") {
        link.dataset.state = "live";
        link.textContent = "live";
        accept(msg.data);
      }
    };
    ws.onclose = () => {
      link.dataset.state = "down";
      link.textContent = "disconnected — retrying";
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  }

  fetch("/api/state", { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : null))
    .then((data) => { if (data && !snap) accept(data); })
    .catch(() => {});
  connect();
  setInterval(tick, 100);
})();
