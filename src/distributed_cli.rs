//! The commands of distributed runs: `plan`, `task`, `status`, `submit`. The work is done by
//! `millstone-distributed`; this module parses arguments, prints and picks exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use millstone_core::Registry;
use millstone_distributed::engine::{self, SubmitOptions};
use millstone_distributed::{
    plan, run_task, status, PlanOptions, TaskOptions, TaskOutcome, WorkPlan, PLAN_FILE,
};

use crate::{EXIT_INTERRUPTED, EXIT_INVALID, EXIT_RUN_FAILED};

/// What `plan` and `submit` share.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// The pipeline file.
    pub pipeline: PathBuf,
    /// Tasks per parallel step.
    #[arg(long)]
    pub tasks: usize,
    /// The work folder: plan, markers, chunk files and logs (on a filesystem every node sees).
    #[arg(long)]
    pub work: PathBuf,
    /// Override a pipeline key, as for `run`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub overrides: Vec<String>,
    /// Worker threads per task.
    #[arg(long, value_parser = crate::parse_threads)]
    pub threads: Option<usize>,
    /// Replace existing outputs; discard the finished tasks of another plan in --work.
    #[arg(long)]
    pub overwrite: bool,
    /// Largest document bytes per chunk file between steps (`64MiB`).
    #[arg(long, default_value = "64MiB")]
    pub chunk_bytes: millstone_core::ByteSize,
}

/// Which engine runs the tasks.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineName {
    /// Processes on this machine.
    Local,
    /// Slurm job arrays.
    Slurm,
}

/// `submit`'s own options.
#[derive(Args, Debug, Clone)]
pub struct SubmitArgs {
    /// local (processes here) or slurm (job arrays).
    #[arg(long, value_enum, default_value = "local")]
    pub engine: EngineName,
    /// Wait until every task has finished (local always waits).
    #[arg(long)]
    pub wait: bool,
    /// At most this many tasks of a step at once.
    #[arg(long)]
    pub max_parallel: Option<usize>,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Slurm memory per task (`--mem`, e.g. `4G`).
    #[arg(long)]
    pub mem: Option<String>,
    /// Slurm time limit per task (`--time`, e.g. `2:00:00`).
    #[arg(long)]
    pub time: Option<String>,
    /// A further sbatch argument (repeatable): `--sbatch-arg=--qos=high`.
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
}

fn make_plan(args: &PlanArgs, registry: &Registry) -> Result<Result<WorkPlan, ExitCode>, anyhow::Error> {
    let options = PlanOptions {
        tasks: args.tasks,
        work: args.work.clone(),
        overrides: args.overrides.clone(),
        threads: args.threads,
        overwrite: args.overwrite,
        chunk_bytes: args.chunk_bytes.0,
    };
    match plan(&args.pipeline, registry, &options) {
        Ok(plan) => Ok(Ok(plan)),
        Err(millstone_distributed::Error::Config(millstone_config::Error::Invalid(diagnostics))) => {
            eprintln!("{diagnostics}");
            Ok(Err(ExitCode::from(EXIT_INVALID)))
        }
        Err(millstone_distributed::Error::Usage(message)) => {
            eprintln!("error: {message}");
            Ok(Err(ExitCode::from(EXIT_INVALID)))
        }
        Err(other) => Err(other).context("planning"),
    }
}

/// `millstone plan`.
pub fn plan_command(args: PlanArgs, registry: &Registry) -> anyhow::Result<ExitCode> {
    let plan = match make_plan(&args, registry)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    eprint!("{}", plan.describe());
    Ok(ExitCode::SUCCESS)
}

fn load(plan_file: &Path) -> anyhow::Result<WorkPlan> {
    let file = if plan_file.is_dir() { plan_file.join(PLAN_FILE) } else { plan_file.to_path_buf() };
    WorkPlan::load(&file).map_err(anyhow::Error::new)
}

