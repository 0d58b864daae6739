//! The DynamoDB store against the local emulator (moto), over the wire with the real SDK.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::Client;
use gennaker_local::emulator::{Emulator, project_root};
use gennaker_local::template::{Template, deploy};
use gennaker_model::{Execution, ExecutionStatus, PipelineConfig, StageExecution};
use gennaker_store::{Store, StoreError, Tables};
use serde_json::{Map, Value, json};

const DEADLINE: Duration = Duration::from_secs(20);

/// A running emulator with the three tables created under `prefix`.
struct Env {
    emulator: Emulator,
    store: Store,
}

impl Env {
    async fn start(prefix: &str) -> anyhow::Result<Self> {
        let emulator = Emulator::start().await?;
        let config = gennaker_runtime::aws::sdk_config(Some(emulator.endpoint())).await;
        let client = Client::new(&config);
        let tables = create_tables(&config, prefix).await?;
        Ok(Self {
            emulator,
            store: Store::new(client, tables),
        })
    }

    async fn stop(self) {
        self.emulator.stop().await;
    }
}

/// Deploys `template.yaml` under `stack_name` and returns the names of its tables, so
/// these tests run against exactly the schemas AWS and local mode use.
async fn create_tables(config: &aws_config::SdkConfig, stack_name: &str) -> anyhow::Result<Tables> {
    let template = Template::load(&project_root().join("template.yaml"))?;
    let deployment = deploy(&template, config, stack_name).await?;
    let table = |logical_id: &str| {
        deployment
            .resource(logical_id)
            .map(|table| table.ref_value.clone())
    };
    Ok(Tables {
        applications: table("ApplicationsTable")?,
        pipelines: table("PipelinesTable")?,
        executions: table("ExecutionsTable")?,
    })
}

/// Polls `probe` until it yields a value, failing after [`DEADLINE`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe().await? {
            return Ok(value);
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn object(value: Value) -> Map<String, Value> {
    value.as_object().expect("an object").clone()
}

fn pipeline(value: Value) -> PipelineConfig {
    PipelineConfig::from_value(value).expect("an object")
}

fn without_server_fields(config: &PipelineConfig) -> Value {
    let mut doc = config.document().clone();
    for field in ["id", "updateTs", "lastModifiedBy"] {
        doc.remove(field);
    }
    Value::Object(doc)
}

fn stage(id: &str, ref_id: &str) -> Value {
    json!({
        "id": id, "refId": ref_id, "type": "wait", "name": format!("wait {ref_id}"),
        "status": "NOT_STARTED", "context": {"waitTime": 1}, "tasks": [], "attempt": 0,
        "requisiteStageRefIds": []
    })
}

fn execution(id: &str, application: &str, config_id: &str, stages: Vec<Value>) -> Execution {
    serde_json::from_value(json!({
        "type": "PIPELINE", "id": id, "application": application, "name": "deploy",
        "pipelineConfigId": config_id, "status": "NOT_STARTED", "buildTime": 1,
        "trigger": {"type": "manual", "user": "alice"}, "somethingNew": {"kept": true},
        "stages": stages
    }))
    .expect("a valid execution")
}

fn three_stage_execution(id: &str) -> Execution {
    let stages = vec![stage("s0", "1"), stage("s1", "2"), stage("s2", "3")];
    execution(id, "app", "config-1", stages)
}

const TTL: i64 = 3600;

/// Creates one three-stage execution per status, oldest first; returns their ids in order.
async fn create_with_statuses(
    store: &Store,
    statuses: &[ExecutionStatus],
) -> anyhow::Result<Vec<String>> {
    let mut ids: Vec<String> = statuses.iter().map(|_| gennaker_model::new_id()).collect();
    ids.sort();
    for (id, status) in ids.iter().zip(statuses) {
        let mut created = three_stage_execution(id);
        created.status = *status;
        store.create_execution(&created, TTL).await?;
    }
    Ok(ids)
}

