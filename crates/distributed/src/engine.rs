//! Engines run the tasks of a plan. Both call only `millstone task`, submit only ranks without
//! a valid marker (so resubmitting after a failure reruns just what is missing) and leave one
//! log per task under `<work>/logs/step-<s>/`.
//!
//! * **local**: the steps one after another, each step's tasks as processes on this machine,
//!   at most `max_parallel` at once.
//! * **slurm**: one job array per step (`sbatch --array`), each depending on the one before
//!   (`--dependency=afterok`, `--kill-on-invalid-dep=yes`, so a failure cancels what follows
//!   instead of leaving it waiting forever); arrays longer than the cluster's `MaxArraySize`
//!   are split, the rank being `SLURM_ARRAY_TASK_ID + MILLSTONE_RANK_OFFSET`. Completion is
//!   read from markers, never from `sacct` (which needs a database).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::error::Error;
use crate::status::{failure_log, status};
use crate::task::ranges;
use crate::work::WorkPlan;

/// Environment variable added to `SLURM_ARRAY_TASK_ID` to get the rank.
pub const RANK_OFFSET_VAR: &str = "MILLSTONE_RANK_OFFSET";

/// How to submit.
#[derive(Debug, Clone, Default)]
pub struct SubmitOptions {
    /// The millstone binary the tasks run (must be reachable from every node).
    pub exe: PathBuf,
    /// At most this many tasks of a step at once (local default: the number of cores).
    pub max_parallel: Option<usize>,
    /// Slurm partition.
    pub partition: Option<String>,
    /// Slurm memory per task (`--mem`).
    pub mem: Option<String>,
    /// Slurm time limit per task (`--time`).
    pub time: Option<String>,
    /// Further `sbatch` arguments, as given.
    pub sbatch_args: Vec<String>,
}

/// The rank of a task started by a Slurm job array, if this process is one.
pub fn rank_from_env() -> Option<usize> {
    let index: usize = std::env::var("SLURM_ARRAY_TASK_ID").ok()?.parse().ok()?;
    let offset: usize = std::env::var(RANK_OFFSET_VAR).ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    Some(index + offset)
}

/// The log file of a Slurm array task, from its environment.
pub fn slurm_log_from_env(plan: &WorkPlan, step: usize) -> Option<PathBuf> {
    let job = std::env::var("SLURM_ARRAY_JOB_ID").ok()?;
    let index = std::env::var("SLURM_ARRAY_TASK_ID").ok()?;
    Some(plan.log_dir(step).join(format!("{job}_{index}.out")))
}

fn task_command(exe: &Path, plan: &WorkPlan, step: usize) -> Vec<String> {
    vec![
        exe.display().to_string(),
        "task".into(),
        "--plan".into(),
        plan.file().display().to_string(),
        "--step".into(),
        step.to_string(),
    ]
}

fn failures_of(plan: &WorkPlan, step: usize, ranks: &[usize]) -> Error {
    let details = ranks
        .iter()
        .map(|&rank| match failure_log(plan, step, rank) {
            Some(log) => format!("step {step} rank {rank} (log: {})", log.display()),
            None => format!("step {step} rank {rank}"),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Error::TasksFailed { failed: ranks.len(), details }
}

/// Runs every missing task of every step on this machine; returns the tasks it ran.
pub fn run_local(plan: &WorkPlan, options: &SubmitOptions) -> Result<usize, Error> {
    let width = options
        .max_parallel
        .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
        .max(1);
    let mut ran = 0;
    for step in &plan.steps {
        let missing = status(plan).swap_remove(step.index).missing();
        let log_dir = plan.log_dir(step.index);
        std::fs::create_dir_all(&log_dir).map_err(|e| Error::io(&log_dir, e))?;
        let mut running: Vec<(usize, Child)> = Vec::new();
        let mut failed = Vec::new();
        let mut queue = missing.iter().copied();
        loop {
            while running.len() < width {
                let Some(rank) = queue.next() else { break };
                let log = log_dir.join(format!("local_{rank:05}.out"));
                let file = std::fs::File::create(&log).map_err(|e| Error::io(&log, e))?;
                let err = file.try_clone().map_err(|e| Error::io(&log, e))?;
                let command = task_command(&options.exe, plan, step.index);
                let child = Command::new(&command[0])
                    .args(&command[1..])
                    .args(["--rank", &rank.to_string(), "--log", &log.display().to_string()])
                    .current_dir(&plan.cwd)
                    .stdin(Stdio::null())
                    .stdout(file)
                    .stderr(err)
                    .spawn()
                    .map_err(|e| Error::io(&options.exe, e))?;
                running.push((rank, child));
                ran += 1;
            }
            if running.is_empty() {
                break;
            }
            let (rank, mut child) = running.remove(0);
            let exit = child.wait().map_err(|e| Error::io(&options.exe, e))?;
            if !exit.success() {
                failed.push(rank);
            }
        }
        if !failed.is_empty() {
            failed.sort();
            return Err(failures_of(plan, step.index, &failed));
        }
    }
    Ok(ran)
}

fn find_on_path(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(tool)).find(|p| p.is_file())
}

fn output_of(command: &mut Command) -> Result<String, Error> {
    let shown = format!("{command:?}");
    let out = command.output().map_err(|e| Error::Tool { command: shown.clone(), message: e.to_string() })?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::Tool { command: shown, message: format!("{} ({})", message, out.status) });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The cluster's `MaxArraySize` (array indices must be below it); 1001 if it cannot be read.
fn max_array_size() -> usize {
    let Ok(config) = output_of(Command::new("scontrol").args(["show", "config"])) else { return 1001 };
    config
        .lines()
        .find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == "MaxArraySize").then(|| value.trim().parse().ok()).flatten()
        })
        .unwrap_or(1001)
}