/// `millstone task`.
pub fn task_command(
    plan_file: &Path,
    step: usize,
    rank: Option<usize>,
    log: Option<PathBuf>,
    quiet: bool,
    registry: &Registry,
) -> anyhow::Result<ExitCode> {
    let plan = load(plan_file)?;
    let Some(rank) = rank.or_else(engine::rank_from_env) else {
        eprintln!("error: no rank: pass --rank, or run as a Slurm array task (SLURM_ARRAY_TASK_ID)");
        return Ok(ExitCode::from(EXIT_INVALID));
    };
    std::env::set_current_dir(&plan.cwd).with_context(|| format!("entering {}", plan.cwd.display()))?;
    let options = TaskOptions {
        interrupt: Some(crate::interrupt_flag()?),
        progress: !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        log: log.or_else(|| engine::slurm_log_from_env(&plan, step)),
    };
    // From here a SIGINT/SIGTERM is a clean interruption (recorded as a failure with its log),
    // not a kill: say so, so whoever waits for the task to start can tell.
    eprintln!("step {step} rank {rank}: started");
    match run_task(&plan, step, rank, registry, &options) {
        Ok(TaskOutcome::AlreadyDone) => {
            eprintln!("step {step} rank {rank}: already done (marker and outputs verified)");
            Ok(ExitCode::SUCCESS)
        }
        Ok(TaskOutcome::Matched) => {
            eprintln!("step {step} bucket {rank}: keys matched");
            Ok(ExitCode::SUCCESS)
        }
        Ok(TaskOutcome::Ran(report)) => {
            eprintln!("{}", report.summary_table());
            eprintln!("step {step} rank {rank}: done");
            Ok(ExitCode::SUCCESS)
        }
        Err(millstone_distributed::Error::Run(millstone_runner::Error::Interrupted(report))) => {
            eprintln!("{}", report.summary_table());
            eprintln!("step {step} rank {rank}: interrupted; nothing was committed");
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        Err(error @ (millstone_distributed::Error::Usage(_) | millstone_distributed::Error::Stale(_))) => {
            eprintln!("error: {error}");
            Ok(ExitCode::from(EXIT_INVALID))
        }
        Err(error) => {
            Err(anyhow::Error::new(error)).with_context(|| format!("step {step} rank {rank} failed"))
        }
    }
}

/// `millstone status`.
pub fn status_command(work: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let plan = load(work)?;
    let steps = status::status(&plan);
    if json {
        let value: Vec<serde_json::Value> = steps
            .iter()
            .map(|s| {
                serde_json::json!({
                    "step": s.step.index, "tasks": s.step.tasks, "done": s.done, "pending": s.pending,
                    "failed": s.failed.iter().map(|(r, f)| serde_json::json!({"rank": r, "error": f.error, "log": f.log})).collect::<Vec<_>>(),
                    "docs": s.docs, "bytes": s.bytes,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print!("{}", status::render(&plan, &steps));
        if let Some(report) = status::merged_report(&plan) {
            println!("complete:\n{}", report.summary_table());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn finish(plan: &WorkPlan) -> anyhow::Result<ExitCode> {
    let Some(report) = status::merged_report(plan) else {
        anyhow::bail!("tasks are missing; see `millstone status --work {}`", plan.work.display());
    };
    let path = plan.work.join("report.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("{}", report.summary_table());
    eprintln!("report: {}", path.display());
    if !report.conserved {
        anyhow::bail!("document counts do not add up (see the report): this is a bug");
    }
    Ok(ExitCode::SUCCESS)
}

/// `millstone submit`.
pub fn submit_command(args: PlanArgs, submit: SubmitArgs, registry: &Registry) -> anyhow::Result<ExitCode> {
    let plan = match make_plan(&args, registry)? {
        Ok(plan) => plan,
        Err(code) => return Ok(code),
    };
    eprint!("{}", plan.describe());
    let options = SubmitOptions {
        exe: std::env::current_exe().context("finding the millstone binary")?,
        max_parallel: submit.max_parallel,
        partition: submit.partition,
        mem: submit.mem,
        time: submit.time,
        sbatch_args: submit.sbatch_args,
    };
    match submit.engine {
        EngineName::Local => match engine::run_local(&plan, &options) {
            Ok(ran) => {
                eprintln!("{ran} task(s) ran");
                finish(&plan)
            }
            Err(error) => {
                eprintln!("error: {error}");
                eprintln!("rerun the same command to run only the missing tasks");
                Ok(ExitCode::from(EXIT_RUN_FAILED))
            }
        },
        EngineName::Slurm => {
            let jobs = match engine::submit_slurm(&plan, &options) {
                Ok(jobs) => jobs,
                Err(error @ millstone_distributed::Error::MissingTool { .. }) => {
                    eprintln!("error: {error}");
                    return Ok(ExitCode::from(EXIT_RUN_FAILED));
                }
                Err(error) => return Err(anyhow::Error::new(error)).context("submitting to Slurm"),
            };
            if jobs.is_empty() {
                eprintln!("nothing to submit: every task is done");
                return finish(&plan);
            }
            eprintln!("submitted job arrays {}", jobs.join(", "));
            if !submit.wait {
                eprintln!("follow with `millstone status --work {}`", plan.work.display());
                return Ok(ExitCode::SUCCESS);
            }
            match engine::wait_slurm(&plan, &jobs, std::time::Duration::from_millis(500)) {
                Ok(()) => finish(&plan),
                Err(error) => {
                    eprintln!("error: {error}");
                    eprintln!("resubmit the same command to run only the missing tasks");
                    Ok(ExitCode::from(EXIT_RUN_FAILED))
                }
            }
        }
    }
}
