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
} catch (error) {
  failed = true;
  console.error(error);
} finally {
  writeFileSync(`${artifacts}/budgets.json`, JSON.stringify(budgets, null, 2));
  console.log(JSON.stringify(budgets));
  await browser.close();
}
process.exit(failed ? 1 : 0);
