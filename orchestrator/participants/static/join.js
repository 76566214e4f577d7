// The join page of a speaker or an interpreter. Plain JS, no library. Order matters: camera and
// microphone first (Firefox offers only mDNS candidates before permission, and then fails), then
// one RTCPeerConnection per join, non-trickle (the offer goes out with all its candidates). After a
// network blip the page joins again with a new peer connection (the server has no ICE restart).
"use strict";

const token = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = "/join/" + encodeURIComponent(token);
const $ = (id) => document.getElementById(id);
const state = { info: null, stream: null, pc: null, peer: null, purpose: null, ws: null,
  wanted: false, retry: 0, audioCtx: null, analyser: null, sendingMeter: null };
window.summit = state; // for tests and the curious

function text(id, value) { $(id).textContent = value; }

async function start() {
  const res = await fetch(base + "/info", { cache: "no-store" });
  if (!res.ok) { text("permission", "This link does not work. · 링크가 유효하지 않습니다."); return; }
  state.info = await res.json();
  text("who", state.info.name + (state.info.city ? " · " + state.info.city : ""));
  text("session", (state.info.session_title || "") + (state.info.role === "interpreter" ? " · interpreter · 통역사" : ""));
  if (state.info.role === "interpreter") {
    $("booth").hidden = false;
    text("ret-title", "Floor · 원음");
  }
  await openDevices();
  connectEvents();
  $("join").addEventListener("click", () => join("live"));
  $("check").addEventListener("click", () => join("check"));
  $("leave").addEventListener("click", leave);
  $("camera").addEventListener("change", openDevices);
  $("microphone").addEventListener("change", openDevices);
  $("say").addEventListener("submit", (e) => { e.preventDefault(); say(); });
  $("mic").addEventListener("click", () => booth(state.micOpen === false ? "mic_on" : "mic_off"));
  $("cough").addEventListener("pointerdown", () => booth("cough_on"));
  $("cough").addEventListener("pointerup", () => booth("cough_off"));
  $("cough").addEventListener("pointerleave", () => booth("cough_off"));
  $("ask").addEventListener("click", () => booth("request"));
  $("accept").addEventListener("click", () => booth("accept"));
  $("takeover").addEventListener("click", () => booth("take_over"));
  setInterval(sendStats, 2000);
}

async function openDevices() {
  const interpreter = state.info && state.info.role === "interpreter";
  const cam = $("camera").value, mic = $("microphone").value;
  const constraints = {
    audio: mic ? { deviceId: { exact: mic } } : true,
    video: interpreter ? false : (cam ? { deviceId: { exact: cam }, width: 640, height: 360, frameRate: 30 }
                                      : { width: 640, height: 360, frameRate: 30 }),
  };
  try {
    if (state.stream) state.stream.getTracks().forEach((t) => t.stop());
    state.stream = await navigator.mediaDevices.getUserMedia(constraints);
  } catch (err) {
    text("permission", "Please allow the camera and microphone, then reload. · 카메라와 마이크를 허용한 뒤 새로고침해 주세요. (" + err.name + ")");
    return;
  }
  text("permission", "");
  $("preview").srcObject = state.stream;
  const video = state.stream.getVideoTracks()[0];
  if (video) {
    const s = video.getSettings();
    text("resolution", (s.width || "?") + "x" + (s.height || "?") + (s.frameRate ? " @ " + Math.round(s.frameRate) : ""));
  } else {
    text("resolution", "sound only · 음성만");
  }
  await listDevices();
  meter(state.stream);
  $("join").disabled = false;
  $("check").disabled = false;
  if (state.pc) { // a device change while connected: swap the tracks in place
    for (const sender of state.pc.getSenders()) {
      const next = state.stream.getTracks().find((t) => sender.track && t.kind === sender.track.kind);
      if (next) await sender.replaceTrack(next);
    }
  }
}

