// The invocation journal: every recent invocation whatever its trigger, filtered by function,
// status and trigger; one entry's request, response and logs; replayed from the page.

import { badge, confirmAction, fn, html, internal, notify, pretty, table, whenMs } from "./api.js";

const filters = { function: "", status: "", trigger: "" }; // kept while the page is open
const STATUSES = ["Success", "Error", "Timeout", "Throttled", "Failed"];
const TRIGGERS = ["api", "dashboard", "event", "replay", "url", "stream", "sqs", "kinesis", "dynamodb", "apigateway", "sns", "s3", "events", "logs", "destination"];

function payload(kept) {
  if (!kept) return "(none)";
  const note = kept.Truncated ? `\n… (${kept.Size} bytes, truncated)` : "";
  return (kept.Encoding === "base64" ? `base64: ${kept.Payload}` : pretty(kept.Payload)) + note;
}

function detail(entry) {
  return html`<div class="detail" id="entry">
    <div class="toolbar"><h2>Invocation <code>${entry.Id}</code></h2><span class="spacer"></span>
      <button id="replay" ${entry.Request?.Truncated ? "disabled title='its request was kept truncated'" : ""}>Replay</button></div>
    <dl class="grid">
      <dt>Function</dt><dd><a href="#/functions/${fn(entry.FunctionName)}">${entry.FunctionName}</a>${entry.Qualifier ? `:${entry.Qualifier}` : ""}</dd>
      <dt>Status</dt><dd>${badge(entry.Status)} ${entry.Error ? `${entry.Error.Type}: ${entry.Error.Message}` : ""}</dd>
      <dt>Trigger</dt><dd>${entry.Trigger} (${entry.InvocationType})${entry.ReplayOf ? html` · replay of <a href="#/journal/${entry.ReplayOf}">${entry.ReplayOf}</a>` : ""}</dd>
      <dt>Request id</dt><dd><code>${entry.RequestId}</code></dd>
      <dt>Started</dt><dd>${whenMs(entry.StartTime)}</dd>
      <dt>Duration</dt><dd>${entry.DurationMs} ms${entry.InitDurationMs !== null ? ` (init ${entry.InitDurationMs} ms)` : ""}</dd>
      <dt>Executed version</dt><dd>${entry.ExecutedVersion}</dd>
    </dl>
    <h3>Request</h3><pre>${payload(entry.Request)}</pre>
    <h3>Response</h3><pre>${payload(entry.Response)}</pre>
    <h3>Logs</h3><pre class="log">${entry.Logs.join("\n")}${entry.LogsTruncated ? "\n… (truncated)" : ""}</pre>
    <div id="replay-result"></div>
  </div>`;
}

export async function journalView(view, id) {
  const query = { limit: 200, function: filters.function, status: filters.status, trigger: filters.trigger };
  const [list, entry] = await Promise.all([
    internal("GET", "/_aws/lambda/invocations", { query }),
    id ? internal("GET", `/_aws/lambda/invocations/${encodeURIComponent(id)}`) : null,
  ]);
  const option = (value, chosen) => html`<option ${value === chosen ? "selected" : ""}>${value}</option>`;
  view.render(html`
    <div class="toolbar"><h1>Journal <span class="count">${list.Invocations.length}</span></h1>
      <input id="journal-function" placeholder="Function" value="${filters.function}" aria-label="function filter">
      <select id="journal-status" aria-label="status filter"><option value="">any status</option>${STATUSES.map((s) => option(s, filters.status))}</select>
      <select id="journal-trigger" aria-label="trigger filter"><option value="">any trigger</option>${TRIGGERS.map((t) => option(t, filters.trigger))}</select>
      <span class="spacer"></span>
      <button id="journal-refresh" class="secondary">Refresh</button>
      <button id="journal-clear" class="danger">Clear</button>
    </div>
    <div class="split">
      <div id="journal">${table(
        ["Started", "Function", "Trigger", "Status", "Duration", "Error"],
        list.Invocations.map((e) => [
          html`<a href="#/journal/${e.Id}" data-id="${e.Id}" class="${e.Id === id ? "current" : ""}">${whenMs(e.StartTime)}</a>`,
          `${e.FunctionName}${e.Qualifier ? `:${e.Qualifier}` : ""}`,
          e.Trigger,
          badge(e.Status),
          `${e.DurationMs.toFixed(1)} ms`,
          e.Error ? e.Error.Type : "",
        ]),
        "No invocations recorded yet.",
      )}</div>
      ${entry ? detail(entry) : ""}
    </div>`);
  const main = view.main;
  const apply = () => {
    filters.function = main.querySelector("#journal-function").value.trim();
    filters.status = main.querySelector("#journal-status").value;
    filters.trigger = main.querySelector("#journal-trigger").value;
    journalView(view, id).catch((err) => notify(err.message));
  };
  main.querySelector("#journal-function").addEventListener("change", apply);
  main.querySelector("#journal-status").addEventListener("change", apply);
  main.querySelector("#journal-trigger").addEventListener("change", apply);
  main.querySelector("#journal-refresh").addEventListener("click", apply);
  main.querySelector("#journal-clear").addEventListener("click", async () => {
    if (!(await confirmAction("Clear the journal?", "Every recorded invocation is forgotten.", "Clear journal"))) return;
    await internal("DELETE", "/_aws/lambda/invocations");
    location.hash = "#/journal";
    apply();
  });
  main.querySelector("#replay")?.addEventListener("click", async (event) => {
    event.target.disabled = true;
    try {
      const result = await internal("POST", `/_aws/lambda/invocations/${encodeURIComponent(id)}/replay`);
      const logs = result.LogResult ? new TextDecoder().decode(Uint8Array.from(atob(result.LogResult), (c) => c.charCodeAt(0))) : "";
      main.querySelector("#replay-result").innerHTML = String(html`
        <div class="result ${result.FunctionError ? "bad" : "ok"}" id="replayed">
          <h3>Replayed${result.FunctionError ? `: ${result.FunctionError}` : ""}</h3>
          <p>New entry: <a href="#/journal/${result.Id}" id="replay-entry">${result.Id}</a> · executed version ${result.ExecutedVersion}</p>
          <pre id="replay-payload">${result.PayloadEncoding ? result.Payload : pretty(result.Payload)}</pre>
          <pre class="log">${logs}</pre>
        </div>`);
    } catch (err) {
      notify(err.message);
    } finally {
      event.target.disabled = false;
    }
  });
}
