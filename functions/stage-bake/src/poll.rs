//! One poll of one bake stage.

use gennaker_cloud::bake::{
    self, BakeProgress, BakeRequest, BaseImageSource, PROGRESS_KEY, RegionBake, SIGNAL_FAILED,
    SIGNAL_SUCCEEDED, SIGNAL_TAG, progress_of, progress_value,
};
use gennaker_cloud::{Builder, BuilderSpec, RegionClients};
use gennaker_model::ExecutionStatus;
use gennaker_model::json::now_millis;
use gennaker_store::LoadedStage;
use gennaker_worker::{Answer, StageInput, Step, Stop, WorkerError};
use serde_json::{Map, Value, json};

use crate::BakeWorker;

/// A region to bake in: its clients and the base image.
struct Plan {
    region: String,
    clients: RegionClients,
    base_ami_id: String,
}

pub(crate) struct Poll<'a> {
    pub worker: &'a BakeWorker,
    pub input: &'a StageInput,
    pub loaded: LoadedStage,
}

impl Poll<'_> {
    /// The bake ran past its timeout: its builders are terminated.
    pub async fn timed_out(self) -> Result<Answer, WorkerError> {
        let progress = self.progress();
        self.terminate_builders(&progress).await?;
        Ok(Answer::timed_out(self.context_with(&progress)))
    }

    pub async fn run(self) -> Result<Answer, WorkerError> {
        let mut progress = self.progress();
        let outcome = self.bake(&mut progress).await;
        let context = self.context_with(&progress);
        match outcome {
            Ok(answer) => Ok(answer),
            Err(Stop::Failed(message)) => {
                self.terminate_builders(&progress).await?;
                Ok(Answer::terminal(message, context))
            }
            Err(Stop::Over) => {
                // Canceled or restarted while a builder was launched: nobody else knows it.
                self.terminate_builders(&progress).await?;
                Ok(Answer::finished(
                    ExecutionStatus::Canceled,
                    Map::new(),
                    Map::new(),
                ))
            }
            Err(Stop::Worker(error)) => Err(error),
        }
    }

    /// The previous answer's context with `progress`.
    fn context_with(&self, progress: &BakeProgress) -> Map<String, Value> {
        let mut context = self.input.previous_context();
        context.insert(PROGRESS_KEY.into(), progress_value(progress));
        context
    }

    /// This attempt's progress: the previous answer's, plus builders recorded on the stage
    /// by a delivery whose answer never arrived.
    fn progress(&self) -> BakeProgress {
        let attempt = self.input.attempt;
        let mut progress = progress_of(&self.input.previous_context(), attempt);
        for (region, recorded) in progress_of(&self.loaded.stage.context, attempt) {
            let bake = progress.entry(region).or_insert_with(|| RegionBake {
                attempt,
                ..RegionBake::default()
            });
            if bake.builder_instance_id.is_none() {
                bake.builder_instance_id = recorded.builder_instance_id;
            }
        }
        progress
    }

    fn request(&self) -> Step<BakeRequest> {
        let start = self.input.start_time.unwrap_or_else(now_millis);
        Ok(bake::bake_request(
            &self.input.current_context(),
            &self.worker.base_images,
            self.worker.default_account(),
            start,
        )?)
    }

    async fn bake(&self, progress: &mut BakeProgress) -> Step<Answer> {
        let request = self.request()?;
        // Every region is checked before anything is launched in any of them.
        let mut plans = Vec::new();
        for region in &request.regions {
            plans.push(self.plan(&request, region, progress.get(region)).await?);
        }
        let mut rebake = request.rebake;
        if !rebake
            && plans
                .iter()
                .any(|plan| needs_decision(progress.get(&plan.region)))
        {
            rebake = self.trigger_rebakes().await?;
        }
        for plan in &plans {
            let bake = progress
                .entry(plan.region.clone())
                .or_insert_with(|| RegionBake {
                    attempt: self.input.attempt,
                    ..RegionBake::default()
                });
            self.advance(&request, plan, rebake, bake).await?;
        }
        let mut context = Map::from_iter([(PROGRESS_KEY.to_string(), progress_value(progress))]);
        if !plans.iter().all(|plan| progress[&plan.region].done) {
            return Ok(Answer::running(self.worker.poll_seconds, context));
        }
        let details: Vec<Value> = request
            .regions
            .iter()
            .map(|region| {
                bake::deployment_detail(
                    &request,
                    region,
                    &progress[region],
                    &self.loaded.stage.ref_id,
                )
            })
            .collect();
        context.extend(completed_context(&request, progress, &details));
        let outputs = Map::from_iter([("deploymentDetails".to_string(), json!(details))]);
        Ok(Answer::succeeded(context, outputs))
    }

    /// The region's clients and base image; fails for an unknown account or region and a
    /// missing base image.
    async fn plan(
        &self,
        request: &BakeRequest,
        region: &str,
        bake: Option<&RegionBake>,
    ) -> Step<Plan> {
        let clients = self.worker.cloud.region(&request.account, region).await?;
        let base_ami_id = match bake.and_then(|bake| bake.base_ami_id.clone()) {
            Some(known) => known,
            None => base_image(&clients, request).await?,
        };
        Ok(Plan {
            region: region.to_string(),
            clients,
            base_ami_id,
        })
    }

    /// `trigger.rebake` of the execution.
    async fn trigger_rebakes(&self) -> Step<bool> {
        let stored = self
            .worker
            .store
            .load_execution(&self.input.execution_id)
            .await?;
        Ok(stored.is_some_and(|stored| bake::truthy(stored.execution.trigger.get("rebake"))))
    }

    /// Takes one region one step further.
    async fn advance(
        &self,
        request: &BakeRequest,
        plan: &Plan,
        rebake: bool,
        bake: &mut RegionBake,
    ) -> Step<()> {
        if bake.done {
            return Ok(());
        }
        bake.base_ami_id = Some(plan.base_ami_id.clone());
        let key = request.bake_key(&plan.base_ami_id);
        let Some(builder_id) = bake.builder_instance_id.clone() else {
            if !rebake && self.reuse(plan, &key, bake).await? {
                return Ok(());
            }
            return self.launch(request, plan, bake).await;
        };
        if bake.image_id.is_none() {
            let Some(signalled) = self.signalled(plan, &builder_id).await? else {
                return Ok(());
            };
            let signal = signalled.signal.unwrap_or_default();
            bake.builder_note = signalled.note;
            if signal != SIGNAL_SUCCEEDED {
                return Err(Stop::Failed(format!(
                    "the builder {builder_id} in {} signalled {SIGNAL_TAG}={signal}: installing {} failed (see the instance's console output)",
                    plan.region,
                    request.package_list()
                )));
            }
            let name = request.image_name();
            let tags = request.image_tags(&plan.base_ami_id, &builder_id, &key);
            let image_id = plan
                .clients
                .create_image_from_builder(&builder_id, &name, &tags)
                .await?;
            bake.image_id = Some(image_id);
            bake.image_name = Some(name);
        }
        self.finish_when_available(plan, &builder_id, bake).await
    }

    /// Takes an available image baked with the same key; whether there was one.
    async fn reuse(&self, plan: &Plan, key: &str, bake: &mut RegionBake) -> Step<bool> {
        let images = plan.clients.images_tagged(bake::BAKE_KEY_TAG, key).await?;
        let Some(found) = images.into_iter().find(|found| found.state == "available") else {
            return Ok(false);
        };
        bake.image_id = Some(found.image.image_id);
        bake.image_name = Some(found.image.name);
        bake.previously_baked = true;
        bake.done = true;
        Ok(true)
    }

    /// Launches the region's builder (or finds the one an earlier delivery launched) and
    /// records it on the stage.
    async fn launch(&self, request: &BakeRequest, plan: &Plan, bake: &mut RegionBake) -> Step<()> {
        let clients = &plan.clients;
        if let Some(name) = &request.ami_name
            && let Some(taken) = clients.images_with_name(name).await?.first()
        {
            return Err(Stop::Failed(format!(
                "amiName: an image named '{name}' already exists in {} ({})",
                plan.region, taken.image.image_id
            )));
        }
        let token = bake::builder_token(
            &self.input.execution_id,
            &self.input.stage_id,
            self.input.attempt,
            &plan.region,
        );
        let launched = match clients.builder_with_token(&token).await? {
            Some(builder) => builder.instance_id,
            None => {
                let spec = BuilderSpec {
                    image_id: plan.base_ami_id.clone(),
                    instance_type: request.base_os.builder_instance_type().to_string(),
                    user_data: request.builder_user_data(),
                    instance_profile: self.worker.instance_profile.clone(),
                    client_token: token.clone(),
                    tags: request.builder_tags(&token),
                };
                clients.launch_builder(&spec).await?
            }
        };
        // Known before the record, so a failure or cancel from here on terminates it.
        bake.builder_instance_id = Some(launched.clone());
        let recorded = self.record_builder(&plan.region, &launched).await?;
        if recorded != launched {
            tracing::warn!(%launched, %recorded, "another delivery launched this region's builder first");
            clients.terminate(std::slice::from_ref(&launched)).await?;
            bake.builder_instance_id = Some(recorded);
        }
        tracing::info!(region = %plan.region, builder = ?bake.builder_instance_id, "bake builder launched");
        Ok(())
    }

    /// The builder once it has signalled; `None` while it has not. A builder gone without
    /// a signal, or silent for longer than the bake timeout, fails the bake.
    async fn signalled(&self, plan: &Plan, builder_id: &str) -> Step<Option<Builder>> {
        let region = &plan.region;
        let builder = plan.clients.builder(builder_id).await?;
        let Some(builder) = builder else {
            return Err(Stop::Failed(format!(
                "the builder {builder_id} in {region} disappeared before it signalled"
            )));
        };
        if builder.signal.is_some() {
            return Ok(Some(builder));
        }
        let Builder {
            state, launch_time, ..
        } = builder;
        if matches!(
            state.as_str(),
            "shutting-down" | "terminated" | "stopped" | "stopping"
        ) {
            return Err(Stop::Failed(format!(
                "the builder {builder_id} in {region} is {state} and never signalled ({SIGNAL_TAG})"
            )));
        }
        let timeout = self.worker.bake_timeout_seconds;
        let started = launch_time
            .or(self.input.start_time)
            .unwrap_or_else(now_millis);
        let waited = now_millis().saturating_sub(started);
        if waited > i64::try_from(timeout.saturating_mul(1000)).unwrap_or(i64::MAX) {
            return Err(Stop::Failed(format!(
                "the builder {builder_id} in {region} did not signal within {timeout} s: its user data tags it {SIGNAL_TAG}={SIGNAL_SUCCEEDED}|{SIGNAL_FAILED} when the install ends (local mode plays the builder only when started by the gennaker command; otherwise tag the instance yourself)"
            )));
        }
        Ok(None)
    }

    /// Done once the image is available: the builder is terminated.
    async fn finish_when_available(
        &self,
        plan: &Plan,
        builder_id: &str,
        bake: &mut RegionBake,
    ) -> Step<()> {
        let image_id = bake.image_id.clone().unwrap_or_default();
        let image = plan.clients.baked_image(&image_id).await?;
        match image.as_ref().map(|image| image.state.as_str()) {
            Some("available") => {
                plan.clients.terminate(&[builder_id.to_string()]).await?;
                bake.done = true;
                Ok(())
            }
            Some("pending") => Ok(()),
            Some(state) => Err(Stop::Failed(format!(
                "image {image_id} in {} ended {state}",
                plan.region
            ))),
            None => Err(Stop::Failed(format!(
                "image {image_id} in {} disappeared while it was being created",
                plan.region
            ))),
        }
    }

    /// Records `builder` as the region's builder on the stage unless one is recorded
    /// already (then that one is the answer); conditional on the version read, retried
    /// from a fresh read after a lost race.
    async fn record_builder(&self, region: &str, builder: &str) -> Step<String> {
        let attempt = self.input.attempt;
        let recorded = |context: &Map<String, Value>| {
            progress_of(context, attempt)
                .get(region)
                .and_then(|bake| bake.builder_instance_id.clone())
        };
        let stored = self
            .worker
            .progress
            .record_with(self.input, self.loaded.clone(), |context| {
                if recorded(context).is_some() {
                    return None;
                }
                let mut stored = progress_of(context, attempt);
                stored
                    .entry(region.to_string())
                    .or_insert_with(|| RegionBake {
                        attempt,
                        ..RegionBake::default()
                    })
                    .builder_instance_id = Some(builder.to_string());
                Some(Map::from_iter([(
                    PROGRESS_KEY.to_string(),
                    progress_value(&stored),
                )]))
            })
            .await?
            .ok_or(Stop::Over)?;
        Ok(recorded(&stored.stage.context).unwrap_or_else(|| builder.to_string()))
    }

    /// Terminates the builders of a bake that ends early; a failure is retried by SQS.
    async fn terminate_builders(&self, progress: &BakeProgress) -> Result<(), WorkerError> {
        let Ok(account) =
            bake::account(&self.input.current_context(), self.worker.default_account())
        else {
            return Ok(());
        };
        self.worker
            .terminate_builders(&account, progress)
            .await
            .map_err(|error| {
                WorkerError::BadMessage(format!("terminating the bake's builders failed: {error}"))
            })
    }
}

