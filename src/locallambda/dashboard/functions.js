// The functions list (one request, rendered in one go), deleting several with a confirmation,
// and the create form: a zip upload or a single-file handler written in the page's editor.

import { badge, bytes, confirmAction, fileBytes, fn, html, internal, lambda, notify, reload, session, when } from "./api.js";
import { makeZip, toBase64 } from "./zip.js";

export async function functionsView(view) {
  const doc = await internal("GET", "/_dashboard/api/functions", { query: { region: session.region } });
  const rows = doc.Functions.map(
    (f) => html`<tr data-name="${f.FunctionName}">
      <td><input type="checkbox" class="pick" value="${f.FunctionName}" aria-label="select ${f.FunctionName}"></td>
      <td><a href="#/functions/${fn(f.FunctionName)}">${f.FunctionName}</a></td>
      <td>${f.Runtime || f.PackageType}</td>
      <td>${badge(f.State)}${f.LastUpdateStatus && f.LastUpdateStatus !== "Successful" ? badge(f.LastUpdateStatus) : ""}</td>
      <td>${when(f.LastModified)}</td>
      <td class="num">${f.MemorySize} MB</td>
      <td class="num">${bytes(f.CodeSize)}</td>
      <td class="num">${f.Versions}</td>
      <td class="num">${f.Environments || ""}</td>
    </tr>`,
  );
  view.render(html`
    <div class="toolbar">
      <h1>Functions <span class="count">${doc.Functions.length}</span></h1>
      <input type="search" id="filter" placeholder="Filter by name or runtime" aria-label="filter">
      <span class="spacer"></span>
      <button id="delete" class="danger" disabled>Delete selected</button>
      <a class="button" href="#/create">Create function</a>
    </div>
    ${
      doc.Functions.length
        ? html`<table id="functions"><thead><tr><th><input type="checkbox" id="pick-all" aria-label="select all"></th>
            <th>Name</th><th>Runtime</th><th>State</th><th>Last modified</th><th>Memory</th><th>Code</th>
            <th>Versions</th><th>Warm</th></tr></thead><tbody>${rows}</tbody></table>`
        : html`<p class="empty" id="functions">No functions in this region yet. <a href="#/create">Create one</a>.</p>`
    }`);

  const main = view.main;
  const picked = () => [...main.querySelectorAll(".pick:checked")].map((box) => box.value);
  const deleteButton = main.querySelector("#delete");
  const refresh = () => {
    const n = picked().length;
    deleteButton.disabled = n === 0;
    deleteButton.textContent = n ? `Delete selected (${n})` : "Delete selected";
  };
  main.addEventListener("change", (event) => {
    if (event.target.id === "pick-all") {
      for (const box of main.querySelectorAll("tbody tr:not([hidden]) .pick")) box.checked = event.target.checked;
    }
    refresh();
  });
  main.querySelector("#filter").addEventListener("input", (event) => {
    const words = event.target.value.toLowerCase();
    for (const row of main.querySelectorAll("tbody tr")) row.hidden = !row.textContent.toLowerCase().includes(words);
  });
  deleteButton.addEventListener("click", async () => {
    const names = picked();
    const ok = await confirmAction(
      names.length === 1 ? "Delete function?" : `Delete ${names.length} functions?`,
      html`<p>This deletes every version, alias and trigger of:</p><ul>${names.map((n) => html`<li>${n}</li>`)}</ul>`,
      names.length === 1 ? "Delete function" : `Delete ${names.length} functions`,
    );
    if (!ok) return;
    const results = await Promise.allSettled(names.map((n) => lambda("DELETE", `/2015-03-31/functions/${fn(n)}`)));
    const failed = results.filter((r) => r.status === "rejected");
    for (const r of failed) notify(r.reason.message);
    if (results.length > failed.length) notify(`Deleted ${results.length - failed.length} function(s)`, "ok");
    if (view.alive) reload();
  });
}

// -- creating ------------------------------------------------------------------------------------

export const TEMPLATES = {
  python: {
    handler: "lambda_function.handler",
    ext: ".py",
    code: `import json


def handler(event, context):
    print("event:", json.dumps(event))
    return {"statusCode": 200, "body": event}
`,
  },
  nodejs: {
    handler: "index.handler",
    ext: ".js",
    code: `exports.handler = async (event, context) => {
  console.log("event:", JSON.stringify(event));
  return { statusCode: 200, body: event };
};
`,
  },
  ruby: {
    handler: "lambda_function.handler",
    ext: ".rb",
    code: `require 'json'

def handler(event:, context:)
  puts "event: #{event.to_json}"
  { statusCode: 200, body: event }
end
`,
  },
};

export const family = (runtime) => (runtime || "").replace(/[0-9.]+(\.x)?$/, "").replace(/\.al2(023)?$/, "");

