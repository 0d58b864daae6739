//! Running one script: a separate process group with a clean environment, in a fresh
//! working directory, with bounded output, a deadline, and a periodic liveness check that
//! stops the script when the stage is canceled.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::io::AsyncReadExt;
use tokio::process::Command;
use tokio::sync::Notify;

/// The end of the output kept for the stage's logs.
pub const KEPT_LOG_BYTES: usize = 16 * 1024;
/// Context values longer than this are not passed as environment variables.
const MAX_VARIABLE_BYTES: usize = 32 * 1024;
/// After the shell ended, how long its output pipes may stay open (a background process
/// that escaped the process group could hold them forever).
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// Variables a stage context may not set: they change how the shell or the loader behaves.
const RESERVED: [&str; 9] = [
    "PATH", "HOME", "PWD", "SHELL", "IFS", "ENV", "BASH_ENV", "PS4", "TMPDIR",
];

/// What to run.
#[derive(Debug, Clone)]
pub struct Job {
    pub shell: PathBuf,
    /// Passed to `shell -c`.
    pub command: String,
    /// The directory the command runs in (`scriptPath` under the script root, else the work
    /// directory).
    pub directory: Option<PathBuf>,
    pub variables: BTreeMap<String, String>,
    pub deadline: Duration,
    pub max_output_bytes: usize,
    pub heartbeat_every: Duration,
    /// `(uid, gid)` to run as: set when the worker itself runs as root.
    pub run_as: Option<(u32, u32)>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Exited(i32),
    KilledBySignal(i32),
    TimedOut,
    TooMuchOutput,
    /// Nobody waits for the result any more (the stage was canceled).
    Abandoned,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub ending: Ending,
    /// The end of stdout and stderr, interleaved as written.
    pub log_tail: String,
    pub output_bytes: usize,
    /// The property file's text, if one was asked for and written.
    pub property_file: Option<Result<String, String>>,
}

/// Output of both streams: the tail is kept, the total counted.
struct Output {
    tail: VecDeque<u8>,
    total: usize,
    limit: usize,
}

impl Output {
    fn push(&mut self, bytes: &[u8]) -> bool {
        self.total += bytes.len();
        for byte in bytes
            .iter()
            .skip(bytes.len().saturating_sub(KEPT_LOG_BYTES))
        {
            if self.tail.len() == KEPT_LOG_BYTES {
                self.tail.pop_front();
            }
            self.tail.push_back(*byte);
        }
        self.total > self.limit
    }

