// The tabs of a function that list what hangs off it: live logs, versions and aliases, triggers
// (URLs, event source mappings, asynchronous invocation settings), access (resource policy,
// tags, concurrency) and its warm environments.

import { badge, fn, html, internal, lambda, notify, region, reload, session, table, when } from "./api.js";
import { environmentTable } from "./resources.js";

// -- live logs -----------------------------------------------------------------------------------

const POLL_MS = 750;

export async function logsTab(view, name) {
  await session.ready?.catch(() => null);
  const path = `/_aws/lambda/logs/${region()}/${fn(name)}`;
  const first = await internal("GET", path, { query: { limit: 500 } });
  return {
    content: html`
      <div class="toolbar">
        <label class="inline"><input type="checkbox" id="follow" checked> Follow (live)</label>
        <span id="live" class="live">● live</span>
        <span class="spacer"></span>
        <button id="clear-logs" class="secondary">Clear</button>
      </div>
      <pre id="log" class="log tall" aria-label="function logs"></pre>`,
    wire(main) {
      const box = main.querySelector("#log");
      let since = 0;
      let busy = false;
      const add = (lines) => {
        if (!lines.length) return;
        since = lines[lines.length - 1].time;
        const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
        box.append(document.createTextNode(lines.map((l) => l.line).join("\n") + "\n"));
        if (atEnd) box.scrollTop = box.scrollHeight;
      };
      add(first.lines);
      if (!first.lines.length) box.dataset.empty = "No log lines yet: invoke the function.";
      main.querySelector("#clear-logs").addEventListener("click", () => (box.textContent = ""));
      const follow = main.querySelector("#follow");
      follow.addEventListener("change", () => (main.querySelector("#live").hidden = !follow.checked));
      view.every(POLL_MS, async () => {
        if (busy || !follow.checked) return;
        busy = true;
        try {
          add((await internal("GET", path, { query: { since, limit: 1000 } })).lines);
        } catch (err) {
          notify(`logs: ${err.message}`);
        } finally {
          busy = false;
        }
      });
    },
  };
}

// -- versions and aliases ------------------------------------------------------------------------

function weights(alias) {
  const extra = Object.entries(alias.RoutingConfig?.AdditionalVersionWeights || {});
  if (!extra.length) return `${alias.FunctionVersion}: 100%`;
  const rest = 1 - extra.reduce((n, [, w]) => n + w, 0);
  return [[alias.FunctionVersion, rest], ...extra].map(([v, w]) => `${v}: ${+(w * 100).toFixed(2)}%`).join(" · ");
}

export async function versionsTab(view, name) {
  const [versions, aliases] = await Promise.all([
    lambda("GET", `/2015-03-31/functions/${fn(name)}/versions`, { query: { MaxItems: 10000 } }),
    lambda("GET", `/2015-03-31/functions/${fn(name)}/aliases`, { query: { MaxItems: 10000 } }),
  ]);
  return {
    content: html`
      <div class="toolbar"><h2>Versions</h2><span class="spacer"></span>
        <input id="version-description" placeholder="Description" aria-label="version description">
        <button id="publish">Publish version</button></div>
      ${table(
        ["Version", "Description", "Runtime", "Memory", "Last modified", "Code SHA-256"],
        versions.Versions.map((v) => [v.Version, v.Description, v.Runtime || v.PackageType, `${v.MemorySize} MB`, when(v.LastModified), html`<code>${v.CodeSha256}</code>`]),
      )}
      <h2>Aliases</h2>
      ${table(
        ["Name", "Version", "Weights", "Description"],
        aliases.Aliases.map((a) => [a.Name, a.FunctionVersion, weights(a), a.Description]),
        "No aliases",
      )}`,
    wire(main) {
      main.querySelector("#publish").addEventListener("click", async () => {
        try {
          const body = { Description: main.querySelector("#version-description").value };
          const v = await lambda("POST", `/2015-03-31/functions/${fn(name)}/versions`, { body });
          notify(`Published version ${v.Version}`, "ok");
          reload();
        } catch (err) {
          notify(err.message);
        }
      });
    },
  };
}

// -- triggers ------------------------------------------------------------------------------------

const destination = (config, kind) => config.DestinationConfig?.[kind]?.Destination || "";

