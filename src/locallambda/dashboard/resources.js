// The warm environments of every function with the executor in use, and the neighbour
// services' resources a Lambda user touches (queues, buckets, tables, streams, log groups),
// read-only, listed by the server (/_dashboard/api/resources).

import { age, badge, bytes, fn, html, internal, region, session, table, when } from "./api.js";

export function environmentTable(environments, withFunction = true) {
  return table(
    [...(withFunction ? ["Function"] : []), "Version", "State", "Executor", "Memory", "Age", "Idle for", "Invocations", "Init", "Id"],
    environments.map((e) => [
      ...(withFunction ? [html`<a href="#/functions/${fn(e.FunctionName)}/environments">${e.FunctionName}</a>`] : []),
      e.Version,
      badge(e.State),
      e.Executor,
      `${e.MemorySize} MB`,
      age(e.AgeSeconds),
      age(e.IdleSeconds),
      e.Invocations,
      e.InitDurationMs === null ? (e.Provisioned ? "provisioned" : "") : `${e.InitDurationMs.toFixed(1)} ms`,
      html`<code title="${e.Id}">${e.Id.slice(0, 8)}</code>`,
    ]),
    "No warm environments: an invocation starts one.",
  );
}

export async function environmentsView(view) {
  const show = async () => {
    const server = await internal("GET", "/_dashboard/api/server");
    view.render(html`
      <div class="toolbar"><h1>Environments <span class="count">${server.Environments.length}</span></h1>
        <span class="spacer"></span><span>Executor in use: <b id="executor-name">${server.Executor}</b></span></div>
      ${environmentTable(server.Environments)}`);
  };
  await show();
  view.every(2000, show);
}

function section(title, id, columns, rows, error) {
  return html`<section id="${id}"><h2>${title} <span class="count">${rows.length}</span></h2>
    ${error ? html`<p class="reason">${error}</p>` : table(columns, rows)}</section>`;
}

export async function resourcesView(view) {
  view.render(html`<h1>Resources</h1><p class="empty">Asking the neighbour services…</p>`);
  const doc = await internal("GET", "/_dashboard/api/resources", { query: { region: session.region } });
  const errors = doc.Errors || {};
  view.render(html`
    <div class="toolbar"><h1>Resources in ${doc.Region || region()}</h1>
      <span class="spacer"></span><span class="hint">Read-only; the embedded services on this port.</span></div>
    ${section(
      "SQS queues",
      "queues",
      ["Name", "Messages", "In flight", "Delayed", "FIFO", "URL"],
      doc.Queues.map((q) => [q.Name, q.Messages, q.InFlight, q.Delayed, q.Fifo ? "yes" : "", q.Url]),
      errors.sqs,
    )}
    ${section("S3 buckets", "buckets", ["Name", "Created"], doc.Buckets.map((b) => [b.Name, when(b.CreationDate)]), errors.s3)}
    ${section(
      "DynamoDB tables",
      "tables",
      ["Name", "Status", "Items", "Size", "Keys", "Stream"],
      doc.Tables.map((t) => [t.Name, badge(t.Status), t.Items, bytes(t.SizeBytes), t.Keys, t.StreamArn ? t.StreamArn.split("/").slice(-1)[0] : ""]),
      errors.dynamodb,
    )}
    ${section(
      "Kinesis streams",
      "streams",
      ["Name", "Status", "Open shards", "Retention"],
      doc.Streams.map((s) => [s.Name, badge(s.Status), s.Shards, s.RetentionHours && `${s.RetentionHours} h`]),
      errors.kinesis,
    )}
    ${section(
      "CloudWatch log groups",
      "log-groups",
      ["Name", "Stored", "Created", "Retention"],
      doc.LogGroups.map((g) => [g.Name, bytes(g.StoredBytes), when(g.CreationTime), g.RetentionInDays ? `${g.RetentionInDays} days` : "never expires"]),
      errors.logs,
    )}`);
}
