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
  const BEFORE_AIR = ["scheduled", "preparing", "standby"];
  const enc = encodeURIComponent;
  let me = null; // who the server says we are: {name, role, via, loopback_only, csrf_token}
  let signedOut = false; // the server ended this page's access: nothing shown, no reconnecting
  let lastVersion = -1; // the snapshot version last rendered (a restarted server starts again)
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
        h("td", {}, pill(x.state), x.held ? h("span", { class: "held-badge" }, "HELD") : null),
        h("td", { class: "mono" }, x.on_air ? hhmmss(x.on_air) : "—"),
        h("td", {}, BEFORE_AIR.includes(x.state)
          ? operatorButton("Cancel", { class: "danger small-btn", "data-cancel": x.id }, () => {
            if (confirm(`Cancel session ${x.id}? It will not go on air.`)) post(`/api/sessions/${enc(x.id)}/cancel`);
          })
          : null));
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
          last ? h("div", { class: "dim small" }, `${last.kind}${last.error_ms !== null ? ` ${last.error_ms.toFixed(0)} ms` : ""}`) : null),
        h("td", {}, ["feeding", "live"].includes(d.status) && focus
          ? operatorButton("Restart", { class: "small-btn", "data-restart": d.id }, () => post(`/api/sessions/${enc(focus.id)}/destinations/${enc(d.id)}/restart`))
          : null));
    });
    $("destinations").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "dim" }, "No session to show"))]));
  }

  function renderAlerts(s) {
    const errors = s.alerts.filter((a) => a.level === "error").length;
    const count = $("alert-count");
    count.textContent = s.alerts.length ? `${s.alerts.length}${errors ? ` · ${errors} error${errors > 1 ? "s" : ""}` : ""}` : "";
    count.className = `count${errors ? " errors" : ""}`;
    const items = s.alerts.map((a) =>
      h("li", { class: `${a.level}${a.acknowledged_by ? " acked" : ""}`, "data-seq": a.seq },
        h("span", { class: "level" }, a.level),
        h("span", { class: "mono small" }, hhmmss(a.at)),
        h("span", { class: "where" }, [a.session, a.destination].filter(Boolean).join(" / ")),
        a.acknowledged_by
          ? h("span", { class: "acked-by" }, `✓ ${a.acknowledged_by}`)
          : operatorButton("Acknowledge", { class: "ack", "data-ack": a.seq }, () => post(`/api/alerts/${a.seq}/acknowledge`)),
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


  // ------------------------------------------------------------------ the control room

  const canOperate = () => me !== null && (me.role === "operator" || me.role === "admin");

  function operatorButton(label, props, onClick) {
    const b = h("button", { ...props, type: "button" }, label);
    b.addEventListener("click", onClick);
    b.classList.add("operator-only");
    b.disabled = !canOperate();
    return b;
  }

  function showResult(ok, text) {
    const el = $("command-result");
    el.textContent = text;
    el.dataset.ok = ok ? "yes" : "no";
  }

  async function post(path, body) {
    try {
      const r = await fetch(path, {
        method: "POST",
        // The session cookie's double-submit token (from /api/me); none on loopback or with a token.
        headers: { "Content-Type": "application/json", ...(me && me.csrf_token ? { "X-CSRF-Token": me.csrf_token } : {}) },
        body: JSON.stringify(body || {}),
        credentials: "same-origin",
      });
      const data = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
      if (r.ok) showResult(true, `#${data.seq} ${data.command}${data.session ? ` ${data.session}` : ""}: ${data.detail}`);
      else showResult(false, `${r.status}: ${data.error || "refused"}`);
      if (r.ok) refreshAsRun();
      return r.ok;
    } catch (e) {
      showResult(false, `not sent: ${e}`);
      return false;
    }
  }

  function controlSession(s) {
    return s.on_air ? s.on_air.id : s.focus_session;
  }

  function renderTimeline(s) {
    const days = new Map();
    for (const x of s.sessions) {
      if (!days.has(x.day)) days.set(x.day, []);
      days.get(x.day).push(x);
    }
    const nowMs = s.now_ms;
    const blocks = [];
    for (const [day, sessions] of days) {
      const t0 = Math.min(...sessions.map((x) => Date.parse(x.start)));
      const t1 = Math.max(...sessions.map((x) => Date.parse(x.end)));
      const span = Math.max(t1 - t0, 1);
      const pos = (iso) => `${(100 * (Date.parse(iso) - t0)) / span}%`;
      const track = h("div", { class: "track" });
      for (const x of sessions) {
        const block = h("div", { class: `tl-session ${x.state}${x.held ? " held" : ""}`, "data-session": x.id, title: titleOf(x.title).main },
          h("div", { class: "tl-title" }, `${hhmm(x.start)} ${titleOf(x.title).main}${x.held ? " · HELD" : ""}`));
        block.style.left = pos(x.start);
        block.style.width = `${(100 * (Date.parse(x.end) - Date.parse(x.start))) / span}%`;
        const s0 = Date.parse(x.start), sw = Math.max(Date.parse(x.end) - s0, 1);
        const segs = h("div", { class: "tl-segments" });
        x.segments.forEach((g, i) => {
          const next = x.segments[i + 1];
          const end = next ? Date.parse(next.at) : Date.parse(x.end);
          const seg = h("div", { class: `tl-seg ${g.kind} ${g.status}`, "data-cue": g.id, title: `${hhmmss(g.at)} ${g.label} (${g.status})` }, g.label);
          seg.style.left = `${(100 * (Date.parse(g.at) - s0)) / sw}%`;
          seg.style.width = `${(100 * Math.max(end - Date.parse(g.at), 0)) / sw}%`;
          segs.append(seg);
        });
        block.append(segs);
        track.append(block);
      }
      if (nowMs >= t0 && nowMs <= t1) {
        const now = h("div", { class: "tl-now", id: "tl-now" });
        now.style.left = `${(100 * (nowMs - t0)) / span}%`;
        track.append(now);
      }
      blocks.push(h("div", { class: "tl-day" }, h("div", { class: "tl-date" }, day), track,
        h("div", { class: "tl-scale" }, h("span", {}, hhmm(sessions[0].start)), h("span", {}, hhmm(sessions[sessions.length - 1].end)))));
    }
    $("timeline").replaceChildren(...blocks);
    $("timeline-note").textContent = s.held.length ? `held: ${s.held.join(", ")}` : "";
  }

  function renderMonitors(s) {
    const p = s.programme;
    $("monitor-session").textContent = p ? `· ${p.session}` : "";
    $("programme-held").hidden = !(p && p.held);
    const showing = p && p.showing;
    $("programme-caption").textContent = showing
      ? `${showing.label}${showing.by !== "schedule" ? ` (by ${showing.by})` : ""} · since ${hhmmss(showing.since)}${showing.fallback ? ` · fallback: ${showing.fallback}` : ""}`
      : "nothing taken yet";
    const nxt = p && p.next;
    $("preview-card").replaceChildren(nxt
      ? h("div", {}, h("div", { class: `preview-kind ${nxt.kind}` }, nxt.kind), h("div", { class: "preview-label" }, nxt.label),
        h("div", { class: "dim small" }, nxt.source || ""))
      : "—");
    $("preview-caption").textContent = nxt ? `at ${hhmmss(nxt.at)}${p.held ? " · held" : ""}` : "no segment left";
    $("preview-caption").dataset.countdown = nxt ? nxt.countdown_s : "";
  }

  function renderControl(s) {
    const sid = controlSession(s);
    const state = (s.sessions.find((x) => x.id === sid) || {}).state || "";
    $("control-session").textContent = sid ? `· ${sid} (${state})` : "";
    const operator = canOperate();
    $("viewer-note").hidden = operator || me === null;
    $("control-buttons").hidden = !operator;
    const held = sid && s.held.includes(sid);
    $("btn-hold").disabled = !operator || !sid || held;
    $("btn-resume").disabled = !operator || !held;
    const select = $("take-segment");
    const session = s.sessions.find((x) => x.id === sid);
    const wanted = session ? session.segments.map((g) => `${g.segment}|${g.label}`).join(",") : "";
    if (select.dataset.key !== wanted) {
      select.dataset.key = wanted;
      select.replaceChildren(...(session ? session.segments.map((g) => h("option", { value: g.segment }, `${hhmm(g.at)} ${g.label}`)) : []));
    }
    const langs = s.programme ? s.programme.languages : [];
    const booths = s.booths.map((b) => b.booth);
    const routeKey = `${sid}|${langs.join(",")}|${booths.join(",")}`;
    const row = $("route-row");
    if (row.dataset.key !== routeKey) {
      row.dataset.key = routeKey;
      row.replaceChildren(...langs.map((lang) => {
        const sel = h("select", { "aria-label": `${lang} programme source`, "data-route": lang },
          ...["auto", "floor", ...booths].map((m) => h("option", { value: m }, m)));
        const b = h("button", { type: "button", "data-route-apply": lang }, `Route ${lang}`);
        b.addEventListener("click", () => post(`/api/sessions/${enc(controlSession(snap))}/languages/${enc(lang)}/route`, { mode: sel.value }));
        return h("span", { class: "route" }, sel, b);
      }));
    }
    for (const r of s.routes.filter((x) => x.session === sid)) {
      const b = row.querySelector(`[data-route-apply="${r.language}"]`);
      if (b) b.title = `now: ${r.source} (${r.reason})`;
    }
    document.querySelectorAll(".operator-only").forEach((b) => { b.disabled = !operator; b.hidden = !operator; });
  }

  function renderSources(s) {
    const rows = s.sources.map((x) => h("tr", { "data-source": x.name },
      h("td", {}, x.name), h("td", {}, x.kind), h("td", {}, pill(x.state.split(" ")[0] === "on" ? "live" : x.state.replace(/ .*/, "")), x.state.startsWith("on programme") ? h("span", { class: "dim small" }, " on programme") : null)));
    $("sources").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 3, class: "dim" }, "No sources"))]));
    const people = s.participants.map((p) => h("tr", { "data-person": p.person },
      h("td", {}, p.person), h("td", {}, p.role), h("td", {}, pill(p.state)),
      h("td", { class: "small mono" }, [p.resolution, p.fps !== null ? `${p.fps} fps` : null, p.kbps !== null && p.kbps !== undefined ? `${Math.round(p.kbps)} kb/s` : null, p.rtt_ms !== null ? `${Math.round(p.rtt_ms)} ms` : null, p.loss_pct !== null ? `${p.loss_pct}% loss` : null].filter(Boolean).join(" · ") || "—")));
    $("participants").replaceChildren(...(people.length ? people : [h("tr", {}, h("td", { colspan: 4, class: "dim" }, "No participant has joined"))]));
    const booths = s.booths.map((b) => {
      const route = s.routes.filter((r) => r.source === b.booth).map((r) => r.language).join(", ");
      // The silence alarm: a language of this booth's session whose booth went quiet while the floor spoke.
      const silent = s.routes.some((r) => r.session === b.session && r.silent);
      const shiftMin = b.on_duty && b.on_duty_since ? Math.max(0, Math.floor((s.now_ms - Date.parse(b.on_duty_since)) / 60000)) : null;
      return h("tr", { "data-booth": b.booth },
        h("td", {}, b.booth),
        h("td", {}, b.on_duty || "—", shiftMin !== null ? h("span", { class: "dim small" }, ` ${shiftMin} min`) : null,
          b.handover_due ? h("span", { class: "held-badge" }, "HANDOVER") : null),
        h("td", {}, b.mic_open ? "open" : "closed", silent ? h("span", { class: "held-badge", "data-alarm": "silence" }, "SILENT") : null),
        h("td", {}, route || "—"));
    });
    $("booths").replaceChildren(...(booths.length ? booths : [h("tr", {}, h("td", { colspan: 4, class: "dim" }, "No booth reported"))]));
  }

  // ------------------------------------------------------------------ the text channel
  // One thread per person and per booth; the lines come from /api/chat, fetched when an alert
  // arrives (a participant's line raises one), after a line is sent, and every few seconds.

  let chatLines = [];
  let chatThread = null; // "person:ID" or "booth:ID"
  let chatAlerts = -1; // the alert count the lines were last fetched for
  const chatRead = new Map(); // thread → how many of its lines the operator has seen
  const threadOf = (line) => (line.booth ? `booth:${line.booth}` : `person:${line.person}`);
  const linesOf = (thread) => chatLines.filter((l) => threadOf(l) === thread);

  function chatThreads(s) {
    return [
      ...s.participants.map((p) => ({ key: `person:${p.person}`, label: p.person, sub: p.role })),
      ...s.booths.map((b) => ({ key: `booth:${b.booth}`, label: b.booth, sub: "booth" })),
    ];
  }

  function renderChat(s) {
    const threads = chatThreads(s);
    if (!threads.some((t) => t.key === chatThread)) {
      const talking = threads.find((t) => linesOf(t.key).length);
      chatThread = (talking || threads[0] || { key: null }).key;
    }
    if (chatThread) chatRead.set(chatThread, linesOf(chatThread).length);
    $("chat-threads").replaceChildren(...(threads.length ? threads.map((t) => {
      const unread = linesOf(t.key).length - (chatRead.get(t.key) || 0);
      const b = h("button", { type: "button", "data-thread": t.key, "aria-pressed": String(t.key === chatThread) },
        t.label, h("span", { class: "dim small" }, ` ${t.sub}`), unread > 0 ? h("span", { class: "unread" }, `● ${unread}`) : null);
      b.addEventListener("click", () => { chatThread = t.key; renderChat(snap); });
      return h("li", {}, b);
    }) : [h("li", { class: "dim" }, "Nobody joins this run")]));
    const current = threads.find((t) => t.key === chatThread);
    $("chat-title").textContent = current ? `${current.sub === "booth" ? "Booth" : "To"} ${current.label}` : "—";
    const list = $("chat-lines");
    const lines = chatThread ? linesOf(chatThread) : [];
    const key = `${chatThread}|${lines.length}`;
    if (list.dataset.key !== key) { // rebuilt only when it changed, so reading it is not disturbed
      list.dataset.key = key;
      list.replaceChildren(...(lines.length ? lines.map((l) => h("li", { class: l.sender === "operator" || l.sender === "booth" ? l.sender : "person" },
        h("span", { class: "mono small dim" }, hhmmss(l.at)), h("span", { class: "who" }, l.sender), l.text)) : [h("li", { class: "dim" }, "No messages yet")]));
      list.scrollTop = list.scrollHeight;
    }
    $("chat-send").disabled = !canOperate() || !chatThread;
    if (!threads.length) $("chat-form").hidden = true; // nobody to write to in this run
  }

  function refreshChat() {
    if (!snap || document.hidden) return;
    fetch("/api/chat", { cache: "no-store", credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        chatLines = data.lines;
        renderChat(snap);
      })
      .catch(() => {});
  }

  function wireChat() {
    $("chat-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = $("chat-text");
      const text = input.value.trim();
      if (!text || !chatThread) return;
      const [kind, id] = [chatThread.slice(0, chatThread.indexOf(":")), chatThread.slice(chatThread.indexOf(":") + 1)];
      const path = kind === "booth" ? `/api/booths/${enc(id)}/say` : `/api/participants/${enc(id)}/say`;
      if (await post(path, { text })) input.value = "";
      refreshChat();
    });
  }

  // Monitors: the programme picture about once a second, the meters twice.
  function refreshMonitors() {
    if (!snap || !snap.programme || document.hidden) return;
    const sid = snap.programme.session;
    loadPicture($("programme-img"), `/api/sessions/${enc(sid)}/thumbnail.jpg`, sid, false);
    // the preview changes only when the next segment does
    const nextId = snap.programme.next ? snap.programme.next.id : "";
    const prev = $("preview-img");
    if (prev.dataset.cue !== nextId || !nextId) {
      prev.dataset.cue = nextId;
      if (nextId) loadPicture(prev, `/api/sessions/${enc(sid)}/preview.jpg`, sid, true);
      else { prev.hidden = true; $("preview-card").hidden = false; }
    }
  }

  // Fetched rather than pointed at: 204 (no picture) keeps the last one, and the picture goes in as
  // a data: URL, which the page's CSP allows.
  function loadPicture(img, path, sid, toggleCard) {
    fetch(path, { cache: "no-store", credentials: "same-origin" })
      .then((r) => (r.status === 200 ? r.blob() : null))
      .then((blob) => {
        if (!blob) {
          if (toggleCard) { img.hidden = true; $("preview-card").hidden = false; }
          return;
        }
        const reader = new FileReader();
        reader.onload = () => {
          img.src = reader.result;
          img.dataset.session = sid;
          img.dataset.at = String(Date.now());
          if (toggleCard) { img.hidden = false; $("preview-card").hidden = true; }
        };
        reader.readAsDataURL(blob);
      })
      .catch(() => {});
  }

  function meterBar(value, lo, hi) {
    const bar = h("div", { class: "meter-bar" });
    const fill = h("div", { class: "meter-fill" });
    const v = value === null ? lo : Math.max(lo, Math.min(hi, value));
    fill.style.height = `${(100 * (v - lo)) / (hi - lo)}%`;
    if (value !== null && value > -9) fill.classList.add("hot");
    bar.append(fill);
    return bar;
  }

  function refreshMeters() {
    if (!snap || !snap.programme || document.hidden) return;
    const sid = snap.programme.session;
    fetch(`/api/sessions/${enc(sid)}/meters`, { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        const fmt = (v) => (v === null ? "−∞" : v.toFixed(1));
        $("meters").replaceChildren(...data.meters.map((m) => h("div", { class: "meter", "data-language": m.language },
          h("div", { class: "meter-lang" }, m.language.toUpperCase()),
          meterBar(m.momentary_lufs, -60, 0),
          h("div", { class: "meter-values mono small" },
            h("div", { title: "momentary (400 ms)" }, `M ${fmt(m.momentary_lufs)}`),
            h("div", { title: "short-term (3 s)" }, `S ${fmt(m.short_term_lufs)}`),
            h("div", { class: "dim", title: "sample peak, dBFS" }, `pk ${fmt(m.peak_dbfs)}`)))));
      })
      .catch(() => {});
  }

  function refreshAsRun() {
    if (signedOut) return;
    fetch("/api/as-run?format=json", { cache: "no-store" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (!data) return;
        const rows = data.rows.slice(-200).reverse().map((r) => h("tr", { class: r.who === "automatic" ? "" : "manual", "data-asrun": r.id },
          h("td", { class: "mono small" }, hhmmss(r.at)),
          h("td", {}, r.who),
          h("td", { class: "small" }, r.what),
          h("td", { class: "mono small" }, r.id),
          h("td", {}, pill(r.outcome)),
          h("td", { class: "num" }, r.late_ms === null ? "—" : r.late_ms.toFixed(1)),
          h("td", { class: "small" }, r.detail)));
        $("asrun").replaceChildren(...(rows.length ? rows : [h("tr", {}, h("td", { colspan: 7, class: "dim" }, "Nothing yet"))]));
      })
      .catch(() => {});
  }

  // Signed out (in another tab, a removed user, an expired session): the event leaves the screen
  // and the page links to the sign-in, coming back here afterwards.
  function showSignedOut(reason) {
    signedOut = true;
    snap = null;
    me = null;
    document.body.dataset.signedOut = "true";
    $("signin-reason").textContent = reason ? reason.charAt(0).toUpperCase() + reason.slice(1) : "Not signed in";
    $("signin-link").href = `/login?next=${encodeURIComponent(location.pathname)}`;
    $("signin-banner").hidden = false;
    $("user").textContent = "";
    $("signout").hidden = true;
    const link = $("link");
    link.dataset.state = "signed-out";
    link.textContent = "signed out";
  }

  function whoAmI() {
    fetch("/api/me", { cache: "no-store", credentials: "same-origin" })
      .then((r) => {
        if (r.status === 401) showSignedOut("signed out"); // (a session expired): say so, link to sign in
        else $("signin-banner").hidden = true;
        return r.ok ? r.json() : null;
      })
      .then((data) => {
        if (signedOut) return;
        me = data;
        $("user").textContent = data ? `${data.name} · ${data.role}` : "";
        $("loopback-banner").hidden = !(data && data.loopback_only);
        $("signout-token").value = (data && data.csrf_token) || "";
        $("signout").hidden = !(data && data.via === "session");
        if (snap) render();
      })
      .catch(() => {});
  }

  function wireButtons() {
    const sid = () => controlSession(snap);
    const on = (id, fn) => $(id).addEventListener("click", fn);
    on("btn-hold", () => post(`/api/sessions/${enc(sid())}/hold`));
    on("btn-resume", () => post(`/api/sessions/${enc(sid())}/resume`));
    on("btn-skip", () => post(`/api/sessions/${enc(sid())}/skip`));
    on("btn-fallback", () => post(`/api/sessions/${enc(sid())}/fallback`));
    on("btn-standby", () => post(`/api/sessions/${enc(sid())}/take`, { source: "standby" }));
    on("btn-take-segment", () => post(`/api/sessions/${enc(sid())}/take`, { source: "segment", segment: $("take-segment").value }));
    on("btn-take-slate", () => post(`/api/sessions/${enc(sid())}/take`, { source: "slate", title: $("slate-title").value, note: $("slate-note").value }));
    for (const id of ["btn-extend-1", "btn-extend-5", "btn-shorten-1"]) {
      const b = $(id);
      on(id, () => post(`/api/sessions/${enc(sid())}/${b.dataset.cmd}`, { seconds: Number(b.dataset.seconds) }));
    }
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
    renderTimeline(s);
    renderMonitors(s);
    renderControl(s);
    renderSources(s);
    renderChat(s);
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
        h("span", { class: "dim" }, ` at ${hhmm(next.at)}`),
        (snap.held || []).includes(next.session) ? h("span", { class: "held-badge" }, "HELD") : null);
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
    const restarted = snap !== null && data.version < lastVersion; // a new server process counts again
    snap = data;
    lastVersion = data.version;
    receivedAt = performance.now();
    render();
    if (restarted) { whoAmI(); refreshAsRun(); }
    if (restarted || data.alerts.length !== chatAlerts) { chatAlerts = data.alerts.length; refreshChat(); }
  }

  // ------------------------------------------------------------------ transport

  function connect() {
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
    const link = $("link");
    ws.onopen = () => { retryMs = 500; whoAmI(); refreshAsRun(); };
    ws.onmessage = (ev) => {
      if (signedOut) return;
      const msg = JSON.parse(ev.data);
      if (msg.type === "snapshot") {
        link.dataset.state = "live";
        link.textContent = "live";
        accept(msg.data);
      }
    };
    const retry = () => {
      link.dataset.state = "down";
      link.textContent = "disconnected — retrying";
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
    ws.onclose = (ev) => {
      if (signedOut) return;
      // 4401: the server says this socket's credentials no longer count; a refused handshake (signed
      // out meanwhile) shows as 1006. Either way ask who we are: signed out means the sign-in link,
      // not a reconnect loop (a session renewed by the page's own requests simply reconnects).
      fetch("/api/me", { cache: "no-store", credentials: "same-origin" })
        .then((r) => {
          if (r.status === 401) showSignedOut(ev.code === 4401 && ev.reason ? ev.reason : "signed out");
          else retry();
        })
        .catch(retry);
    };
  }

  fetch("/api/state", { cache: "no-store" })
    .then((r) => (r.ok ? r.json() : null))
    .then((data) => { if (data && !snap) accept(data); })
    .catch(() => {});
  wireButtons();
  wireChat();
  whoAmI();
  connect();
  setInterval(tick, 100);
  setInterval(refreshMonitors, 1000);
  setInterval(refreshMeters, 500);
  setInterval(refreshAsRun, 5000);
  setInterval(refreshChat, 3000);
})();