export async function triggersTab(view, name) {
  const [urls, mappings, invokeConfigs] = await Promise.all([
    lambda("GET", `/2021-10-31/functions/${fn(name)}/urls`),
    lambda("GET", "/2015-03-31/event-source-mappings/", { query: { FunctionName: name, MaxItems: 10000 } }),
    lambda("GET", `/2019-09-25/functions/${fn(name)}/event-invoke-config/list`),
  ]);
  return {
    content: html`
      <h2>Function URLs</h2>
      ${table(
        ["URL", "Auth", "Invoke mode", "CORS"],
        urls.FunctionUrlConfigs.map((u) => [
          html`<a href="${u.FunctionUrl}" target="_blank" rel="noreferrer">${u.FunctionUrl}</a>`,
          u.AuthType,
          u.InvokeMode,
          u.Cors ? JSON.stringify(u.Cors) : "",
        ]),
        "No function URL",
      )}
      <h2>Event source mappings</h2>
      ${table(
        ["UUID", "Source", "State", "Batch size", "Starting position", "Last result"],
        mappings.EventSourceMappings.map((m) => [
          html`<code>${m.UUID}</code>`,
          m.EventSourceArn || JSON.stringify(m.SelfManagedEventSource || ""),
          badge(m.State),
          m.BatchSize,
          m.StartingPosition,
          m.LastProcessingResult,
        ]),
        "No event source mappings",
      )}
      <h2>Asynchronous invocation</h2>
      ${table(
        ["Function", "Retries", "Maximum age", "On success", "On failure"],
        invokeConfigs.FunctionEventInvokeConfigs.map((c) => [
          c.FunctionArn.split(":").slice(6).join(":"),
          c.MaximumRetryAttempts,
          c.MaximumEventAgeInSeconds && `${c.MaximumEventAgeInSeconds} s`,
          destination(c, "OnSuccess"),
          destination(c, "OnFailure"),
        ]),
        "Defaults (2 retries, 6 hours)",
      )}`,
  };
}

// -- access and concurrency ----------------------------------------------------------------------

export async function accessTab(view, name, loading) {
  const [policy, provisioned, got] = await Promise.all([
    lambda("GET", `/2015-03-31/functions/${fn(name)}/policy`).catch((err) => (err.status === 404 ? null : Promise.reject(err))),
    lambda("GET", `/2019-09-30/functions/${fn(name)}/provisioned-concurrency?List=ALL`),
    loading,
  ]);
  const statements = policy ? JSON.parse(policy.Policy).Statement || [] : [];
  const reserved = got.Concurrency?.ReservedConcurrentExecutions;
  return {
    content: html`
      <h2>Resource-based policy</h2>
      ${table(
        ["Sid", "Effect", "Principal", "Action", "Condition"],
        statements.map((s) => [s.Sid, s.Effect, JSON.stringify(s.Principal), [].concat(s.Action).join(", "), s.Condition ? JSON.stringify(s.Condition) : ""]),
        "No resource-based policy",
      )}
      <h2>Tags</h2>
      ${table(["Key", "Value"], Object.entries(got.Tags || {}), "No tags")}
      <h2>Concurrency</h2>
      <p>Reserved concurrency: <b>${reserved === undefined ? "none (the account's unreserved pool)" : reserved}</b></p>
      ${table(
        ["Qualifier", "Requested", "Allocated", "Available", "Status"],
        provisioned.ProvisionedConcurrencyConfigs.map((p) => [
          p.FunctionArn.split(":").slice(7).join(":"),
          p.RequestedProvisionedConcurrentExecutions,
          p.AllocatedProvisionedConcurrentExecutions,
          p.AvailableProvisionedConcurrentExecutions,
          badge(p.Status),
        ]),
        "No provisioned concurrency",
      )}`,
  };
}

// -- environments --------------------------------------------------------------------------------

export async function environmentsTab(view, name) {
  const server = await internal("GET", "/_dashboard/api/server");
  const mine = server.Environments.filter((e) => e.FunctionName === name && e.Region === region());
  return {
    content: html`<p>Executor in use: <b>${server.Executor}</b></p>${environmentTable(mine, false)}`,
  };
}
