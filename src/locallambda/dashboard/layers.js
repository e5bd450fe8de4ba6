// Layers: the list, one layer's versions (deleted with a confirmation), and publishing a version
// from a zip.

import { confirmAction, fileBytes, fn, html, lambda, notify, reload, table, when } from "./api.js";
import { toBase64 } from "./zip.js";

async function all(path, key, query = {}) {
  const items = [];
  let marker;
  do {
    const page = await lambda("GET", path, { query: { ...query, MaxItems: 50, Marker: marker } });
    items.push(...page[key]);
    marker = page.NextMarker;
  } while (marker);
  return items;
}

function publishForm(name = "") {
  return html`
    <form id="publish-layer" class="form">
      <h2 class="wide">Publish a layer version</h2>
      <label>Name <input name="name" required value="${name}" ${name ? "readonly" : ""} pattern="[A-Za-z0-9_\\-]{1,140}" spellcheck="false"></label>
      <label>Compatible runtimes <input name="runtimes" placeholder="python3.12, nodejs20.x" spellcheck="false"></label>
      <label>Description <input name="description"></label>
      <label>License <input name="license"></label>
      <label class="wide">Zip file (its contents go to /opt) <input type="file" name="zip" accept=".zip,application/zip" aria-label="layer zip"></label>
      <div class="wide"><button type="submit">Publish version</button></div>
    </form>`;
}

function wirePublish(main, after) {
  const form = main.querySelector("#publish-layer");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    const zip = await fileBytes(f.zip);
    if (!zip) return notify("Choose a zip file");
    const runtimes = f.runtimes.value.split(/[\s,]+/).filter(Boolean);
    const body = { Content: { ZipFile: toBase64(zip) }, Description: f.description.value };
    if (runtimes.length) body.CompatibleRuntimes = runtimes;
    if (f.license.value) body.LicenseInfo = f.license.value;
    try {
      const layer = await lambda("POST", `/2018-10-31/layers/${fn(f.name.value.trim())}/versions`, { body });
      notify(`Published ${layer.LayerVersionArn}`, "ok");
      after(f.name.value.trim());
    } catch (err) {
      notify(err.message);
    }
  });
}

export async function layersView(view) {
  const layers = await all("/2018-10-31/layers", "Layers");
  view.render(html`
    <div class="toolbar"><h1>Layers <span class="count">${layers.length}</span></h1></div>
    <div id="layers">${table(
      ["Name", "Latest version", "Description", "Compatible runtimes", "Created"],
      layers.map((l) => {
        const v = l.LatestMatchingVersion || {};
        return [
          html`<a href="#/layers/${fn(l.LayerName)}">${l.LayerName}</a>`,
          v.Version,
          v.Description,
          (v.CompatibleRuntimes || []).join(", "),
          when(v.CreatedDate),
        ];
      }),
      "No layers yet.",
    )}</div>
    ${publishForm()}`);
  wirePublish(view.main, (name) => (location.hash = `#/layers/${fn(name)}`));
}

export async function layerView(view, name) {
  const versions = await all(`/2018-10-31/layers/${fn(name)}/versions`, "LayerVersions");
  view.render(html`
    <div class="toolbar"><h1><a href="#/layers">Layers</a> / ${name}</h1></div>
    <div id="layer-versions">${table(
      ["Version", "Description", "Compatible runtimes", "Architectures", "Created", "ARN", ""],
      versions.map((v) => [
        v.Version,
        v.Description,
        (v.CompatibleRuntimes || []).join(", "),
        (v.CompatibleArchitectures || []).join(", "),
        when(v.CreatedDate),
        html`<code>${v.LayerVersionArn}</code>`,
        html`<button class="danger small" data-version="${v.Version}">Delete</button>`,
      ]),
      "No versions left.",
    )}</div>
    ${publishForm(name)}`);
  view.main.querySelector("#layer-versions").addEventListener("click", async (event) => {
    const version = event.target.dataset?.version;
    if (!version) return;
    const ok = await confirmAction(
      "Delete layer version?",
      html`<p>Version ${version} of <b>${name}</b> is deleted; functions that use it keep their copy.</p>`,
      "Delete version",
    );
    if (!ok) return;
    try {
      await lambda("DELETE", `/2018-10-31/layers/${fn(name)}/versions/${version}`);
      notify(`Deleted ${name}:${version}`, "ok");
      reload();
    } catch (err) {
      notify(err.message);
    }
  });
  wirePublish(view.main, () => reload());
}
