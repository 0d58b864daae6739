//! The web UI in a real browser: Playwright (tests/ui, npm) drives Debian's headless
//! Chromium against local mode. The scenarios, the accessibility checks (axe) and the page
//! budgets live in tests/ui/run.mjs; screenshots land in tests/ui/artifacts/. One scenario
//! browses as a user who may only read a restricted application (a token from the local
//! issuer); the others as the token-less local administrator.
//!
//! `./scripts/test` installs Chromium and the npm packages on first use.

mod support;

use std::path::Path;
use std::process::Stdio;

use support::TestApp;
use support::cloud::Cloud;

#[tokio::test(flavor = "multi_thread")]
async fn the_web_ui_works_in_chromium() {
    let ui = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists() && ui.join("node_modules/playwright-core").exists(),
        "Chromium ({chromium}) or tests/ui/node_modules is missing: run ./scripts/test once, \
         it installs both"
    );
    // Creating applications is restricted (administrators may), so a reader's pages
    // offer no "Create application"; requests without a token act as the local
    // administrator.
    let app = TestApp::spawn_with_parameters(&[
        ("StagePollSeconds", "1"),
        ("RestrictApplicationCreation", "true"),
    ])
    .await;
    let (image_id, _) = Cloud::of(&app).an_image().await;
    // A user who may only READ the restricted application of the permission scenario.
    let reader = app.bearer_with_roles("rita-reader", &["readers"]);

    let run = tokio::process::Command::new("node")
        .arg("run.mjs")
        .current_dir(&ui)
        .env("GENNAKER_URL", &app.base_url)
        .env("CHROMIUM", &chromium)
        .env("IMAGE_ID", &image_id)
        .env("READER_AUTHORIZATION", &reader)
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .status()
        .await
        .expect("node runs");
    app.stop().await;
    assert!(
        run.success(),
        "the browser scenarios failed (see the output above)"
    );
}