async function listDevices() {
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const [id, kind] of [["camera", "videoinput"], ["microphone", "audioinput"]]) {
    const select = $(id), current = select.value;
    select.replaceChildren(...devices.filter((d) => d.kind === kind).map((d, i) => {
      const o = document.createElement("option");
      o.value = d.deviceId; o.textContent = d.label || kind + " " + (i + 1);
      return o;
    }));
    if (current) select.value = current;
  }
}

function meter(stream) {
  if (!stream.getAudioTracks().length) return;
  try {
    state.audioCtx = state.audioCtx || new AudioContext();
    const src = state.audioCtx.createMediaStreamSource(stream);
    const analyser = state.audioCtx.createAnalyser();
    analyser.fftSize = 1024;
    src.connect(analyser);
    state.analyser = analyser;
    const data = new Float32Array(analyser.fftSize);
    const tick = () => {
      if (state.analyser !== analyser) return;
      analyser.getFloatTimeDomainData(data);
      let sum = 0;
      for (const v of data) sum += v * v;
      const db = 10 * Math.log10(sum / data.length + 1e-12);
      state.levelDb = db;
      $("level").style.width = Math.max(0, Math.min(100, (db + 60) * 100 / 60)) + "%";
      setTimeout(tick, 100);
    };
    tick();
  } catch (err) { /* no level meter without WebAudio; the call still works */ }
}

function device() {
  const cam = $("camera").selectedOptions[0], mic = $("microphone").selectedOptions[0];
  return [cam && cam.textContent, mic && mic.textContent, navigator.userAgent].filter(Boolean).join(" | ");
}

async function join(purpose) {
  if (!state.stream) await openDevices();
  if (!state.stream) return;
  state.wanted = true;
  state.purpose = purpose;
  await connect();
}

async function connect() {
  closePeer();
  text("connection", "connecting · 연결 중");
  const pc = new RTCPeerConnection({ iceServers: state.info.ice_servers });
  state.pc = pc;
  for (const track of state.stream.getTracks()) {
    const sender = pc.addTrack(track, state.stream);
    if (track.kind === "video") {
      const params = sender.getParameters();
      params.degradationPreference = "maintain-resolution";
      sender.setParameters(params).catch(() => {});
    }
  }
  const remote = new MediaStream();
  $("remote").srcObject = remote;
  pc.ontrack = (e) => { remote.addTrack(e.track); $("remote").play().catch(() => {}); };
  pc.onconnectionstatechange = () => {
    text("connection", pc.connectionState);
    if (pc !== state.pc) return;
    if (pc.connectionState === "connected") state.retry = 0;
    if (["failed", "disconnected", "closed"].includes(pc.connectionState) && state.wanted) {
      setTimeout(() => { if (pc === state.pc && state.wanted && pc.connectionState !== "connected") reconnect(); },
        pc.connectionState === "disconnected" ? 2000 : 0);
    }
  };
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc);
  try {
    const res = await fetch(base + "/offer", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sdp: pc.localDescription.sdp, purpose: state.purpose, device: device() }) });
    const answer = await res.json();
    if (!res.ok) throw new Error(answer.message || res.status);
    if (pc !== state.pc) return;
    state.peer = answer.peer;
    await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
    $("join").hidden = true; $("check").hidden = true; $("leave").hidden = false;
  } catch (err) {
    text("connection", "could not connect · 연결 실패: " + err.message);
    if (state.wanted) reconnect();
  }
}

function gathered(pc) {
  return new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    const done = () => { if (pc.iceGatheringState === "complete") resolve(); };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, 3000); // send what we have; a slow STUN server must not keep the guest waiting
  });
}

function reconnect() {
  const wait = Math.min(10000, 500 * 2 ** state.retry++);
  text("connection", "reconnecting · 재연결 중");
  setTimeout(() => { if (state.wanted) connect(); }, wait);
}

function closePeer() {
  if (state.pc) { const old = state.pc; state.pc = null; old.close(); }
}