/// Whether the region still has to choose between reusing and baking.
fn needs_decision(bake: Option<&RegionBake>) -> bool {
    bake.is_none_or(|bake| !bake.done && bake.builder_instance_id.is_none())
}

/// The base image's id: `baseAmi`, or the base OS's image for the label.
async fn base_image(clients: &RegionClients, request: &BakeRequest) -> Step<String> {
    let region = &clients.region;
    let os = &request.base_os;
    let source = match &request.base_ami {
        Some(id) => BaseImageSource::Id(id.clone()),
        None => os.source(&request.base_label).ok_or_else(|| {
            Stop::Failed(format!(
                "baseLabel: base OS '{}' has no image labelled '{}'",
                os.id, request.base_label
            ))
        })?,
    };
    let found = match &source {
        BaseImageSource::Id(id) => clients.image(id).await?,
        BaseImageSource::NamePattern(pattern) => {
            clients.newest_image_matching(pattern, &os.owners).await?
        }
    };
    found.map(|image| image.image_id).ok_or_else(|| {
        let wanted = match source {
            BaseImageSource::Id(id) => format!("image {id}"),
            BaseImageSource::NamePattern(pattern) => {
                format!("no available image named like '{pattern}'")
            }
        };
        Stop::Failed(format!(
            "base image for {}/{} not found in {region}: {wanted}",
            os.id, request.base_label
        ))
    })
}

