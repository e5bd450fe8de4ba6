// One function: its configuration, code (update from a zip or the editor), invoke (payload,
// qualifier, result, status, duration, logs), live logs, versions and aliases, triggers, access
// and its warm environments. #/functions/<name>/<tab>.

import { badge, bytes, confirmAction, fileBytes, fn, html, lambda, notify, pretty, reload, table, when } from "./api.js";
import { editorKeys, handlerFile } from "./functions.js";
import { accessTab, environmentsTab, logsTab, triggersTab, versionsTab } from "./function_tabs.js";
import { fromBase64, makeZip, toBase64, zipEntries, zipRead } from "./zip.js";

const TABS = {
  configuration: ["Configuration", configurationTab],
  code: ["Code", codeTab],
  invoke: ["Invoke", invokeTab],
  logs: ["Logs", logsTab],
  versions: ["Versions & aliases", versionsTab],
  triggers: ["Triggers", triggersTab],
  access: ["Access & concurrency", accessTab],
  environments: ["Environments", environmentsTab],
};

export async function functionView(view, name, tab = "configuration") {
  if (!TABS[tab]) tab = "configuration";
  // The tab's own requests go out beside GetFunction (a tab that needs it awaits the promise).
  const [, show] = TABS[tab];
  const loading = lambda("GET", `/2015-03-31/functions/${fn(name)}`);
  const [got, shown] = await Promise.all([loading, show(view, name, loading)]);
  const config = got.Configuration;
  view.render(html`
    <div class="toolbar">
      <h1><a href="#/functions">Functions</a> / <span id="function-name">${name}</span></h1>
      <span id="state">${badge(config.State)}${config.LastUpdateStatus ? badge(config.LastUpdateStatus) : ""}</span>
      <span class="spacer"></span>
      <button id="delete-function" class="danger">Delete</button>
    </div>
    ${config.StateReason ? html`<p class="reason">${config.StateReason}</p>` : ""}
    <nav class="tabs">${Object.entries(TABS).map(
      ([key, [label]]) => html`<a href="#/functions/${fn(name)}/${key}" class="${key === tab ? "active" : ""}">${label}</a>`,
    )}</nav>
    <section class="tab" id="tab-${tab}">${shown.content}</section>`);
  view.main.querySelector("#delete-function").addEventListener("click", async () => {
    const ok = await confirmAction("Delete function?", html`<p>This deletes <b>${name}</b>, its versions, aliases and triggers.</p>`, "Delete function");
    if (!ok) return;
    try {
      await lambda("DELETE", `/2015-03-31/functions/${fn(name)}`);
      notify(`Deleted ${name}`, "ok");
      location.hash = "#/functions";
    } catch (err) {
      notify(err.message);
    }
  });
  shown.wire?.(view.main);
  // A function still being created or updated: its state is followed until it settles.
  if (config.State === "Pending" || config.LastUpdateStatus === "InProgress") {
    view.every(500, async () => {
      const now = await lambda("GET", `/2015-03-31/functions/${fn(name)}/configuration`);
      if (now.State !== config.State || now.LastUpdateStatus !== config.LastUpdateStatus) reload();
    });
  }
}

// -- configuration -------------------------------------------------------------------------------

function definitions(pairs) {
  return html`<dl class="grid">${pairs
    .filter(([, value]) => value !== undefined && value !== null && value !== "")
    .map(([key, value]) => html`<dt>${key}</dt><dd>${value}</dd>`)}</dl>`;
}