/// Single-quotes a word for the shell line of `sbatch --wrap`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// The `sbatch` argument lists that submit `ranks` of `step`, one per array (ranks are split
/// so that array indices stay below `max_array`), depending on `after` (job ids).
pub fn sbatch_commands(
    plan: &WorkPlan,
    step: usize,
    ranks: &[usize],
    after: &[String],
    max_array: usize,
    options: &SubmitOptions,
) -> Vec<Vec<String>> {
    let mut groups: Vec<(usize, Vec<usize>)> = Vec::new();
    for &rank in ranks {
        let offset = rank / max_array * max_array;
        match groups.last_mut() {
            Some((o, members)) if *o == offset => members.push(rank - offset),
            _ => groups.push((offset, vec![rank - offset])),
        }
    }
    // `exec`: the task is the batch script's process, so Slurm's SIGTERM on `scancel` reaches it
    // alone and it records its interruption; a shell in between dies at once and Slurm then kills
    // the task before it can write its failure record.
    let wrap = std::iter::once("exec".to_string())
        .chain(task_command(&options.exe, plan, step).iter().map(|w| shell_quote(w)))
        .collect::<Vec<_>>()
        .join(" ");
    groups
        .into_iter()
        .map(|(offset, indices)| {
            let mut array = ranges(&indices);
            if let Some(width) = options.max_parallel {
                array.push_str(&format!("%{width}"));
            }
            let mut args = vec![
                "--parsable".to_string(),
                format!("--job-name=millstone-s{step}"),
                format!("--array={array}"),
                format!("--output={}", plan.log_dir(step).join("%A_%a.out").display()),
                "--kill-on-invalid-dep=yes".into(),
                format!("--chdir={}", plan.cwd.display()),
                format!("--export=ALL,{RANK_OFFSET_VAR}={offset}"),
            ];
            if !after.is_empty() {
                args.push(format!("--dependency=afterok:{}", after.join(":")));
            }
            if let Some(p) = &options.partition {
                args.push(format!("--partition={p}"));
            }
            if let Some(m) = &options.mem {
                args.push(format!("--mem={m}"));
            }
            if let Some(t) = &options.time {
                args.push(format!("--time={t}"));
            }
            args.extend(options.sbatch_args.iter().cloned());
            args.push(format!("--wrap={wrap}"));
            args
        })
        .collect()
}