/** The file a handler names: `lambda_function.handler` → lambda_function.py (python: dots are packages). */
export function handlerFile(runtime, handler) {
  const kind = family(runtime);
  const template = TEMPLATES[kind];
  if (!template || !handler.includes(".")) return null;
  const module = handler.slice(0, handler.lastIndexOf("."));
  return (kind === "python" ? module.replaceAll(".", "/") : module) + template.ext;
}

/** Editor keys: Tab indents instead of leaving the field. */
export function editorKeys(textarea) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key !== "Tab" || event.shiftKey) return;
    event.preventDefault();
    textarea.setRangeText("    ", textarea.selectionStart, textarea.selectionEnd, "end");
  });
}

function environment(text) {
  const variables = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (line.trim() && at > 0) variables[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  return variables;
}

export async function createView(view) {
  const runtimes = (await internal("GET", "/_aws/lambda/runtimes")).Runtimes;
  const preferred = runtimes.find((r) => r.startsWith("python3.12")) || runtimes[0];
  view.render(html`
    <div class="toolbar"><h1><a href="#/functions">Functions</a> / Create function</h1></div>
    <form id="create" class="form">
      <label>Name <input name="name" required pattern="[A-Za-z0-9_\\-]{1,64}" spellcheck="false" autocomplete="off"></label>
      <label>Runtime <select name="runtime">${runtimes.map(
        (r) => html`<option ${r === preferred ? "selected" : ""}>${r}</option>`,
      )}</select></label>
      <label>Handler <input name="handler" required spellcheck="false"></label>
      <label>Role <input name="role" value="arn:aws:iam::${session.server?.AccountId || "000000000000"}:role/lambda-role" spellcheck="false"></label>
      <label>Memory (MB) <input name="memory" type="number" min="128" max="10240" value="128"></label>
      <label>Timeout (s) <input name="timeout" type="number" min="1" max="900" value="3"></label>
      <label class="wide">Description <input name="description"></label>
      <label class="wide">Environment variables (KEY=value, one a line) <textarea name="environment" rows="2" spellcheck="false"></textarea></label>
      <fieldset class="wide">
        <legend>Code</legend>
        <label class="inline"><input type="radio" name="source" value="editor" checked> Editor</label>
        <label class="inline"><input type="radio" name="source" value="zip"> Zip file</label>
        <div class="source editor"><div class="filename"></div>
          <textarea name="code" class="code" rows="14" spellcheck="false" aria-label="code"></textarea></div>
        <div class="source zip" hidden><input type="file" name="zip" accept=".zip,application/zip" aria-label="zip file"></div>
      </fieldset>
      <div class="wide"><button type="submit">Create function</button></div>
    </form>`);
  const form = view.main.querySelector("#create");
  const code = form.elements.code;
  editorKeys(code);
  let edited = false;
  code.addEventListener("input", () => (edited = true));
  const showFile = () => {
    const file = handlerFile(form.elements.runtime.value, form.elements.handler.value);
    form.querySelector(".filename").textContent = file || "(this runtime takes a zip)";
  };
  const pickRuntime = () => {
    const template = TEMPLATES[family(form.elements.runtime.value)];
    if (template) {
      form.elements.handler.value = template.handler;
      if (!edited) code.value = template.code;
    } else {
      form.elements.source.value = "zip";
      form.elements.handler.value = form.elements.runtime.value.startsWith("provided") ? "bootstrap" : "";
    }
    showSource();
    showFile();
  };
  const showSource = () => {
    const source = form.elements.source.value;
    form.querySelector(".source.editor").hidden = source !== "editor";
    form.querySelector(".source.zip").hidden = source !== "zip";
  };
  form.elements.runtime.addEventListener("change", pickRuntime);
  form.elements.handler.addEventListener("input", showFile);
  for (const radio of form.elements.source) radio.addEventListener("change", showSource);
  pickRuntime();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = form.elements;
    let zip;
    if (f.source.value === "zip") {
      zip = await fileBytes(f.zip);
      if (!zip) return notify("Choose a zip file");
    } else {
      const file = handlerFile(f.runtime.value, f.handler.value);
      if (!file) return notify("The editor writes one file for a Python, Node.js or Ruby handler; use a zip");
      zip = makeZip({ [file]: code.value });
    }
    const request = {
      FunctionName: f.name.value.trim(),
      Runtime: f.runtime.value,
      Handler: f.handler.value.trim(),
      Role: f.role.value.trim(),
      MemorySize: Number(f.memory.value),
      Timeout: Number(f.timeout.value),
      Description: f.description.value,
      Code: { ZipFile: toBase64(zip) },
    };
    const variables = environment(f.environment.value);
    if (Object.keys(variables).length) request.Environment = { Variables: variables };
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const created = await lambda("POST", "/2015-03-31/functions", { body: request });
      notify(`Created ${created.FunctionName}`, "ok");
      location.hash = `#/functions/${fn(created.FunctionName)}`;
    } catch (err) {
      notify(err.message);
    } finally {
      button.disabled = false;
    }
  });
}
