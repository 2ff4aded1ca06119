// The page: one live snapshot from the server (server-sent events, falling back to polling),
// rendered into the sections of index.html. Plain ES module: no build step.
import { esc } from "./format.js";
import { renderBooks, renderChart, renderDisputes, renderFooter, renderJobs, renderModels, renderProvers, renderStatus, renderTotals, renderVerifiers } from "./render.js";

const $ = (id) => document.getElementById(id);
let lastVersion = -1;

function show(snapshot) {
  if (snapshot.version === lastVersion && !snapshot.error) return;
  lastVersion = snapshot.version;
  $("main").hidden = false;
  $("totals").innerHTML = renderTotals(snapshot);
  $("chart").innerHTML = renderChart(snapshot);
  $("models").innerHTML = renderModels(snapshot);
  $("provers").innerHTML = renderProvers(snapshot);
  $("verifiers").innerHTML = renderVerifiers(snapshot);
  $("jobs").innerHTML = renderJobs(snapshot);
  $("jobs-count").textContent = snapshot.jobs.total > snapshot.jobs.shown.length ? `(newest ${snapshot.jobs.shown.length} of ${snapshot.jobs.total})` : `(${snapshot.jobs.total})`;
  $("disputes").innerHTML = renderDisputes(snapshot);
  $("disputes-count").textContent = `(${snapshot.disputes.total})`;
  $("books").innerHTML = renderBooks(snapshot);
  $("footer").innerHTML = renderFooter(snapshot);
  const status = renderStatus(snapshot);
  setStatus(status.state, status.text);
  if (snapshot.error) showProblem({ message: snapshot.error.message, details: "The figures below are from the last block read; they refresh when the RPC answers again." });
  else showProblem(undefined);
  document.body.dataset.version = String(snapshot.version);
}

function setStatus(state, text) {
  const el = $("status");
  el.dataset.state = state;
  el.textContent = text;
}

/** A problem the server reported (RPC down, wrong chain, no deployment), or undefined to clear it. */
function showProblem(problem) {
  const el = $("problem");
  if (!problem) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.innerHTML = `<strong>${esc(problem.message)}</strong>${problem.details ? `<br>${esc(problem.details)}` : ""}<br><span class="muted">The dashboard keeps retrying.</span>`;
  if (lastVersion < 0) setStatus("down", "no data");
}

async function poll() {
  try {
    const res = await fetch("/api/snapshot", { cache: "no-store" });
    const body = await res.json();
    if (res.ok) show(body);
    else showProblem(body.error);
  } catch {
    showProblem({ message: "The dashboard server does not answer.", details: "Is `npm run dashboard` still running?" });
  }
}

function connect() {
  if (!("EventSource" in window)) {
    void poll();
    setInterval(poll, 3000);
    return;
  }
  const events = new EventSource("/api/events");
  events.addEventListener("snapshot", (e) => show(JSON.parse(e.data)));
  events.addEventListener("problem", (e) => showProblem(JSON.parse(e.data)));
  // The browser reconnects by itself; say so while it does.
  events.onerror = () => {
    if (events.readyState !== EventSource.OPEN) showProblem({ message: "Lost the connection to the dashboard server; reconnecting…" });
  };
  events.onopen = () => {
    if (lastVersion >= 0) showProblem(undefined);
  };
}

void poll();
connect();