async function configurationTab(view, name, loading) {
  const got = await loading;
  const c = got.Configuration;
  const variables = Object.entries(c.Environment?.Variables || {});
  return {
    content: html`
      ${definitions([
        ["ARN", c.FunctionArn],
        ["Description", c.Description],
        ["Runtime", c.Runtime],
        ["Handler", c.Handler],
        ["Package type", c.PackageType],
        ["Image", got.Code?.ImageUri],
        ["Role", c.Role],
        ["Memory", `${c.MemorySize} MB`],
        ["Timeout", `${c.Timeout} s`],
        ["Ephemeral storage", c.EphemeralStorage && `${c.EphemeralStorage.Size} MB`],
        ["Architectures", (c.Architectures || []).join(", ")],
        ["Code size", bytes(c.CodeSize)],
        ["Code SHA-256", c.CodeSha256],
        ["Last modified", when(c.LastModified)],
        ["Layers", (c.Layers || []).map((l) => l.Arn).join("\n")],
        ["Log group", c.LoggingConfig?.LogGroup],
        ["Log format", c.LoggingConfig?.LogFormat],
        ["Tracing", c.TracingConfig?.Mode],
        ["Dead-letter queue", c.DeadLetterConfig?.TargetArn],
        ["Revision", c.RevisionId],
      ])}
      <h2>Environment variables</h2>
      ${table(["Name", "Value"], variables, "No environment variables")}
      <details><summary>GetFunction as JSON</summary><pre>${JSON.stringify(got, null, 2)}</pre></details>`,
  };
}

// -- code ----------------------------------------------------------------------------------------

const EDITABLE = 4 * 1024 * 1024; // a zip larger than this is not opened in the page

async function currentFiles(got) {
  const location = got.Code?.Location;
  if (!location || (got.Configuration.CodeSize || 0) > EDITABLE) return null;
  // Code.Location names the server by its configured host: fetched from this page's origin.
  const url = new URL(location, window.location.href);
  const response = await fetch(url.pathname.startsWith("/_aws/lambda/code/") ? url.pathname : url.href);
  if (!response.ok) return null;
  const zip = new Uint8Array(await response.arrayBuffer());
  const files = {};
  for (const entry of zipEntries(zip)) files[entry.name] = await zipRead(zip, entry);
  return files;
}