/// Orca's completed-bake context: the first region's image at the top level, every
/// region's as artifacts.
fn completed_context(
    request: &BakeRequest,
    progress: &BakeProgress,
    details: &[Value],
) -> Map<String, Value> {
    let first = &details[0];
    let artifacts: Vec<Value> = details
        .iter()
        .map(|detail| {
            json!({"type": "aws/image", "name": detail["imageName"], "reference": detail["ami"],
                   "location": detail["region"], "metadata": {"package": request.package_list()}})
        })
        .collect();
    let previously_baked = request
        .regions
        .iter()
        .all(|region| progress[region].previously_baked);
    Map::from_iter([
        ("ami".to_string(), first["ami"].clone()),
        ("imageId".to_string(), first["imageId"].clone()),
        ("imageName".to_string(), first["imageName"].clone()),
        ("baseAmiId".to_string(), first["baseAmiId"].clone()),
        ("region".to_string(), first["region"].clone()),
        ("amiSuffix".to_string(), json!(request.ami_suffix)),
        ("bakePackageName".to_string(), json!(request.package_list())),
        ("previouslyBaked".to_string(), json!(previously_baked)),
        ("cloudProvider".to_string(), json!("aws")),
        ("artifacts".to_string(), json!(artifacts)),
    ])
}