    fn tail_text(&self) -> String {
        let bytes: Vec<u8> = self.tail.iter().copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The environment of a script: a minimal base, then every context value whose key is a
/// valid, unreserved variable name (text as is, numbers and booleans as text, maps and
/// lists as JSON). Nothing of the worker's own environment.
pub fn variables(
    context: &Map<String, Value>,
    extra: &[(&str, String)],
) -> BTreeMap<String, String> {
    let mut variables = BTreeMap::new();
    for (key, value) in context {
        if !is_variable_name(key)
            || RESERVED.contains(&key.as_str())
            || key.to_ascii_uppercase().starts_with("AWS_")
            || key.starts_with("LD_")
        {
            continue;
        }
        let text = match value {
            Value::Null => continue,
            Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        if text.len() <= MAX_VARIABLE_BYTES && !text.contains('\0') {
            variables.insert(key.clone(), text);
        }
    }
    for (name, value) in extra {
        variables.insert(name.to_string(), value.clone());
    }
    variables
}

fn is_variable_name(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Runs `job` in `work_dir`. `alive` is asked every `heartbeat_every` whether the result is
/// still awaited; `false` stops the script.
pub async fn run<F, Fut>(
    job: &Job,
    work_dir: &Path,
    property_file: Option<&str>,
    mut alive: F,
) -> std::io::Result<Outcome>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let directory = job
        .directory
        .clone()
        .unwrap_or_else(|| work_dir.to_path_buf());
    let mut command = Command::new(&job.shell);
    command
        .arg("-c")
        .arg(&job.command)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", work_dir)
        .env("TMPDIR", work_dir)
        .env("LANG", "C.UTF-8")
        .env("WORKSPACE", work_dir)
        .envs(&job.variables)
        .current_dir(&directory)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so that everything it starts can be stopped together.
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = job.run_as {
        // Dropping root also drops supplementary groups (std calls setgroups).
        command.uid(uid).gid(gid);
    }
    let mut child = command.spawn()?;
    let group = child.id().map(|pid| pid as i32);
    let output = Arc::new(Mutex::new(Output {
        tail: VecDeque::new(),
        total: 0,
        limit: job.max_output_bytes,
    }));
    let overflow = Arc::new(Notify::new());
    let mut readers = Vec::new();
    let streams: [Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>>; 2] = [
        child.stdout.take().map(|s| Box::new(s) as _),
        child.stderr.take().map(|s| Box::new(s) as _),
    ];
    for mut stream in streams.into_iter().flatten() {
        let output = output.clone();
        let overflow = overflow.clone();
        readers.push(tokio::spawn(async move {
            let mut buffer = vec![0u8; 8192];
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    // Past the limit it keeps reading (a closed pipe would end the script
                    // with SIGPIPE first) until the script is stopped.
                    Ok(read) => {
                        let over = output.lock().expect("output lock").push(&buffer[..read]);
                        if over {
                            overflow.notify_one();
                        }
                    }
                }
            }
        }));
    }

    let deadline = tokio::time::sleep(job.deadline);
    tokio::pin!(deadline);
    let mut heartbeat = tokio::time::interval(job.heartbeat_every);
    heartbeat.tick().await;
    let ending = loop {
        tokio::select! {
            status = child.wait() => {
                let status = status?;
                break match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
                    (Some(code), _) => Ending::Exited(code),
                    (None, Some(signal)) => Ending::KilledBySignal(signal),
                    (None, None) => Ending::Exited(-1),
                };
            }
            _ = &mut deadline => break Ending::TimedOut,
            _ = overflow.notified() => break Ending::TooMuchOutput,
            _ = heartbeat.tick() => {
                if !alive().await {
                    break Ending::Abandoned;
                }
            }
        }
    };
    // Whatever ended the wait, nothing of the script outlives it.
    if let Some(group) = group {
        // SAFETY: killpg only sends a signal; the group is the child's own (process_group(0)).
        unsafe {
            libc::killpg(group, libc::SIGKILL);
        }
    }
    let _ = child.wait().await;
    for reader in readers {
        let abort = reader.abort_handle();
        if tokio::time::timeout(DRAIN_GRACE, reader).await.is_err() {
            abort.abort();
        }
    }
    let (log_tail, output_bytes, exceeded) = {
        let output = output.lock().expect("output lock");
        (
            output.tail_text(),
            output.total,
            output.total > output.limit,
        )
    };
    // However the script ended, too much output is what it is stopped for.
    let ending = if exceeded && ending != Ending::Abandoned {
        Ending::TooMuchOutput
    } else {
        ending
    };
    let property_file = match (&ending, property_file) {
        (Ending::Exited(0), Some(file)) => {
            Some(read_property_file(&directory, file, job.max_output_bytes))
        }
        _ => None,
    };
    Ok(Outcome {
        ending,
        log_tail,
        output_bytes,
        property_file,
    })
}

