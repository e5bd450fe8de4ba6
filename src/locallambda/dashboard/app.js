// The dashboard's shell: hash routes to views, the region and executor in the header, and the
// life of a view (its timers stop when the user leaves it).

import { esc, internal, notify, session, setRegion } from "./api.js";
import { createView, functionsView } from "./functions.js";

// The other views' modules are loaded when first shown: the list does not wait for them.
const lazy = (module, name) => async (...args) => (await import(module))[name](...args);
const functionView = lazy("./function.js", "functionView");
const journalView = lazy("./journal.js", "journalView");
const layersView = lazy("./layers.js", "layersView");
const layerView = lazy("./layers.js", "layerView");
const environmentsView = lazy("./resources.js", "environmentsView");
const resourcesView = lazy("./resources.js", "resourcesView");

// [hash, its name, the header's section, the view, eager: shown before the server's own description]
const ROUTES = [
  [/^#\/functions\/?$/, "functions", "functions", functionsView, true], // needs no region name
  [/^#\/create$/, "create", "functions", createView],
  [/^#\/functions\/([^/]+)(?:\/([a-z-]+))?$/, "function", "functions", functionView],
  [/^#\/layers\/?$/, "layers", "layers", layersView],
  [/^#\/layers\/([^/]+)$/, "layer", "layers", layerView],
  [/^#\/journal(?:\/([^/]+))?$/, "journal", "journal", journalView],
  [/^#\/environments$/, "environments", "environments", environmentsView],
  [/^#\/resources$/, "resources", "resources", resourcesView],
];

/** What a view gets: where to render, whether it is still shown, timers that end with it. */
class View {
  constructor(host) {
    // A container of its own: the listeners a view adds go with it.
    this.host = host;
    this.main = document.createElement("div");
    this.alive = true;
    this.cleanups = [];
  }
  every(ms, fn) {
    const id = setInterval(() => this.alive && fn(), ms);
    this.cleanups.push(() => clearInterval(id));
  }
  onLeave(fn) {
    this.cleanups.push(fn);
  }
  render(content) {
    if (!this.alive) return;
    this.main.innerHTML = String(content);
    if (!this.main.isConnected) this.host.replaceChildren(this.main);
  }
  leave() {
    this.alive = false;
    for (const fn of this.cleanups) fn();
  }
}

let current = null;

/** The page shows route `name` (for the tests, and bench/dashboard.py: time since navigation). */
function rendered(name) {
  performance.mark(`rendered-${name}`);
  window.dashboardTimings = { route: name, ms: performance.now() };
  document.documentElement.dataset.rendered = name;
}

async function route() {
  const hash = location.hash || "#/functions";
  current?.leave();
  const main = document.getElementById("view");
  const view = (current = new View(main));
  delete document.documentElement.dataset.rendered;
  for (const [pattern, name, section, show, eager] of ROUTES) {
    const match = pattern.exec(hash);
    if (!match) continue;
    if (!eager && !session.region && !session.server) await session.ready.catch(() => null);
    for (const link of document.querySelectorAll("nav a")) {
      link.classList.toggle("active", link.dataset.section === section);
    }
    try {
      await show(view, ...match.slice(1).map((v) => (v === undefined ? undefined : decodeURIComponent(v))));
      if (view.alive) rendered(name);
    } catch (err) {
      if (view.alive) {
        view.render(`<p class="empty">Could not load this page: ${esc(err.message || String(err))}</p>`);
        notify(err.message || String(err));
      }
    }
    return;
  }
  location.replace("#/functions");
}

async function start() {
  const region = document.getElementById("region");
  region.value = session.region;
  region.addEventListener("change", () => {
    setRegion(region.value.trim());
    route();
  });
  window.addEventListener("hashchange", route);
  // The first view and the server's description are fetched at once: the list does not wait.
  const server = (session.ready = internal("GET", "/_dashboard/api/server")).then((doc) => {
    session.server = doc;
    if (!session.region) region.placeholder = doc.Region;
    document.getElementById("executor").textContent = `executor: ${doc.Executor}`;
    document.title = `locallambda ${doc.Version}`;
  });
  await Promise.all([route(), server.catch((err) => notify(`server: ${err.message}`))]);
  // The other views' modules, once the first is shown: moving to them is then instant.
  const later = window.requestIdleCallback || ((fn) => setTimeout(fn, 200));
  later(() => ["./function.js", "./journal.js", "./layers.js", "./resources.js"].forEach((m) => import(m)));
}

start();
