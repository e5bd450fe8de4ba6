"""The resource browser (issue 12) in a real headless Chromium: a function created from the
page's editor, invoked from the page (result, status, duration and logs), its logs followed live
while boto3 invokes it, the invocation replayed from the journal, several functions deleted
after a confirmation; layers published and deleted, the warm environments and the neighbours'
resources shown. Every page is kept as a screenshot (``conftest.py``: ``shot``).
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile
from typing import Any

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect

from tests.conftest import ROLE, Server, make_zip, wait_active
from tests.invoke.conftest import HOST_PYTHON_RUNTIME, unique

HANDLER = """import json


def handler(event, context):
    print("dashboard-log", json.dumps(event))
    return {"echo": event}
"""


def dashboard(srv: Server, route: str = "") -> str:
    return f"{srv.url}/_dashboard/{route}"


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is the answer looked at


_OPENER = urllib.request.build_opener(_Unfollowed)


def get(srv: Server, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(srv.url + path, headers=headers or {})
    try:
        with _OPENER.open(request, timeout=30) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def journal(srv: Server, function: str) -> list[dict[str, Any]]:
    status, _, body = get(srv, f"/_aws/lambda/invocations?function={function}")
    assert status == 200
    entries: list[dict[str, Any]] = json.loads(body)["Invocations"]
    return entries


def create_from_the_editor(page: Page, srv: Server, name: str, shot: Any) -> None:
    page.goto(dashboard(srv))
    expect(page.locator("html")).to_have_attribute("data-rendered", "functions")
    page.get_by_role("link", name="Create function").click()
    form = page.locator("#create")
    form.locator("input[name=name]").fill(name)
    form.locator("select[name=runtime]").select_option(HOST_PYTHON_RUNTIME)
    expect(form.locator("input[name=handler]")).to_have_value("lambda_function.handler")
    expect(form.locator(".filename")).to_have_text("lambda_function.py")
    form.locator("textarea[name=code]").fill(HANDLER)
    shot("create-function")
    form.get_by_role("button", name="Create function").click()
    expect(page.locator("#function-name")).to_have_text(name)
    # Created Pending: the page follows the state until the function is Active.
    expect(page.locator("#state")).to_contain_text("Active")


def test_a_function_from_the_editor_to_its_deletion(page: Page, srv: Server, shot: Any) -> None:
    client = srv.client()
    name = unique("dash")
    create_from_the_editor(page, srv, name, shot)
    config = client.get_function_configuration(FunctionName=name)
    assert (config["Runtime"], config["Handler"], config["State"]) == (
        HOST_PYTHON_RUNTIME,
        "lambda_function.handler",
        "Active",
    )
    expect(page.locator("#tab-configuration")).to_contain_text(config["FunctionArn"])
    shot("function-configuration")

    # Invoke from the page: result, status, duration and the log tail.
    page.locator("nav.tabs").get_by_role("link", name="Invoke").click()
    page.locator("textarea[name=payload]").fill('{"n": 1}')
    page.locator("#invoke-button").click()
    expect(page.locator("#result-status")).to_have_text("200")
    expect(page.locator("#result-payload")).to_contain_text('"n": 1')
    expect(page.locator("#invoke-result")).to_contain_text("Duration")
    expect(page.locator("#invoke-result")).to_contain_text("Init duration")  # its first, cold
    expect(page.locator("#result-logs")).to_contain_text('dashboard-log {"n": 1}')
    expect(page.locator("#result-logs")).to_contain_text("REPORT RequestId:")
    shot("function-invoke")

    # The code tab opens the handler's file in the editor; saving it updates the function.
    page.locator("nav.tabs").get_by_role("link", name="Code").click()
    editor = page.locator("#code")
    expect(editor).to_have_value(HANDLER)
    editor.fill(HANDLER.replace("dashboard-log", "dashboard-line"))
    page.locator("#save-code").click()
    expect(page.locator("#notices")).to_contain_text("Code updated")
    client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 150})
    assert client.get_function_configuration(FunctionName=name)["CodeSha256"] != config["CodeSha256"]
    expect(page.locator("#state")).to_contain_text("Successful")
    expect(page.locator("#code")).to_have_value(HANDLER.replace("dashboard-log", "dashboard-line"))
    shot("function-code")

    # Live logs: lines of an invocation made elsewhere arrive without reloading the page.
    page.locator("nav.tabs").get_by_role("link", name="Logs").click()
    logs = page.locator("#log")
    expect(logs).to_contain_text('dashboard-log {"n": 1}')  # the history
    page.evaluate("window.sameDocument = true")
    client.invoke(FunctionName=name, Payload=b'{"from": "boto3"}')
    expect(logs).to_contain_text('dashboard-line {"from": "boto3"}')
    assert page.evaluate("window.sameDocument") is True
    shot("function-logs")

    # The journal lists both invocations; the boto3 one is replayed from the page.
    page.locator("header nav").get_by_role("link", name="Journal").click()
    rows = page.locator("#journal tbody tr")
    expect(rows.filter(has_text=name)).to_have_count(2)
    expect(rows.filter(has_text="dashboard")).to_have_count(1)
    original = next(e for e in journal(srv, name) if e["Trigger"] == "api")
    rows.filter(has=page.locator(f"a[data-id='{original['Id']}']")).get_by_role("link").click()
    expect(page.locator("#entry")).to_contain_text('"from": "boto3"')
    page.locator("#replay").click()
    expect(page.locator("#replayed")).to_contain_text('"from": "boto3"')
    replays = [e for e in journal(srv, name) if e["Trigger"] == "replay"]
    assert [e["ReplayOf"] for e in replays] == [original["Id"]]
    page.locator("#replay-entry").click()
    expect(page.locator("#entry")).to_contain_text(f"replay of {original['Id']}")
    expect(rows.filter(has_text=name)).to_have_count(3)
    shot("journal")

    # Its warm environment, with the executor in use.
    page.locator("header nav").get_by_role("link", name="Environments").click()
    environment = page.locator("main table tbody tr", has_text=name)
    expect(environment).to_have_count(1)
    expect(environment).to_contain_text("idle")
    executor = json.loads(get(srv, "/_dashboard/api/server")[2])["Executor"]
    expect(page.locator("#executor-name")).to_have_text(executor)
    shot("environments")

    # Several functions deleted at once, after a confirmation (cancelling deletes nothing).
    others = []
    for n in range(2):
        other = unique(f"dash-other{n}")
        client.create_function(
            FunctionName=other,
            Runtime=HOST_PYTHON_RUNTIME,
            Role=ROLE,
            Handler="handler.handler",
            Code={"ZipFile": make_zip({"handler.py": HANDLER})},
        )
        others.append(other)
    page.locator("header nav").get_by_role("link", name="Functions").click()
    for victim in (name, *others):
        page.get_by_label(f"select {victim}").check()
    shot("functions")
    page.get_by_role("button", name="Delete selected (3)").click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text(others[0])
    shot("functions-delete-confirmation")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert client.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
    page.get_by_role("button", name="Delete selected (3)").click()
    dialog.get_by_role("button", name="Delete 3 functions").click()
    for victim in (name, *others):
        expect(page.locator(f"tr[data-name='{victim}']")).to_have_count(0)
        with pytest.raises(ClientError) as err:
            client.get_function(FunctionName=victim)
        assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_zip_upload_creates_a_function_and_a_deleted_one_leaves_the_page(page: Page, srv: Server) -> None:
    name = unique("dash-zip")
    page.goto(dashboard(srv, "#/create"))
    form = page.locator("#create")
    form.locator("input[name=name]").fill(name)
    form.locator("select[name=runtime]").select_option(HOST_PYTHON_RUNTIME)
    form.locator("input[name=handler]").fill("app.main")
    form.get_by_role("radio", name="Zip file").check()
    zipped = make_zip({"app.py": "def main(event, context):\n    return {'zipped': True}\n"})
    form.locator("input[type=file]").set_input_files(
        {"name": "code.zip", "mimeType": "application/zip", "buffer": zipped}
    )
    form.get_by_role("button", name="Create function").click()
    expect(page.locator("#state")).to_contain_text("Active")
    page.locator("nav.tabs").get_by_role("link", name="Invoke").click()
    page.locator("#invoke-button").click()
    expect(page.locator("#result-payload")).to_contain_text('"zipped": true')
    page.locator("#delete-function").click()
    page.locator("dialog#confirm").get_by_role("button", name="Delete function").click()
    expect(page.locator("html")).to_have_attribute("data-rendered", "functions")
    assert page.url.endswith("#/functions")
    expect(page.locator(f"tr[data-name='{name}']")).to_have_count(0)


def test_versions_aliases_and_access_are_shown(page: Page, srv: Server, shot: Any) -> None:
    client = srv.client()
    name = unique("dash-versions")
    client.create_function(
        FunctionName=name,
        Runtime=HOST_PYTHON_RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": HANDLER})},
        Tags={"team": "dashboard"},
    )
    wait_active(client, name)
    one = client.publish_version(FunctionName=name)["Version"]
    client.update_function_code(FunctionName=name, ZipFile=make_zip({"handler.py": HANDLER + "\n"}))
    client.get_waiter("function_updated_v2").wait(FunctionName=name)
    two = client.publish_version(FunctionName=name)["Version"]
    client.create_alias(
        FunctionName=name,
        Name="live",
        FunctionVersion=one,
        RoutingConfig={"AdditionalVersionWeights": {two: 0.25}},
    )
    client.add_permission(
        FunctionName=name, StatementId="from-s3", Action="lambda:InvokeFunction", Principal="s3.amazonaws.com"
    )
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=3)
    page.goto(dashboard(srv, f"#/functions/{name}/versions"))
    expect(page.locator("#tab-versions")).to_contain_text(f"{one}: 75% · {two}: 25%")
    shot("function-versions")
    # The invoke form offers every qualifier; an alias is invoked through its weights.
    page.locator("nav.tabs").get_by_role("link", name="Invoke").click()
    page.locator("select[name=qualifier]").select_option("live")
    page.locator("#invoke-button").click()
    expect(page.locator("#invoke-result")).to_contain_text("Executed version")
    assert page.locator("#result-version").inner_text() in (one, two)
    page.locator("nav.tabs").get_by_role("link", name="Access & concurrency").click()
    access = page.locator("#tab-access")
    expect(access).to_contain_text("from-s3")
    expect(access).to_contain_text("s3.amazonaws.com")
    expect(access).to_contain_text("dashboard")  # the tag
    expect(access).to_contain_text("Reserved concurrency: 3")
    shot("function-access")
    client.create_function_url_config(FunctionName=name, AuthType="NONE")
    page.locator("nav.tabs").get_by_role("link", name="Triggers").click()
    expect(page.locator("#tab-triggers")).to_contain_text("lambda-url")
    shot("function-triggers")
    client.delete_function(FunctionName=name)


def test_layers_are_published_and_deleted_from_the_page(page: Page, srv: Server, shot: Any) -> None:
    client = srv.client()
    name = unique("dash-layer")
    page.goto(dashboard(srv, "#/layers"))
    form = page.locator("#publish-layer")
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=runtimes]").fill(f"{HOST_PYTHON_RUNTIME}, nodejs20.x")
    form.locator("input[name=description]").fill("shared helpers")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("python/helpers.py", "VALUE = 1\n")
    form.locator("input[type=file]").set_input_files(
        {"name": "layer.zip", "mimeType": "application/zip", "buffer": buffer.getvalue()}
    )
    form.get_by_role("button", name="Publish version").click()
    versions = page.locator("#layer-versions")
    expect(versions).to_contain_text("shared helpers")
    published = client.list_layer_versions(LayerName=name)["LayerVersions"]
    assert [(v["Version"], v["CompatibleRuntimes"]) for v in published] == [(1, [HOST_PYTHON_RUNTIME, "nodejs20.x"])]
    page.locator("header nav").get_by_role("link", name="Layers").click()
    expect(page.locator("#layers")).to_contain_text(name)
    shot("layers")
    page.get_by_role("link", name=name).click()
    page.locator("#layer-versions button[data-version='1']").click()
    page.locator("dialog#confirm").get_by_role("button", name="Delete version").click()
    expect(versions).to_contain_text("No versions left")
    assert client.list_layer_versions(LayerName=name)["LayerVersions"] == []


def test_the_neighbours_resources_are_listed(page: Page, srv: Server, shot: Any) -> None:
    tag = unique("dash")
    srv.client("sqs").create_queue(QueueName=f"{tag}-queue")
    srv.client("sqs").send_message(
        QueueUrl=srv.client("sqs").get_queue_url(QueueName=f"{tag}-queue")["QueueUrl"], MessageBody="x"
    )
    srv.client("s3").create_bucket(Bucket=f"{tag}-bucket")
    srv.client("dynamodb").create_table(
        TableName=f"{tag}-table",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    srv.client("kinesis").create_stream(StreamName=f"{tag}-stream", ShardCount=2)
    srv.client("logs").create_log_group(logGroupName=f"/{tag}/group")
    page.goto(dashboard(srv, "#/resources"))
    expect(page.locator("#queues tr", has_text=f"{tag}-queue").locator("td").nth(1)).to_have_text("1")  # messages
    expect(page.locator("#buckets")).to_contain_text(f"{tag}-bucket")
    expect(page.locator("#tables tr", has_text=f"{tag}-table")).to_contain_text("id (HASH)")
    expect(page.locator("#streams tr", has_text=f"{tag}-stream").locator("td").nth(2)).to_have_text("2")  # shards
    expect(page.locator("#log-groups")).to_contain_text(f"/{tag}/group")
    shot("resources")
    # Another region's resources are its own (buckets are global).
    page.locator("#region").fill("eu-west-1")
    page.locator("#region").dispatch_event("change")
    expect(page.locator("main h1")).to_have_text("Resources in eu-west-1")
    expect(page.locator("#queues")).not_to_contain_text(f"{tag}-queue")
    expect(page.locator("#buckets")).to_contain_text(f"{tag}-bucket")
    # ... and so are its functions, on every page.
    europe = srv.client(region="eu-west-1")
    name = unique("dash-eu")
    europe.create_function(
        FunctionName=name,
        Runtime=HOST_PYTHON_RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": HANDLER})},
    )
    wait_active(europe, name)
    page.locator("header nav").get_by_role("link", name="Functions").click()
    expect(page.locator(f"tr[data-name='{name}']")).to_have_count(1)
    page.get_by_role("link", name=name).click()
    expect(page.locator("#tab-configuration")).to_contain_text(f"arn:aws:lambda:eu-west-1:000000000000:function:{name}")
    page.locator("nav.tabs").get_by_role("link", name="Invoke").click()
    page.locator("#invoke-button").click()
    expect(page.locator("#result-logs")).to_contain_text("dashboard-log")
    page.locator("nav.tabs").get_by_role("link", name="Logs").click()
    expect(page.locator("#log")).to_contain_text("dashboard-log")
    europe.delete_function(FunctionName=name)


def test_the_files_and_views_of_the_dashboard(srv: Server) -> None:
    status, headers, _ = get(srv, "/_dashboard")
    assert (status, headers["location"]) == (308, "/_dashboard/")
    status, headers, body = get(srv, "/_dashboard/")
    assert (status, headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert b'<script type="module" src="app.js">' in body
    status, headers, _ = get(srv, "/_dashboard/app.js")
    assert (status, headers["content-type"], headers["cache-control"]) == (
        200,
        "text/javascript; charset=utf-8",
        "no-cache",
    )
    assert get(srv, "/_dashboard/app.js", {"If-None-Match": headers["etag"]})[0] == 304
    assert get(srv, "/_dashboard/app.css")[1]["content-type"] == "text/css; charset=utf-8"
    status, _, body = get(srv, "/_dashboard/nothing.js")
    assert (status, json.loads(body)) == (404, {"message": "No dashboard file nothing.js"})
    assert get(srv, "/_dashboard/api/functions?region=nowhere")[0] == 400

    client = srv.client()
    name = unique("dash-view")
    client.create_function(
        FunctionName=name,
        Runtime=HOST_PYTHON_RUNTIME,
        Role=ROLE,
        Handler="handler.handler",
        Code={"ZipFile": make_zip({"handler.py": HANDLER})},
    )
    wait_active(client, name)
    client.invoke(FunctionName=name, Payload=b"{}")
    rows = json.loads(get(srv, "/_dashboard/api/functions")[2])["Functions"]
    row = next(r for r in rows if r["FunctionName"] == name)
    assert (row["State"], row["Runtime"], row["Environments"]) == ("Active", HOST_PYTHON_RUNTIME, 1)
    server = json.loads(get(srv, "/_dashboard/api/server")[2])
    (env,) = [e for e in server["Environments"] if e["FunctionName"] == name]
    assert (env["State"], env["Version"], env["MemorySize"], env["Invocations"]) == ("idle", "$LATEST", 128, 1)
    assert env["Executor"] == server["Executor"]
    assert env["AgeSeconds"] >= env["IdleSeconds"] >= 0
    client.delete_function(FunctionName=name)


def test_services_left_out_are_named_on_the_resources_page(page: Page) -> None:
    with Server(env={"SERVICES": "lambda,sqs"}) as server:
        server.client("sqs").create_queue(QueueName="only-queue")
        doc = json.loads(get(server, "/_dashboard/api/resources")[2])
        assert [q["Name"] for q in doc["Queues"]] == ["only-queue"]
        assert sorted(doc["Errors"]) == ["dynamodb", "kinesis", "logs", "s3"]
        assert doc["Errors"]["s3"] == "s3 is not enabled (SERVICES)"
        page.goto(dashboard(server, "#/resources"))
        expect(page.locator("#queues")).to_contain_text("only-queue")
        expect(page.locator("#buckets .reason")).to_have_text("s3 is not enabled (SERVICES)")