#[tokio::test]
async fn applications_upsert_get_list_delete_and_keep_create_ts() -> anyhow::Result<()> {
    let env = Env::start("apps").await?;
    let store = &env.store;
    let first = object(json!({"name": "myapp", "email": "a@example.com"}));
    assert_eq!(store.put_application(first, "alice").await?, None);
    let stored = store.get_application("myapp").await?.expect("stored");
    assert_eq!(stored["email"], "a@example.com");
    assert_eq!(stored["lastModifiedBy"], "alice");
    let create_ts = stored["createTs"]
        .as_str()
        .expect("createTs is a string")
        .to_string();
    assert!(create_ts.parse::<i64>().is_ok());
    assert!(stored["updateTs"].is_string());

    let second = object(json!({"name": "myapp", "email": "b@example.com"}));
    let previous = store
        .put_application(second, "bob")
        .await?
        .expect("previous");
    assert_eq!(previous["email"], "a@example.com");
    let stored = store.get_application("myapp").await?.expect("stored");
    assert_eq!(stored["email"], "b@example.com");
    assert_eq!(stored["lastModifiedBy"], "bob");
    assert_eq!(
        stored["createTs"],
        Value::String(create_ts),
        "createTs is kept"
    );

    store
        .put_application(object(json!({"name": "another"})), "carol")
        .await?;
    let names: Vec<Value> = store
        .list_applications()
        .await?
        .into_iter()
        .map(|app| app["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("another"), json!("myapp")]);

    assert!(store.delete_application("myapp").await?);
    assert!(!store.delete_application("myapp").await?);
    assert_eq!(store.get_application("myapp").await?, None);
    assert_eq!(store.list_applications().await?.len(), 1);
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn pipeline_save_assigns_an_id_keeps_unknown_fields_and_the_stored_index()
-> anyhow::Result<()> {
    let env = Env::start("pipesave").await?;
    let store = &env.store;
    let submitted = json!({
        "application": "app", "name": "deploy", "index": 3, "stages": [{"type": "wait", "waitTime": 5}],
        "triggers": [], "somethingNew": {"x": [1, 2]}, "locked": {"ui": true}
    });
    let saved = store
        .save_pipeline(pipeline(submitted.clone()), "alice")
        .await?;
    let id = saved.id().expect("an id").to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    assert_eq!(saved.document()["lastModifiedBy"], "alice");
    assert!(
        saved.document()["updateTs"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert_eq!(without_server_fields(&saved), submitted);

    let read = store.get_pipeline("app", &id).await?.expect("stored");
    assert_eq!(read, saved);
    assert_eq!(
        store.find_pipeline_application(&id).await?.as_deref(),
        Some("app")
    );
    assert_eq!(store.get_pipeline("other", &id).await?, None);

    let mut resubmitted = submitted.clone();
    resubmitted["id"] = json!(id);
    resubmitted.as_object_mut().unwrap().remove("index");
    resubmitted["description"] = json!("second save");
    let resaved = store.save_pipeline(pipeline(resubmitted), "bob").await?;
    assert_eq!(resaved.id(), Some(id.as_str()), "an upsert by id");
    assert_eq!(resaved.index(), Some(3), "the stored index is kept");
    assert_eq!(store.get_pipeline("app", &id).await?, Some(resaved));
    assert_eq!(store.list_pipelines("app").await?.len(), 1);
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn duplicate_names_are_refused_case_insensitively_and_nothing_is_written()
-> anyhow::Result<()> {
    let env = Env::start("pipedup").await?;
    let store = &env.store;
    let first = store
        .save_pipeline(
            pipeline(json!({"application": "app", "name": "Deploy"})),
            "alice",
        )
        .await?;
    let duplicate = json!({"application": "app", "name": "  deploy ", "id": "second-id"});
    match store.save_pipeline(pipeline(duplicate), "bob").await {
        Err(StoreError::DuplicateName { application, name }) => {
            assert_eq!((application.as_str(), name.as_str()), ("app", "  deploy "));
        }
        other => panic!("expected DuplicateName, got {other:?}"),
    }
    assert_eq!(store.find_pipeline_application("second-id").await?, None);
    assert_eq!(store.get_pipeline("app", "second-id").await?, None);
    assert!(store.pipeline_history("second-id", 10).await?.is_empty());
    let listed = store.list_pipelines("app").await?;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id(), first.id());

    // The same name in another application is fine.
    let other_app = json!({"application": "other", "name": "deploy"});
    store.save_pipeline(pipeline(other_app), "bob").await?;
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn renaming_frees_the_old_name() -> anyhow::Result<()> {
    let env = Env::start("piperename").await?;
    let store = &env.store;
    let saved = store
        .save_pipeline(
            pipeline(json!({"application": "app", "name": "one"})),
            "alice",
        )
        .await?;
    let id = saved.id().unwrap().to_string();
    let renamed = json!({"application": "app", "name": "two", "id": id});
    store.save_pipeline(pipeline(renamed), "alice").await?;
    let recase = json!({"application": "app", "name": "Two", "id": id});
    store.save_pipeline(pipeline(recase), "alice").await?;

    let reuse = json!({"application": "app", "name": "ONE"});
    store.save_pipeline(pipeline(reuse), "bob").await?;
    let clash = json!({"application": "app", "name": "two"});
    let refused = store.save_pipeline(pipeline(clash), "bob").await;
    assert!(
        matches!(refused, Err(StoreError::DuplicateName { .. })),
        "{refused:?}"
    );

    let mut names: Vec<String> = store
        .list_pipelines("app")
        .await?
        .iter()
        .map(|config| config.name().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, vec!["ONE", "Two"]);

    // Moving to another application releases the name there and takes one here.
    let moved = json!({"application": "newapp", "name": "one", "id": id});
    store.save_pipeline(pipeline(moved), "alice").await?;
    assert_eq!(
        store.find_pipeline_application(&id).await?.as_deref(),
        Some("newapp")
    );
    assert_eq!(store.get_pipeline("app", &id).await?, None);
    assert_eq!(store.list_pipelines("app").await?.len(), 1);
    let take_two = json!({"application": "app", "name": "two"});
    store.save_pipeline(pipeline(take_two), "bob").await?;
    assert_eq!(store.pipeline_history(&id, 10).await?.len(), 4);
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn history_has_one_revision_per_save_newest_first_and_survives_delete() -> anyhow::Result<()>
{
    let env = Env::start("pipehistory").await?;
    let store = &env.store;
    let mut id = None::<String>;
    for revision in 1..=3 {
        let mut doc = json!({"application": "app", "name": "deploy", "revision": revision});
        if let Some(id) = &id {
            doc["id"] = json!(id);
        }
        id = store
            .save_pipeline(pipeline(doc), "alice")
            .await?
            .id()
            .map(str::to_string);
    }
    let id = id.unwrap();
    let history = store.pipeline_history(&id, 10).await?;
    let revisions: Vec<&Value> = history.iter().map(|c| &c.document()["revision"]).collect();
    assert_eq!(revisions, vec![&json!(3), &json!(2), &json!(1)]);
    let stamps: Vec<i64> = history
        .iter()
        .map(|c| c.document()["updateTs"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        stamps.windows(2).all(|pair| pair[0] > pair[1]),
        "{stamps:?}"
    );
    assert_eq!(store.pipeline_history(&id, 2).await?.len(), 2);

    assert!(store.delete_pipeline("app", &id).await?);
    assert!(!store.delete_pipeline("app", &id).await?);
    assert_eq!(store.get_pipeline("app", &id).await?, None);
    assert_eq!(store.find_pipeline_application(&id).await?, None);
    assert_eq!(
        store.pipeline_history(&id, 10).await?.len(),
        3,
        "history is kept"
    );
    let same_name = json!({"application": "app", "name": "DEPLOY"});
    store.save_pipeline(pipeline(same_name), "bob").await?;
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn pipelines_are_listed_by_index_then_name_and_renumbered() -> anyhow::Result<()> {
    let env = Env::start("pipelist").await?;
    let store = &env.store;
    let docs = [
        json!({"application": "app", "name": "b", "index": 5}),
        json!({"application": "app", "name": "C"}),
        json!({"application": "app", "name": "a", "index": 5}),
        json!({"application": "app", "name": "z", "index": 1}),
        json!({"application": "app", "name": "b2"}),
        json!({"application": "elsewhere", "name": "x", "index": 0}),
    ];
    for doc in docs {
        store.save_pipeline(pipeline(doc), "alice").await?;
    }
    let listed = store.list_pipelines("app").await?;
    let shape: Vec<(&str, Option<i64>)> = listed
        .iter()
        .map(|config| (config.name().unwrap(), config.index()))
        .collect();
    assert_eq!(
        shape,
        vec![
            ("z", Some(0)),
            ("a", Some(1)),
            ("b", Some(2)),
            ("b2", Some(3)),
            ("C", Some(4))
        ]
    );
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn executions_round_trip_with_stage_order_across_transaction_chunks() -> anyhow::Result<()> {
    let env = Env::start("execroundtrip").await?;
    let store = &env.store;
    // 150 stages: more than one transaction; ids sort opposite to their positions.
    let stages = (0..150)
        .map(|i| stage(&format!("stage-{:03}", 149 - i), &i.to_string()))
        .collect();
    let created = execution(&gennaker_model::new_id(), "app", "config-1", stages);
    store.create_execution(&created, TTL).await?;
    let loaded = store.load_execution(&created.id).await?.expect("stored");
    assert_eq!(loaded.execution, created);
    assert_eq!(loaded.header_version(), 1);
    assert_eq!(loaded.stage_version("stage-000"), Some(1));
    assert_eq!(loaded.pipeline_task_token, None);

    let again = store.create_execution(&created, TTL).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert!(store.load_execution("no-such-execution").await?.is_none());
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn save_execution_writes_only_what_changed_and_a_stale_before_conflicts() -> anyhow::Result<()>
{
    let env = Env::start("execsave").await?;
    let store = &env.store;
    let id = gennaker_model::new_id();
    store
        .create_execution(&three_stage_execution(&id), TTL)
        .await?;
    let before = store.load_execution(&id).await?.unwrap();

    let mut after = before.execution.clone();
    after.stages[1].status = ExecutionStatus::Running;
    after.stages[1]
        .context
        .insert("note".into(), json!("started"));
    store.save_execution(&before, &after).await?;
    let loaded = store.load_execution(&id).await?.unwrap();
    assert_eq!(loaded.execution, after);
    let versions = |stored: &gennaker_store::StoredExecution| {
        ["s0", "s1", "s2"].map(|stage| stored.stage_version(stage).unwrap())
    };
    assert_eq!(versions(&loaded), [1, 2, 1]);
    assert_eq!(loaded.header_version(), 1, "the header did not change");

    // The stale `before` still says s1 is at version 1: conflict, and nothing written.
    let mut stale = before.execution.clone();
    stale.status = ExecutionStatus::Running;
    stale.stages[1].status = ExecutionStatus::Succeeded;
    let result = store.save_execution(&before, &stale).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(store.load_execution(&id).await?.unwrap().execution, after);

    // Header change, a stage inserted in the middle and one removed.
    let mut next = loaded.execution.clone();
    next.status = ExecutionStatus::Running;
    let inserted: StageExecution = serde_json::from_value(stage("s-new", "9"))?;
    next.stages.insert(1, inserted);
    next.stages.retain(|stage| stage.id != "s2");
    store.save_execution(&loaded, &next).await?;
    let reloaded = store.load_execution(&id).await?.unwrap();
    assert_eq!(reloaded.execution, next);
    assert_eq!(reloaded.header_version(), 2);
    assert_eq!(reloaded.stage_version("s0"), Some(1), "unchanged");
    assert_eq!(reloaded.stage_version("s-new"), Some(1));
    assert_eq!(reloaded.stage_version("s2"), None);

    // Saving without changes writes nothing.
    store.save_execution(&reloaded, &reloaded.execution).await?;
    let unchanged = store.load_execution(&id).await?.unwrap();
    assert_eq!(unchanged.header_version(), 2);
    assert_eq!(unchanged.stage_version("s1"), reloaded.stage_version("s1"));
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn task_tokens_survive_saves_and_parking_checks_the_attempt() -> anyhow::Result<()> {
    let env = Env::start("exectokens").await?;
    let store = &env.store;
    let id = gennaker_model::new_id();
    store
        .create_execution(&three_stage_execution(&id), TTL)
        .await?;

    let parked = store
        .park_stage_task_token(&id, "s0", 0, "token-s0")
        .await?;
    assert_eq!(parked.expect("attempt 0 matches").id, "s0");
    assert_eq!(
        store.park_stage_task_token(&id, "s0", 1, "late").await?,
        None
    );
    assert_eq!(
        store.park_stage_task_token(&id, "missing", 0, "x").await?,
        None
    );
    store.set_pipeline_task_token(&id, "token-pipeline").await?;
    let missing = store
        .set_pipeline_task_token("no-such-execution", "x")
        .await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );

    let before = store.load_execution(&id).await?.unwrap();
    assert_eq!(before.stage_task_token("s0"), Some("token-s0"));
    assert_eq!(before.stage_task_token("s1"), None);
    let mut after = before.execution.clone();
    after.status = ExecutionStatus::Running;
    after.stages[0].status = ExecutionStatus::Running;
    store.save_execution(&before, &after).await?;
    let saved = store.load_execution(&id).await?.unwrap();
    assert_eq!(saved.stage_task_token("s0"), Some("token-s0"));
    assert_eq!(saved.pipeline_task_token.as_deref(), Some("token-pipeline"));

    let mut stage = saved.execution.stages[0].clone();
    stage.status = ExecutionStatus::Succeeded;
    let version = saved.stage_version("s0").unwrap();
    let token = store.update_stage(&id, &stage, version).await?;
    assert_eq!(token.as_deref(), Some("token-s0"));
    let stale = store.update_stage(&id, &stage, version).await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
    let updated = store.load_execution(&id).await?.unwrap();
    assert_eq!(updated.execution.stages[0], stage);
    assert_eq!(updated.stage_version("s0"), Some(version + 1));
    env.stop().await;
    Ok(())
}

#[tokio::test]
async fn executions_are_listed_newest_first_with_status_filter_and_limit() -> anyhow::Result<()> {
    let env = Env::start("execlist").await?;
    let store = &env.store;
    let ids = create_with_statuses(
        store,
        &[
            ExecutionStatus::Succeeded,
            ExecutionStatus::Running,
            ExecutionStatus::Terminal,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
        ],
    )
    .await?;
    let elsewhere = execution(&gennaker_model::new_id(), "other", "config-2", vec![]);
    store.create_execution(&elsewhere, TTL).await?;

    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let all = listed_eventually(store, 10, None, &newest_first).await?;
    assert!(all.iter().all(|execution| execution.stages.len() == 3));
    listed_eventually(store, 2, None, &newest_first[..2]).await?;
    let running = [ExecutionStatus::Running];
    listed_eventually(store, 10, Some(&running), &[ids[3].clone(), ids[1].clone()]).await?;
    let active = [ExecutionStatus::Running, ExecutionStatus::Terminal];
    listed_eventually(store, 2, Some(&active), &[ids[3].clone(), ids[2].clone()]).await?;

    // A status change shows in the filter.
    let oldest = store.load_execution(&ids[0]).await?.unwrap();
    let mut restarted = oldest.execution.clone();
    restarted.status = ExecutionStatus::Running;
    store.save_execution(&oldest, &restarted).await?;
    let expected = [ids[3].clone(), ids[1].clone(), ids[0].clone()];
    listed_eventually(store, 10, Some(&running), &expected).await?;

    let for_config = eventually("listing by config", || async {
        let listed = store
            .list_executions_for_pipeline_config("config-2", 10, None)
            .await?;
        Ok((listed.len() == 1).then_some(listed))
    })
    .await?;
    assert_eq!(for_config[0].id, elsewhere.id);
    env.stop().await;
    Ok(())
}

/// Lists the application's executions until the ids match (the index is eventually
/// consistent on AWS), failing after the deadline.
async fn listed_eventually(
    store: &Store,
    limit: usize,
    statuses: Option<&[ExecutionStatus]>,
    expected: &[String],
) -> anyhow::Result<Vec<Execution>> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let listed = store
            .list_executions_for_application("app", limit, statuses)
            .await?;
        let ids: Vec<&str> = listed.iter().map(|e| e.id.as_str()).collect();
        if ids == expected {
            return Ok(listed);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "timed out: listed {ids:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn only_executions_that_have_not_completed_are_listed_as_active() -> anyhow::Result<()> {
    let env = Env::start("active").await?;
    let store = &env.store;
    let ids = create_with_statuses(
        store,
        &[
            ExecutionStatus::NotStarted,
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
        ],
    )
    .await?;
    let active = |expected: Vec<String>| async move {
        eventually("the active index", || async {
            let listed = store.active_execution_ids().await?;
            Ok((listed == expected).then_some(()))
        })
        .await
    };
    active(vec![ids[1].clone(), ids[0].clone()]).await?;

    // Completing leaves the index; reopening (a restarted stage) comes back to it.
    let running = store.load_execution(&ids[1]).await?.unwrap();
    let mut finished = running.execution.clone();
    finished.status = ExecutionStatus::Terminal;
    store.save_execution(&running, &finished).await?;
    active(vec![ids[0].clone()]).await?;
    let done = store.load_execution(&ids[2]).await?.unwrap();
    let mut reopened = done.execution.clone();
    reopened.status = ExecutionStatus::Running;
    store.save_execution(&done, &reopened).await?;
    active(vec![ids[2].clone(), ids[0].clone()]).await?;
    env.stop().await;
    Ok(())
}