/// Submits every missing task as Slurm job arrays; returns the job ids.
pub fn submit_slurm(plan: &WorkPlan, options: &SubmitOptions) -> Result<Vec<String>, Error> {
    if find_on_path("sbatch").is_none() {
        return Err(Error::MissingTool {
            tool: "sbatch",
            package: "Slurm's client tools (Debian: slurm-client)",
        });
    }
    let max_array = max_array_size().max(1);
    let states = status(plan);
    let mut all = Vec::new();
    let mut after: Vec<String> = Vec::new();
    for state in &states {
        let missing = state.missing();
        if missing.is_empty() {
            continue;
        }
        let log_dir = plan.log_dir(state.step.index);
        std::fs::create_dir_all(&log_dir).map_err(|e| Error::io(&log_dir, e))?;
        let mut submitted = Vec::new();
        for args in sbatch_commands(plan, state.step.index, &missing, &after, max_array, options) {
            let out = output_of(Command::new("sbatch").args(&args))?;
            let id = out.split(';').next().unwrap_or_default().trim().to_string();
            submitted.push(id);
        }
        all.extend(submitted.iter().cloned());
        after = submitted;
    }
    Ok(all)
}

/// Waits until none of `jobs` is queued or running, then checks the markers: `Ok` when every
/// task is done, otherwise the failed ranks with their logs.
pub fn wait_slurm(plan: &WorkPlan, jobs: &[String], poll: Duration) -> Result<(), Error> {
    if !jobs.is_empty() {
        loop {
            let listed = output_of(Command::new("squeue").args(["-h", "-o", "%i", "-j", &jobs.join(",")]));
            match listed {
                Ok(text) if !text.trim().is_empty() => std::thread::sleep(poll),
                // Empty, or the jobs are already forgotten (`Invalid job id`): nothing is left.
                _ => break,
            }
        }
    }
    check_complete(plan)
}

/// `Ok` when every task of the plan is done; otherwise the first unfinished step's failures.
pub fn check_complete(plan: &WorkPlan) -> Result<(), Error> {
    for state in status(plan) {
        if !state.complete() {
            let mut ranks = state.missing();
            ranks.sort();
            return Err(failures_of(plan, state.step.index, &ranks));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::work::{StepKind, StepPlan};

    fn plan() -> WorkPlan {
        WorkPlan {
            format: 1,
            millstone_version: "0".into(),
            pipeline: "/p.yaml".into(),
            pipeline_text: String::new(),
            overrides: Vec::new(),
            threads: None,
            config_hash: "h".into(),
            cwd: "/data".into(),
            work: "/shared/work".into(),
            tasks: 2500,
            chunk_bytes: 1,
            steps: vec![StepPlan {
                index: 0,
                kind: StepKind::Parallel,
                first_stage: 0,
                end_stage: 1,
                stage_ids: vec!["s".into()],
                tasks: 2500,
                sign_stage: None,
                input_by_rank: false,
                state_estimate_bytes: None,
            }],
            shards: Vec::new(),
            inputs: Vec::new(),
            storage: Default::default(),
            estimated_docs: 0,
        }
    }

    #[test]
    fn arrays_are_split_at_max_array_size_with_rank_offsets_and_chained() {
        let options = SubmitOptions {
            exe: "/opt/millstone".into(),
            max_parallel: Some(50),
            partition: Some("cpu".into()),
            ..Default::default()
        };
        let missing: Vec<usize> = (0..2500).filter(|r| *r != 7).collect();
        let commands = sbatch_commands(&plan(), 0, &missing, &["41".into(), "42".into()], 1001, &options);
        assert_eq!(commands.len(), 3);
        let has = |c: &Vec<String>, arg: &str| c.iter().any(|a| a == arg);
        assert!(has(&commands[0], "--array=0-6,8-1000%50"), "{:?}", commands[0]);
        assert!(has(&commands[0], &format!("--export=ALL,{RANK_OFFSET_VAR}=0")));
        assert!(has(&commands[1], "--array=0-1000%50"));
        assert!(has(&commands[1], &format!("--export=ALL,{RANK_OFFSET_VAR}=1001")));
        assert!(has(&commands[2], "--array=0-497%50"));
        assert!(has(&commands[2], &format!("--export=ALL,{RANK_OFFSET_VAR}=2002")));
        for c in &commands {
            assert!(has(c, "--dependency=afterok:41:42") && has(c, "--kill-on-invalid-dep=yes"));
            assert!(has(c, "--partition=cpu") && has(c, "--chdir=/data") && has(c, "--parsable"));
            assert!(has(c, "--output=/shared/work/logs/step-0/%A_%a.out"));
            assert_eq!(
                c.last().unwrap(),
                "--wrap=exec '/opt/millstone' 'task' '--plan' '/shared/work/plan.json' '--step' '0'"
            );
        }
    }
}