async function codeTab(view, name, loading) {
  const got = await loading;
  const c = got.Configuration;
  if (c.PackageType === "Image") {
    return { content: definitions([["Image URI", got.Code?.ImageUri], ["Resolved", got.Code?.ResolvedImageUri]]) };
  }
  const files = await currentFiles(got).catch(() => null);
  const file = handlerFile(c.Runtime, c.Handler || "");
  const text = files && file && files[file] ? new TextDecoder().decode(files[file]) : null;
  const location = got.Code?.Location ? new URL(got.Code.Location, window.location.href).pathname : null;
  return {
    content: html`
      ${definitions([
        ["Files", files ? Object.keys(files).join("\n") : ""],
        ["Size", bytes(c.CodeSize)],
        ["SHA-256", c.CodeSha256],
        ["Download", location ? html`<a href="${location}" download="${name}.zip">${name}.zip</a>` : ""],
      ])}
      ${
        text !== null
          ? html`<h2>Edit <code>${file}</code></h2>
            <textarea id="code" class="code" rows="18" spellcheck="false" aria-label="code">${text}</textarea>
            <div><button id="save-code">Save code</button></div>`
          : html`<p class="empty">The handler's file is not editable here (no single ${file || "source"} file found).</p>`
      }
      <h2>Upload a zip</h2>
      <div class="row"><input type="file" id="zip" accept=".zip,application/zip" aria-label="zip file">
        <button id="upload-code">Update code</button></div>`,
    wire(main) {
      const update = async (zip) => {
        try {
          await lambda("PUT", `/2015-03-31/functions/${fn(name)}/code`, { body: { ZipFile: toBase64(zip) } });
          notify("Code updated", "ok");
          reload();
        } catch (err) {
          notify(err.message);
        }
      };
      const editor = main.querySelector("#code");
      if (editor) {
        editorKeys(editor);
        main.querySelector("#save-code").addEventListener("click", () => update(makeZip({ ...files, [file]: editor.value })));
      }
      main.querySelector("#upload-code").addEventListener("click", async () => {
        const zip = await fileBytes(main.querySelector("#zip"));
        if (zip) await update(zip);
        else notify("Choose a zip file");
      });
    },
  };
}

// -- invoke --------------------------------------------------------------------------------------

const lastPayload = new Map(); // per function, for the session: what was invoked last

async function invokeTab(view, name) {
  const [versions, aliases] = await Promise.all([
    lambda("GET", `/2015-03-31/functions/${fn(name)}/versions`, { query: { MaxItems: 10000 } }),
    lambda("GET", `/2015-03-31/functions/${fn(name)}/aliases`, { query: { MaxItems: 10000 } }),
  ]);
  const qualifiers = [
    ...versions.Versions.map((v) => v.Version),
    ...aliases.Aliases.map((a) => a.Name),
  ];
  return {
    content: html`
      <form id="invoke" class="form">
        <label class="wide">Payload (JSON)
          <textarea name="payload" class="code" rows="8" spellcheck="false" aria-label="payload">${lastPayload.get(name) || '{\n  "hello": "world"\n}'}</textarea></label>
        <label>Qualifier <select name="qualifier" aria-label="qualifier">${qualifiers.map((q) => html`<option>${q}</option>`)}</select></label>
        <label>Invocation type <select name="type">
          <option>RequestResponse</option><option>Event</option><option>DryRun</option></select></label>
        <div class="wide"><button type="submit" id="invoke-button">Invoke</button></div>
      </form>
      <div id="result"></div>`,
    wire(main) {
      const form = main.querySelector("#invoke");
      editorKeys(form.elements.payload);
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const payload = form.elements.payload.value;
        lastPayload.set(name, payload);
        const qualifier = form.elements.qualifier.value;
        const type = form.elements.type.value;
        const button = form.querySelector("button");
        button.disabled = true;
        const started = performance.now();
        try {
          const response = await lambda("POST", `/2015-03-31/functions/${fn(name)}/invocations`, {
            query: { Qualifier: qualifier === "$LATEST" ? undefined : qualifier },
            headers: {
              "x-amz-invocation-type": type,
              "x-amz-log-type": type === "RequestResponse" ? "Tail" : "None",
              "content-type": "application/json",
              "x-locallambda-trigger": "dashboard", // the journal's trigger
            },
            body: payload,
            raw: true,
          });
          const roundTrip = performance.now() - started;
          main.querySelector("#result").innerHTML = String(await invocationResult(response, roundTrip));
        } catch (err) {
          notify(err.message);
        } finally {
          button.disabled = false;
        }
      });
    },
  };
}

function report(log) {
  const line = log.split("\n").find((l) => l.startsWith("REPORT RequestId:")) || "";
  const field = (label) => line.match(new RegExp(`\\t${label}: ([0-9.]+) (ms|MB)`))?.[1];
  return { duration: field("Duration"), billed: field("Billed Duration"), init: field("Init Duration"), memory: field("Max Memory Used") };
}

export async function invocationResult(response, roundTrip) {
  const text = await response.text();
  const error = response.headers.get("x-amz-function-error");
  if (!response.ok) {
    let message = text;
    try {
      message = JSON.parse(text).message || JSON.parse(text).Message || text;
    } catch {}
    return html`<div class="result bad"><h2>Status ${response.status} ${response.headers.get("x-amzn-errortype") || ""}</h2><pre>${message}</pre></div>`;
  }
  const tail = response.headers.get("x-amz-log-result");
  const log = tail ? new TextDecoder().decode(fromBase64(tail)) : "";
  const r = report(log);
  return html`<div class="result ${error ? "bad" : "ok"}" id="invoke-result">
    ${definitions([
      ["Status", html`<span id="result-status">${response.status}</span>`],
      ["Function error", error],
      ["Executed version", html`<span id="result-version">${response.headers.get("x-amz-executed-version")}</span>`],
      ["Duration", r.duration && `${r.duration} ms (billed ${r.billed} ms)`],
      ["Init duration", r.init && `${r.init} ms (cold start)`],
      ["Max memory used", r.memory && `${r.memory} MB`],
      ["Round trip", `${roundTrip.toFixed(1)} ms`],
    ])}
    <h2>Response</h2><pre id="result-payload">${text ? pretty(text) : "(empty)"}</pre>
    ${log ? html`<h2>Logs (tail)</h2><pre id="result-logs" class="log">${log}</pre>` : ""}
  </div>`;
}
