// Drives Gennaker's web UI in headless Chromium (Debian's /usr/bin/chromium) through
// Playwright, against a local-mode instance whose URL is GENNAKER_URL. Started by the Rust
// test tests/tests/ui_browser.rs, which also names an emulator image (IMAGE_ID) for the
// deploy scenario.
//
// Every page visited is checked with axe (no serious or critical violation), measured
// (bytes transferred incl. assets, DOM elements) and screenshotted into ARTIFACTS.

import { mkdirSync, writeFileSync } from "node:fs";
import { chromium } from "playwright-core";
import { AxeBuilder } from "@axe-core/playwright";

const base = process.env.GENNAKER_URL;
if (!base) throw new Error("GENNAKER_URL is not set");
const artifacts = process.env.ARTIFACTS ?? new URL("./artifacts/", import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });

const PAGE_BYTES_BUDGET = 150 * 1024;
const DOM_BUDGET = 5000;
const APP = "uidemo";
const budgets = [];
let shots = 0;

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/// Gate calls straight from the test, for setup and for checking what was (not) written.
async function api(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json", accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function until(what, probe, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/// Loads `path` fresh, measuring what the first load costs (document and its assets).
async function visit(context, path, name) {
  const page = await context.newPage();
  page.on("dialog", async (dialog) => {
    await dialog.dismiss();
    throw new Error(`a dialog opened on ${path}: ${dialog.message()}`);
  });
  const sizes = [];
  page.on("response", async (response) => {
    try {
      sizes.push((await response.body()).length);
    } catch {
      /* redirects have no body */
    }
  });
  const response = await page.goto(base + path);
  await page.waitForLoadState("load");
  await audit(page, name, sizes);
  return { page, response };
}

/// axe, DOM size and bytes of the page as it is now; a screenshot named `name`.
async function audit(page, name, sizes = []) {
  const results = await new AxeBuilder({ page }).analyze();
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(
    bad.length === 0,
    `axe on ${name}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(" | ")}`).join("; ")}`,
  );
  const elements = await page.evaluate(() => document.getElementsByTagName("*").length);
  const bytes = sizes.reduce((sum, size) => sum + size, 0);
  budgets.push({ page: name, url: page.url().replace(base, ""), bytes, elements });
  if (sizes.length > 0) check(bytes <= PAGE_BYTES_BUDGET, `${name}: ${bytes} bytes > budget`);
  check(elements <= DOM_BUDGET, `${name}: ${elements} DOM elements > budget`);
  await shot(page, name);
}

async function shot(page, name) {
  shots += 1;
  const file = `${artifacts}/${String(shots).padStart(2, "0")}-${name}.png`;
  await page.screenshot({ path: file, fullPage: true });
}

/// Opens a <details> (a toggle: clicking an open one would close it).
async function expand(details) {
  if (!(await details.evaluate((element) => element.open))) {
    await details.locator("summary").first().click();
  }
}

function pipelineJson(name, stages, extra = {}) {
  return { application: APP, name, stages, triggers: [], parameterConfig: [], ...extra };
}

const wait = (refId, requisites, seconds, name = `Wait ${refId}`) => ({
  refId, requisiteStageRefIds: requisites, type: "wait", name, waitTime: seconds,
});

async function scenarios(context) {
  // --- "/" in a browser lands on the UI; API clients still get Gate's JSON.
  {
    const { page } = await visit(context, "/", "applications-empty");
    check(page.url().endsWith("/ui/applications"), `"/" led to ${page.url()}`);
    const { status, json } = await api("GET", "/");
    check(status === 404 && json.message, `GET / for API clients: ${status}`);
    // A bad name shows the API's message next to the field and creates nothing.
    await expand(page.locator("details.create"));
    await page.fill("#new-app-name", "bad name!");
    await page.click("details.create button[type=submit]");
    await page.locator(".field-error").waitFor();
    check((await api("GET", "/applications/bad%20name!")).status === 404, "a bad app was created");
    // Create the application the rest uses.
    await expand(page.locator("details.create"));
    await page.fill("#new-app-name", APP);
    await page.fill("#new-app-email", "team@example.com");
    await page.click("details.create button[type=submit]");
    await page.waitForURL(`**/ui/applications/${APP}/pipelines`);
    await page.close();
  }

  // --- Filter as you type.
  {
    await api("POST", "/tasks", {
      job: [{ type: "createApplication", application: { name: "othersvc", email: "o@example.com" } }],
    });
    const { page } = await visit(context, "/ui/applications", "applications");
    await page.fill("#app-filter", "uid");
    check(await page.locator(`tr[data-name="${APP}"]`).isVisible(), "filter hid the match");
    check(!(await page.locator('tr[data-name="othersvc"]').isVisible()), "filter kept a non-match");
    await page.close();
  }

  // --- Save a pipeline from the UI: create, then edit as JSON.
  const release = {
    stages: [
      wait("1", [], 1, "Prepare"),
      wait("2", ["1"], 1, "Canary A"),
      wait("3", ["1"], 1, "Canary B"),
      {
        refId: "4", requisiteStageRefIds: ["2", "3"], type: "manualJudgment", name: "Promote?",
        instructions: "Check the canaries, then promote.",
        judgmentInputs: [{ value: "promote" }, { value: "hold" }],
      },
    ],
    parameterConfig: [
      { name: "version", label: "Version", required: true, description: "The build to release" },
      { name: "region", hasOptions: true, options: [{ value: "us-east-1" }, { value: "eu-west-1" }], default: "us-east-1" },
    ],
  };
  let configUrl;
  {
    const { page } = await visit(context, `/ui/applications/${APP}/pipelines`, "pipelines-empty");
    await expand(page.locator("details.create"));
    await page.fill("#new-pipeline-name", "release");
    await page.click("details.create button[type=submit]");
    await page.waitForURL(`**/ui/applications/${APP}/configs/*`);
    configUrl = page.url().replace(base, "");
    const current = JSON.parse(await page.inputValue("#config-json"));
    // The JSON editor starts collapsed below the forms.
    check(!(await page.locator("#config-json").isVisible()), "the JSON editor is not collapsed");
    await expand(page.locator("details.json-editor"));
    await page.fill("#config-json", JSON.stringify({ ...current, ...release }, null, 2));
    await page.click("form.json-editor button[type=submit]");
    await page.locator("p.notice", { hasText: "Saved." }).waitFor();
    // A dependency cycle is refused with the API's message and nothing is saved.
    const saved = JSON.parse(await page.inputValue("#config-json"));
    const cyclic = structuredClone(saved);
    cyclic.stages[0].requisiteStageRefIds = ["4"];
    await expand(page.locator("details.json-editor"));
    await page.fill("#config-json", JSON.stringify(cyclic, null, 2));
    await page.click("form.json-editor button[type=submit]");
    const errors = page.locator("#json-errors");
    await errors.waitFor();
    check(await page.locator("#config-json").isVisible(), "a refused save hides the JSON it refused");
    const errorText = await errors.innerText();
    check(/cycle|circular/i.test(errorText) && /stages/.test(errorText), `cycle error: ${errorText}`);
    await audit(page, "config-json-error");
    const stored = (await api("GET", `/applications/${APP}/pipelineConfigs/release`)).json;
    check(stored.stages[0].requisiteStageRefIds.length === 0, "the cyclic config was saved");
    await page.close();
  }

  // --- Start with parameters, watch the graph turn green, judge Continue, SUCCEEDED.
  let executionUrl;
  {
    const { page } = await visit(context, `/ui/applications/${APP}/pipelines`, "pipelines");
    const section = page.locator("section.pipeline", { hasText: "release" });
    await expand(section.locator("details.start"));
    await section.getByLabel("Version").fill("1.2.3");
    await section.getByLabel("region").selectOption("eu-west-1");
    await section.getByRole("button", { name: "Run" }).click();
    await page.waitForURL("**/ui/executions/*");
    executionUrl = page.url().replace(base, "");
    // The graph updates itself: the waits turn green, the judgment waits (running).
    for (const refId of ["1", "2", "3"]) {
      await page.locator(`svg.graph g.node.st-succeeded[data-ref-id="${refId}"]`).waitFor({ timeout: 30_000 });
    }
    await page.locator('svg.graph g.node.st-running[data-ref-id="4"]').waitFor();
    await page.locator("form.judgment").waitFor();
    check((await page.locator("section.trigger").innerText()).includes("1.2.3"), "parameters not shown");
    await page.locator("#judgment-input").selectOption("promote");
    await audit(page, "execution-judgment");
    await page.getByRole("button", { name: "Continue" }).click();
    await page.locator("p.notice", { hasText: "Judgment recorded." }).waitFor();
    await page.locator("#execution-status .st-succeeded").waitFor({ timeout: 30_000 });
    await audit(page, "execution-succeeded");
    await page.close();
    // The pipelines page shows it as a bar of green segments.
    const list = await visit(context, `/ui/applications/${APP}/pipelines`, "pipelines-with-executions");
    check((await list.page.locator(".stage-bar a.st-succeeded").count()) >= 4, "no green bar");
    await list.page.close();
  }

  // --- A failing stage shows its exception up front; restart it from the page.
  {
    const failing = pipelineJson("strict", [
      { refId: "1", type: "wait", name: "Strict", waitTime: 0, failOnFailedExpressions: true, value: "${trigger.nothing.here}" },
    ]);
    check((await api("POST", "/pipelines", failing)).status === 200, "saving strict");
    const { page } = await visit(context, `/ui/applications/${APP}/pipelines`, "pipelines-before-failure");
    const section = page.locator("section.pipeline", { hasText: "strict" });
    await expand(section.locator("details.start"));
    await section.getByRole("button", { name: "Run" }).click();
    await page.waitForURL("**/ui/executions/*");
    await page.locator("#execution-status .st-terminal").waitFor({ timeout: 30_000 });
    const exception = await page.locator(".exception").innerText();
    check(/cannot be found/i.test(exception), `exception shown: ${exception}`);
    await audit(page, "execution-failed");
    await page.getByRole("button", { name: "Restart stage" }).click();
    await page.locator("p.notice", { hasText: "Restart requested." }).waitFor();
    const id = page.url().split("/ui/executions/")[1].split("?")[0];
    await until("the restarted stage", async () => {
      const execution = (await api("GET", `/pipelines/${id}`)).json;
      return execution.stages[0].context.restartDetails && execution.status === "TERMINAL";
    });
    await page.close();
  }

  // --- Cancel a running execution with a reason.
  {
    check((await api("POST", "/pipelines", pipelineJson("slow", [wait("1", [], 300, "Long wait")]))).status === 200, "saving slow");
    const { page } = await visit(context, `/ui/applications/${APP}/pipelines`, "pipelines-before-cancel");
    const section = page.locator("section.pipeline", { hasText: "slow" });
    await expand(section.locator("details.start"));
    await section.getByRole("button", { name: "Run" }).click();
    await page.waitForURL("**/ui/executions/*");
    await page.locator('svg.graph g.node.st-running[data-ref-id="1"]').waitFor();
    await page.getByText("Cancel execution", { exact: true }).first().click();
    await page.fill("#cancel-reason", "wrong build");
    await page.locator("details.cancel button[type=submit]").click();
    await page.locator("p.notice", { hasText: "Cancel requested." }).waitFor();
    await page.locator("#execution-status .st-canceled").waitFor({ timeout: 30_000 });
    check((await page.locator("main").innerText()).includes("wrong build"), "reason not shown");
    await audit(page, "execution-canceled");
    await page.close();
  }

  // --- History: diff two revisions, restore the older one.
  {
    const { page } = await visit(context, configUrl, "config");
    await page.locator("#diff-left").selectOption({ index: 1 });
    await page.locator("#diff-right").selectOption({ index: 0 });
    await page.getByRole("button", { name: "Show diff" }).click();
    await page.locator("pre.diff ins").first().waitFor();
    check((await page.locator("pre.diff").innerText()).includes("Canary A"), "diff lacks the added stages");
    await audit(page, "config-diff");
    const oldest = await page.locator("table.history tbody tr").count();
    await page.getByRole("button", { name: `Restore revision 1` }).click();
    await page.locator("p.notice", { hasText: "Revision restored." }).waitFor();
    const restored = (await api("GET", `/applications/${APP}/pipelineConfigs/release`)).json;
    check(restored.stages.length === 0, `restore kept ${restored.stages.length} stages (of ${oldest} revisions)`);
    // Disable marks it on the pipelines page.
    await page.getByRole("button", { name: "Disable pipeline" }).click();
    await page.locator("p.notice", { hasText: "Pipeline disabled." }).waitFor();
    await page.close();
    const list = await visit(context, `/ui/applications/${APP}/pipelines`, "pipelines-disabled");
    check(await list.page.locator("section.pipeline", { hasText: "release" }).locator(".st-disabled").isVisible(), "disabled not marked");
    await list.page.close();
  }

  // --- Form editors: live cron feedback, a refused trigger save next to its form, parameters
  // and notifications added through forms, and fields the forms do not show kept.
  {
    const formsConfig = pipelineJson("forms", [wait("1", [], 0)], {
      triggers: [{ type: "cron", enabled: true, cronExpression: "0 0 12 * * ?", customField: "kept" }],
    });
    check((await api("POST", "/pipelines", formsConfig)).status === 200, "saving the forms pipeline");
    const stored = async () => (await api("GET", `/applications/${APP}/pipelineConfigs/forms`)).json;
    const { page } = await visit(context, `/ui/applications/${APP}/configs/${(await stored()).id}`, "config-forms");
    const cron = page.locator("#trigger-0-cron");
    const feedback = page.locator("#trigger-0-cron-feedback");
    await feedback.filter({ hasText: /^Valid/ }).waitFor();
    await cron.fill("0 0 25 * * ?");
    await feedback.filter({ hasText: /^Invalid/ }).waitFor();
    await cron.fill("0 0/30 * * * ?");
    await feedback.filter({ hasText: /^Valid/ }).waitFor();
    // A bad expression submitted anyway: the API's message beside the triggers, nothing saved.
    await cron.fill("not a cron");
    await page.getByRole("button", { name: "Save triggers" }).click();
    const refused = page.locator("#triggers-error");
    await refused.waitFor();
    check(/cronExpression/.test(await refused.innerText()), `trigger error: ${await refused.innerText()}`);
    await audit(page, "config-forms-refused");
    check((await stored()).triggers[0].cronExpression === "0 0 12 * * ?", "the refused trigger was saved");
    await page.locator("#trigger-0-cron").fill("0 0/30 * * * ?");
    await page.getByRole("button", { name: "Save triggers" }).click();
    await page.locator("p.notice", { hasText: "Triggers saved." }).waitFor();
    // A parameter with options and an email notification, added through the forms.
    await expand(page.locator("details", { hasText: "Add parameter" }));
    await page.fill("#parameter-new-name", "flavour");
    await page.fill("#parameter-new-default", "vanilla");
    await page.fill("#parameter-new-options", "vanilla, mint");
    await page.getByRole("button", { name: "Save parameters" }).click();
    await page.locator("p.notice", { hasText: "Parameters saved." }).waitFor();
    await expand(page.locator("details", { hasText: "Add notification" }));
    await page.locator("#notification-new-type").selectOption("email");
    await page.fill("#notification-new-address", "team@example.com");
    await page.getByLabel("Pipeline fails").check();
    await page.getByRole("button", { name: "Save notifications" }).click();
    await page.locator("p.notice", { hasText: "Notifications saved." }).waitFor();
    const after = await stored();
    check(after.triggers[0].cronExpression === "0 0/30 * * * ?" && after.triggers[0].customField === "kept",
      `triggers after the forms: ${JSON.stringify(after.triggers)}`);
    const flavour = after.parameterConfig.find((parameter) => parameter.name === "flavour");
    check(flavour && flavour.default === "vanilla" && flavour.options.map((o) => o.value).join() === "vanilla,mint",
      `parameters after the forms: ${JSON.stringify(after.parameterConfig)}`);
    check(after.notifications.length === 1 && after.notifications[0].address === "team@example.com"
      && after.notifications[0].when.join() === "pipeline.failed", `notifications: ${JSON.stringify(after.notifications)}`);
    await audit(page, "config-forms");
    await page.close();
  }

  // --- Names that look like markup render as text: no dialog, no injected element.
  {
    const xss = '"><img src=x onerror=alert(1)>';
    const script = "<script>alert(1)</script>";
    const config = pipelineJson(xss, [wait("1", [], 0, script)], {
      parameterConfig: [{ name: "p", label: script, description: xss, default: xss }],
    });
    check((await api("POST", "/pipelines", config)).status === 200, "saving the xss pipeline");
    const started = await api("POST", `/pipelines/${APP}/${encodeURIComponent(xss)}`, { type: "manual", parameters: { p: xss } });
    check(started.status === 202, `start xss: ${started.status}`);
    const id = started.json.ref.split("/").pop();
    await until("the xss execution", async () => (await api("GET", `/pipelines/${id}`)).json.status === "SUCCEEDED");
    for (const [path, name] of [[`/ui/applications/${APP}/pipelines`, "xss-pipelines"], [`/ui/executions/${id}`, "xss-execution"]]) {
      const { page } = await visit(context, path, name);
      const html = await page.content();
      check((await page.locator("img[src=x]").count()) === 0, `an injected img on ${path}`);
      check(!html.includes("<script>alert(1)</script>"), `an injected script on ${path}`);
      check((await page.locator("body").innerText()).includes(xss), `the name is not shown as text on ${path}`);
      await page.close();
    }
  }

  // --- Infrastructure: a firewall and a load balancer, then a red/black deploy twice:
  // the clusters page shows v000 disabled and v001 serving.
  if (process.env.IMAGE_ID) {
    const runToEnd = async (name) => {
      const started = await api("POST", `/pipelines/${APP}/${name}`, { type: "manual" });
      check(started.status === 202, `start ${name}: ${started.status}`);
      const id = started.json.ref.split("/").pop();
      return until(`${name} to finish`, async () => {
        const execution = (await api("GET", `/pipelines/${id}`)).json;
        return ["SUCCEEDED", "TERMINAL", "CANCELED"].includes(execution.status) && execution;
      }, 120_000);
    };
    const network = pipelineJson("network", [
      { refId: "1", requisiteStageRefIds: [], type: "upsertSecurityGroup", name: "Firewall",
        securityGroupName: `${APP}-elb`, credentials: "default", regions: ["us-east-1"], description: "uidemo load balancer",
        ipIngress: [{ cidr: "0.0.0.0/0", type: "tcp", startPort: 80, endPort: 80 }] },
      { refId: "2", requisiteStageRefIds: ["1"], type: "upsertLoadBalancer", name: "Load balancer",
        loadBalancerName: `${APP}-web`, loadBalancerType: "application", credentials: "default", region: "us-east-1",
        isInternal: true, securityGroups: [`${APP}-elb`],
        targetGroups: [{ name: `${APP}-web-tg`, protocol: "HTTP", port: 7001, healthCheckProtocol: "HTTP", healthCheckPath: "/health", healthCheckPort: "traffic-port" }],
        listeners: [{ protocol: "HTTP", port: 80, defaultActions: [{ type: "forward", targetGroupName: `${APP}-web-tg` }] }] },
    ]);
    check((await api("POST", "/pipelines", network)).status === 200, "saving network");
    const networked = await runToEnd("network");
    check(networked.status === "SUCCEEDED", `network: ${JSON.stringify(networked.stages.map((s) => s.context.exception ?? s.status))}`);
    const cluster = {
      application: APP, stack: "web", freeFormDetails: "", account: "default", cloudProvider: "aws",
      availabilityZones: { "us-east-1": [] }, capacity: { min: 1, max: 1, desired: 1 },
      instanceType: "t3.micro", targetGroups: [`${APP}-web-tg`], imageId: process.env.IMAGE_ID,
      strategy: "redblack",
    };
    const deploy = pipelineJson("deploy", [{ refId: "1", requisiteStageRefIds: [], type: "deploy", name: "Deploy", clusters: [cluster] }]);
    check((await api("POST", "/pipelines", deploy)).status === 200, "saving deploy");
    for (let round = 0; round < 2; round += 1) {
      const done = await runToEnd("deploy");
      check(done.status === "SUCCEEDED", `deploy ${round}: ${JSON.stringify(done.stages.map((s) => s.context.exception ?? s.status))}`);
    }
    const { page } = await visit(context, `/ui/applications/${APP}/clusters`, "clusters");
    await page.locator(`tr[data-server-group="${APP}-web-v000"].disabled`).waitFor();
    await page.locator(`tr[data-server-group="${APP}-web-v001"].serving`).waitFor();
    await page.close();
  }
  for (const tab of ["loadBalancers", "firewalls", "tasks"]) {
    const { page } = await visit(context, `/ui/applications/${APP}/${tab}`, tab);
    await page.close();
  }
  {
    const { page } = await visit(context, "/ui/user", "who-am-i");
    check((await page.locator("main").innerText()).includes("anonymous"), "who am I");
    await page.close();
  }

  // --- Unknown things are proper not-found pages.
  for (const path of ["/ui/applications/nosuchapp/pipelines", "/ui/executions/01NOSUCHEXECUTION", `/ui/applications/${APP}/configs/nosuchconfig`, "/ui/nosuchpage"]) {
    const { page, response } = await visit(context, path, "not-found");
    check(response.status() === 404, `${path}: ${response.status()}`);
    check((await page.locator("h1").innerText()) === "Not found", `${path}: no not-found page`);
    await page.close();
  }

  // --- A cross-site form post is refused and changes nothing.
  {
    const forged = await fetch(`${base}/ui/applications`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "https://evil.example" },
      body: "name=forged",
    });
    check(forged.status === 403, `a cross-site post answered ${forged.status}`);
    check((await api("GET", "/applications/forged")).status === 404, "the forged app exists");
    const page = await context.newPage();
    const response = await page.goto(`${base}/ui/applications`);
    const csp = response.headers()["content-security-policy"] ?? "";
    check(csp.includes("script-src 'self'") && csp.includes("frame-ancestors 'none'"), `CSP: ${csp}`);
    await page.close();
  }
}

// --- Permissions (Fiat): a user who may only READ a restricted application is offered no
// action there (no Start, Cancel, judgment, restart, config edit or create), and a forged
// form post with a valid CSRF token is still refused 403 and changes nothing. The local
// administrator (no token) is offered every action on the same pages.
async function permissionScenarios(browser, admin) {
  const authorization = process.env.READER_AUTHORIZATION;
  if (!authorization) throw new Error("READER_AUTHORIZATION is not set");
  const GUARDED = "guarded";
  const permissions = { READ: ["readers", "writers", "executors"], WRITE: ["writers"], EXECUTE: ["executors"] };
  const created = await api("POST", "/tasks", {
    application: GUARDED,
    job: [{ type: "createApplication", application: { name: GUARDED, email: "sec@example.com", permissions } }],
  });
  check(created.status < 300, `creating ${GUARDED}: ${created.status}`);
  await until(`${GUARDED} to exist`, async () => (await api("GET", `/applications/${GUARDED}`)).status === 200);
  const ship = {
    application: GUARDED, name: "ship",
    stages: [
      wait("1", [], 0, "Bake"),
      { refId: "2", requisiteStageRefIds: ["1"], type: "manualJudgment", name: "Approve", instructions: "Approve the release." },
    ],
    triggers: [{ type: "webhook", enabled: true, source: "ship-hook" }],
    parameterConfig: [{ name: "version", label: "Version", required: true, default: "1.0.0" }],
    notifications: [{ type: "email", address: "sec@example.com", level: "pipeline", when: ["pipeline.failed"] }],
  };
  check((await api("POST", "/pipelines", ship)).status === 200, "saving ship");
  const config = async () => (await api("GET", `/applications/${GUARDED}/pipelineConfigs/ship`)).json;
  const configId = (await config()).id;
  check((await api("POST", "/pipelines", { ...ship, id: configId, description: "Ships it" })).status === 200, "saving ship again");
  const started = await api("POST", `/pipelines/${GUARDED}/ship`, { type: "manual", parameters: { version: "1.0.0" } });
  check(started.status === 202, `starting ship: ${started.status}`);
  const executionId = started.json.ref.split("/").pop();
  const execution = async () => (await api("GET", `/pipelines/${executionId}`)).json;
  const judgment = await until("the judgment to wait", async () => {
    const stage = (await execution()).stages.find((s) => s.refId === "2");
    return stage && stage.status === "RUNNING" && stage;
  });
  const configUrl = `/ui/applications/${GUARDED}/configs/${configId}`;
  const executionUrl = `/ui/executions/${executionId}`;
  const postForms = (page) => page.locator('form[method="post"]').count();

  const reader = await browser.newContext({ viewport: { width: 1280, height: 800 }, extraHTTPHeaders: { Authorization: authorization } });
  reader.setDefaultTimeout(20_000);
  try {
    {
      const { page } = await visit(reader, "/ui/applications", "reader-applications");
      const who = await page.locator("header .whoami").innerText();
      check(who.includes("rita-reader") && who.includes("readers") && !who.includes("ADMIN"), `reader header: ${who}`);
      check(await page.locator(`tr[data-name="${GUARDED}"]`).isVisible(), "the reader does not see the application");
      check((await page.locator("details.create").count()) === 0, "the reader is offered Create application");
      check(await page.locator("#create-not-allowed").isVisible(), "no explanation for the missing Create application");
      await page.close();
    }
    {
      const { page } = await visit(reader, `/ui/applications/${GUARDED}/pipelines`, "reader-pipelines");
      check((await postForms(page)) === 0, "the reader's pipelines page has a form that writes");
      check((await page.locator("details.start, details.create").count()) === 0, "Start or Create pipeline offered");
      const start = page.locator("section.pipeline button.start");
      check(await start.isDisabled(), "Start is not disabled");
      check(/EXECUTE permission on guarded/.test(await start.getAttribute("title")), "Start does not say why");
      check(/Read-only/.test(await page.locator("#permission-note").innerText()), "no read-only note");
      check((await page.locator(".stage-bar a").count()) >= 1, "the reader does not see the execution");
      check((await page.locator("section.pipeline p.description").innerText()) === "Ships it", "the pipeline's description is not shown");
      await page.close();
    }
    {
      const { page } = await visit(reader, executionUrl, "reader-execution");
      check((await postForms(page)) === 0, "the reader's execution page has a form that writes");
      const pending = await page.locator("section.judgment").innerText();
      check(pending.includes("Approve the release.") && /EXECUTE/.test(pending), `judgment for a reader: ${pending}`);
      check(await page.locator("#actions-not-allowed").isVisible(), "no explanation for the missing Cancel/Pause");
      check((await page.getByRole("button", { name: /Continue|Stop|Cancel execution|Pause/ }).count()) === 0, "an action button is offered");
      await page.close();
      const finished = await visit(reader, `${executionUrl}?stage=1`, "reader-execution-stage");
      const restart = finished.page.getByRole("button", { name: "Restart stage" });
      check(await restart.isDisabled(), "Restart stage is not disabled");
      await finished.page.close();
    }
    {
      const { page } = await visit(reader, configUrl, "reader-config");
      check((await postForms(page)) === 0, "the reader's config page has a form that writes");
      check((await page.locator("textarea, input:not([type=hidden]):not([name=q]), details.json-editor").count()) === 0, "an editable field is offered");
      check((await page.getByRole("button", { name: /Restore|Delete|Rename|Disable|Save/ }).count()) === 0, "a change is offered");
      check(/Read-only/.test(await page.locator("#permission-note").innerText()), "no read-only note");
      const text = await page.locator("main").innerText();
      for (const shown of ["Ships it", "ship-hook", "Version", "sec@example.com", "pipeline.failed"]) {
        check(text.includes(shown), `the read-only config does not show ${shown}`);
      }
      await expand(page.locator("details.json"));
      check((await page.locator("details.json pre").innerText()).includes("Approve the release."), "the JSON is not shown");
      // Diffs are reading, so they stay.
      await page.getByRole("button", { name: "Show diff" }).click();
      await page.locator("pre.diff ins").first().waitFor();
      await audit(page, "reader-config-diff");
      await page.close();
    }

    // Forged posts: the page's own token and origin, the reader's token; refused all the same.
    const probe = await reader.newPage();
    await probe.goto(`${base}/ui/applications/${GUARDED}/pipelines`);
    const csrf = (await reader.cookies()).find((cookie) => cookie.name === "gennaker_csrf")?.value;
    check(csrf, "no CSRF cookie");
    const forge = async (path, form) => {
      const response = await probe.request.post(base + path, {
        form: { _csrf: csrf, ...form },
        headers: { Origin: base, Authorization: authorization },
        maxRedirects: 0,
      });
      return { status: response.status(), text: await response.text() };
    };
    const before = { config: await config(), executions: (await api("GET", `/applications/${GUARDED}/pipelines?limit=10`)).json.length };
    const history = async () => (await api("GET", `/pipelineConfigs/${configId}/history`)).json.length;
    const revisions = await history();
    const edited = { ...before.config, stages: [wait("1", [], 0, "Forged")] };
    const attempts = [
      [configUrl, { json: JSON.stringify(edited) }],
      [`${configUrl}/delete`, { confirm: "yes" }],
      [`${configUrl}/restore`, { revision: "1" }],
      [`${configUrl}/enabled`, { enabled: "false" }],
      [`${configUrl}/triggers`, { "trigger.0.enabled": "false" }],
      [`/ui/applications/${GUARDED}/pipelines/${configId}/start`, { "param.version": "6.6.6" }],
      [`/ui/applications/${GUARDED}/pipelines`, { name: "forged" }],
      [`${executionUrl}/cancel`, { reason: "forged" }],
      [`${executionUrl}/pause`, {}],
      [`${executionUrl}/stages/${judgment.id}/judgment`, { judgmentStatus: "continue" }],
      ["/ui/applications", { name: "readerapp" }],
    ];
    for (const [path, form] of attempts) {
      const { status, text } = await forge(path, form);
      check(status === 403 && /Access denied/.test(text), `a forged POST ${path} answered ${status}`);
    }
    await probe.close();
    const after = await config();
    check(JSON.stringify(after) === JSON.stringify(before.config), "a forged post changed the config");
    check((await history()) === revisions, "a forged post saved a revision");
    check((await api("GET", `/applications/${GUARDED}/pipelineConfigs/forged`)).status === 404, "a forged pipeline exists");
    check((await api("GET", "/applications/readerapp")).status === 404, "a forged application exists");
    check((await api("GET", `/applications/${GUARDED}/pipelines?limit=10`)).json.length === before.executions, "a forged start ran");
    const still = await execution();
    const stage = still.stages.find((s) => s.refId === "2");
    check(still.status === "RUNNING" && !still.canceled && stage.status === "RUNNING" && !stage.context.judgmentStatus,
      `a forged post changed the execution: ${still.status} ${stage.status} ${stage.context.judgmentStatus}`);
  } finally {
    await reader.close();
  }

  // The local administrator is offered everything on the same pages.
  {
    const { page } = await visit(admin, `/ui/applications/${GUARDED}/pipelines`, "admin-guarded-pipelines");
    const who = await page.locator("header .whoami").innerText();
    check(who.includes("anonymous") && who.includes("ADMIN"), `admin header: ${who}`);
    check((await page.locator("section.pipeline details.start").count()) === 1, "no Start for the administrator");
    check((await page.locator("details.create").count()) === 1, "no Create pipeline for the administrator");
    check((await page.locator("#permission-note").count()) === 0, "a read-only note for the administrator");
    await page.close();
  }
  {
    const { page } = await visit(admin, executionUrl, "admin-guarded-execution");
    check(await page.locator("form.judgment").isVisible(), "no judgment form for the administrator");
    check((await page.locator("details.cancel").count()) === 1, "no Cancel for the administrator");
    check((await page.getByRole("button", { name: "Pause" }).count()) === 1, "no Pause for the administrator");
    await page.getByRole("button", { name: "Stop" }).click();
    await page.locator("p.notice", { hasText: "Judgment recorded." }).waitFor();
    await page.close();
  }
  {
    const { page } = await visit(admin, configUrl, "admin-guarded-config");
    check((await page.locator("#config-json").count()) === 1, "no JSON editor for the administrator");
    for (const name of ["Save triggers", "Disable pipeline", "Delete pipeline", "Restore revision 1"]) {
      check((await page.getByRole("button", { name, includeHidden: true }).count()) === 1, `no ${name} for the administrator`);
    }
    await page.close();
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
  ],
});
let failed = false;
try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  context.setDefaultTimeout(20_000);
  await scenarios(context);
  await permissionScenarios(browser, context);
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  writeFileSync(`${artifacts}/budgets.json`, JSON.stringify(budgets, null, 2));
  console.log(JSON.stringify(budgets));
  await browser.close();
}
process.exit(failed ? 1 : 0);