/// Reads the property file the script wrote, refusing paths that leave its directory.
fn read_property_file(directory: &Path, file: &str, limit: usize) -> Result<String, String> {
    let relative = Path::new(file);
    if relative.is_absolute()
        || relative.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        })
    {
        return Err(format!(
            "propertyFile {file} must be a relative path inside the script's directory"
        ));
    }
    let path = directory.join(relative);
    let metadata = std::fs::symlink_metadata(&path)
        .map_err(|_| format!("Expected properties file {file} but it was missing"))?;
    if !metadata.is_file() {
        return Err(format!("propertyFile {file} is not a regular file"));
    }
    if metadata.len() as usize > limit {
        return Err(format!("propertyFile {file} is larger than {limit} bytes"));
    }
    std::fs::read_to_string(&path).map_err(|e| format!("reading propertyFile {file}: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(command: &str) -> Job {
        Job {
            shell: "/bin/sh".into(),
            command: command.into(),
            directory: None,
            variables: BTreeMap::from([("GREETING".to_string(), "hi".to_string())]),
            deadline: Duration::from_secs(10),
            max_output_bytes: 1 << 20,
            heartbeat_every: Duration::from_secs(60),
            run_as: None,
        }
    }

    async fn run_in_temp(job: &Job, property_file: Option<&str>) -> Outcome {
        let dir = std::env::temp_dir().join(format!("gennaker-run-test-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let outcome = run(job, &dir, property_file, || async { true })
            .await
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        outcome
    }

    fn uuid_like() -> String {
        format!(
            "{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        )
    }

    #[test]
    fn context_values_become_variables_but_never_reserved_ones() {
        let context = json!({"VERSION": "1.2", "count": 3, "flag": true, "map": {"a": 1},
                             "PATH": "/evil", "AWS_SECRET_ACCESS_KEY": "x", "aws_region": "y",
                             "LD_PRELOAD": "/evil.so", "not-a-name": "z", "nothing": null});
        let vars = variables(context.as_object().unwrap(), &[("EXTRA", "e".into())]);
        assert_eq!(
            vars,
            BTreeMap::from(
                [
                    ("VERSION", "1.2"),
                    ("count", "3"),
                    ("flag", "true"),
                    ("map", r#"{"a":1}"#),
                    ("EXTRA", "e"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()))
            )
        );
    }

    #[tokio::test]
    async fn output_exit_codes_and_property_files() {
        let outcome = run_in_temp(
            &job("echo \"$GREETING\"; echo oops >&2; echo 'a=1' > p.properties; exit 0"),
            Some("p.properties"),
        )
        .await;
        assert_eq!(outcome.ending, Ending::Exited(0));
        assert!(outcome.log_tail.contains("hi") && outcome.log_tail.contains("oops"));
        assert_eq!(outcome.property_file, Some(Ok("a=1\n".into())));

        let outcome = run_in_temp(&job("exit 7"), Some("p.properties")).await;
        assert_eq!(outcome.ending, Ending::Exited(7));
        assert_eq!(outcome.property_file, None);

        let outcome = run_in_temp(&job("true"), Some("../escape")).await;
        assert!(
            matches!(outcome.property_file, Some(Err(message)) if message.contains("relative path"))
        );
    }

    #[tokio::test]
    async fn deadlines_and_floods_stop_the_whole_process_group() {
        let mut slow = job("sleep 30 & sleep 30; wait");
        slow.deadline = Duration::from_millis(300);
        let started = std::time::Instant::now();
        let outcome = run_in_temp(&slow, None).await;
        assert_eq!(outcome.ending, Ending::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(5));

        let mut flood = job("yes");
        flood.max_output_bytes = 64 * 1024;
        let outcome = run_in_temp(&flood, None).await;
        assert_eq!(outcome.ending, Ending::TooMuchOutput);
        assert!(outcome.output_bytes > 64 * 1024);
        assert!(outcome.log_tail.len() <= KEPT_LOG_BYTES);
    }

    #[tokio::test]
    async fn a_refused_heartbeat_abandons_the_script() {
        let mut watched = job("sleep 30");
        watched.heartbeat_every = Duration::from_millis(100);
        let dir = std::env::temp_dir().join(format!("gennaker-run-test-{}", uuid_like()));
        std::fs::create_dir_all(&dir).unwrap();
        let outcome = run(&watched, &dir, None, || async { false }).await.unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(outcome.ending, Ending::Abandoned);
    }

    #[tokio::test]
    async fn the_environment_is_clean() {
        let outcome = run_in_temp(&job("env"), None).await;
        let names: Vec<&str> = outcome
            .log_tail
            .lines()
            .filter_map(|line| line.split('=').next())
            .collect();
        for name in &names {
            assert!(
                [
                    "PATH",
                    "HOME",
                    "TMPDIR",
                    "LANG",
                    "WORKSPACE",
                    "GREETING",
                    "PWD",
                    "SHLVL",
                    "_",
                    "OLDPWD"
                ]
                .contains(name),
                "unexpected variable {name} in {names:?}"
            );
        }
    }
}