async function leave() {
  state.wanted = false;
  const peer = state.peer;
  state.peer = null;
  // say goodbye before closing, so the operators see "left", not "dropped"
  if (peer) await fetch(base + "/leave", { method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ peer }) }).catch(() => {});
  closePeer();
  $("join").hidden = false; $("check").hidden = false; $("leave").hidden = true;
  text("connection", "not connected");
}

async function sendStats() {
  const pc = state.pc;
  if (!pc || !state.peer || !state.ws || state.ws.readyState !== 1) return;
  const report = await pc.getStats();
  let rtt = null, lost = null, resolution = null;
  report.forEach((s) => {
    if (s.type === "remote-inbound-rtp" && s.roundTripTime !== undefined) {
      rtt = Math.max(rtt || 0, s.roundTripTime * 1000);
      if (s.fractionLost !== undefined) lost = Math.max(lost || 0, s.fractionLost * 100);
    }
    if (s.type === "candidate-pair" && s.nominated && s.currentRoundTripTime !== undefined && rtt === null) rtt = s.currentRoundTripTime * 1000;
    if (s.type === "outbound-rtp" && s.kind === "video" && s.frameWidth) resolution = s.frameWidth + "x" + s.frameHeight;
  });
  text("rtt", rtt === null ? "–" : Math.round(rtt));
  text("loss", lost === null ? "–" : lost.toFixed(1));
  state.ws.send(JSON.stringify({ type: "stats", peer: state.peer, rtt_ms: rtt, loss_pct: lost, resolution }));
}

function connectEvents() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + base + "/events");
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ type: "hello" }));
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if (m.type === "status") showStatus(m);
    if (m.chat) m.chat.forEach(showChat);
    if (m.type === "chat") showChat(m);
    if (m.type === "error") text("permission", m.message);
    if (m.type === "reconnect" && state.wanted) connect();
  };
  ws.onclose = () => setTimeout(connectEvents, 2000);
}

function showStatus(m) {
  state.status = m;
  const tally = $("tally");
  tally.textContent = m.tally;
  tally.className = "tally " + (m.tally === "ON AIR" ? "on-air" : m.tally === "STAND BY" ? "stand-by" : "");
  state.cueAt = m.cue_in_s === null ? null : Date.now() + m.cue_in_s * 1000;
  $("programme-note").hidden = m.return_feed || state.purpose === "check";
  if (m.booth) {
    const b = m.booth;
    state.micOpen = b.mic_open;
    text("on-duty", b.you_on_duty ? "you · 본인" : (b.on_duty ? b.partner || b.on_duty : "nobody · 없음"));
    text("partner", (b.partner || "–") + (b.partner_state ? " (" + b.partner_state + ")" : ""));
    text("shift", b.shift_s === null ? "–" : clock(b.shift_s) + " / " + clock(b.handover_every_s));
    $("handover-due").hidden = !b.handover_due;
    text("mic", b.mic_open ? "Microphone off · 마이크 끄기" : "Microphone on · 마이크 켜기");
    $("request").hidden = !b.request;
    text("request", b.request ? b.request + " asks to take over · 교대를 요청했습니다" : "");
    $("accept").hidden = !(b.request && b.you_on_duty);
    $("own-level").style.width = b.level_db === null ? "0" : Math.max(0, Math.min(100, (b.level_db + 60) * 100 / 60)) + "%";
  }
}

function clock(s) {
  s = Math.max(0, Math.round(s));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

setInterval(() => {
  if (!state.cueAt) { text("countdown", ""); return; }
  const s = (state.cueAt - Date.now()) / 1000;
  text("countdown", s > 0 ? "Your cue in · 큐까지 " + clock(s) : "");
}, 250);

function showChat(m) {
  const li = document.createElement("li");
  li.textContent = m.from + ": " + m.text;
  $("messages").append(li);
}

function say() {
  const line = $("line").value.trim();
  if (!line || !state.ws) return;
  state.ws.send(JSON.stringify({ type: "chat", text: line }));
  showChat({ from: "me · 나", text: line });
  $("line").value = "";
}

function booth(command) {
  if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify({ type: "booth", command }));
}

start();
