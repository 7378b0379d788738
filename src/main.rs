//! `millstone`: run, validate and inspect YAML pipelines.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use millstone_config::{load_plan, pipeline_schema, LoadOptions};

/// mimalloc: documents are allocated on reader threads and freed on others; it handles that
/// cross-thread traffic much better than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "millstone", version, about = "Turn raw text collections into clean, deduplicated corpora")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline.
    Run {
        /// The pipeline file.
        pipeline: PathBuf,
        /// Worker threads (default: runtime.threads, else all cores).
        #[arg(long, value_parser = parse_threads)]
        threads: Option<usize>,
        /// Write the run report (JSON) here, and the HTML report next to it (same name,
        /// `.html`).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write the HTML report here (default: beside `--report`).
        #[arg(long)]
        report_html: Option<PathBuf>,
        /// Override a pipeline key: `--set stages.0.path=data/ --set runtime.batch_docs=256`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Process only shard set i of N (`--shard 0/4`).
        #[arg(long, value_parser = parse_shard)]
        shard: Option<(usize, usize)>,
        /// Replace existing outputs.
        #[arg(long)]
        overwrite: bool,
        /// Stop at the first bad record or failing document.
        #[arg(long)]
        fail_fast: bool,
        /// Never show a progress bar.
        #[arg(long)]
        quiet: bool,
        /// Skip the run (or shard) if its completion marker shows it finished with the same
        /// configuration; otherwise run it, replacing its outputs.
        #[arg(long)]
        resume: bool,
    },
    /// Distributions of an existing corpus (JSONL, .gz/.zst, Parquet): lengths, every numeric
    /// field, languages and verdicts, sources; the same numbers a run's report holds.
    Stats {
        /// Files, folders or globs.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The field holding the text.
        #[arg(long, default_value = "text")]
        text_field: String,
        /// Worker threads (default: all cores).
        #[arg(long, value_parser = parse_threads)]
        threads: Option<usize>,
        /// Write the statistics as a run report (JSON) here.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Write the HTML report here (default: beside `--report`).
        #[arg(long)]
        report_html: Option<PathBuf>,
    },
    /// Check pipeline files without running them; prints every problem.
    Validate {
        /// Pipeline files.
        #[arg(required = true)]
        pipelines: Vec<PathBuf>,
        /// Overrides, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
    },
    /// List stage types.
    Stages {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a stage type's fields, drop reasons and example.
    Describe {
        /// The stage type, e.g. `dedup.exact`.
        stage_type: String,
        /// Show the defaults a preset resolves to (`--preset news`).
        #[arg(long)]
        preset: Option<String>,
    },
    /// Print the JSON Schema of pipeline files (for editors).
    Schema,
    /// Measure dedup quality against labelled data.
    #[command(subcommand)]
    Eval(EvalCommand),
    /// Plan a distributed run: list the inputs once, cut the pipeline into steps at its
    /// barriers, assign inputs to tasks; writes WORK/plan.json.
    Plan(distributed_cli::PlanArgs),
    /// Run one task of a planned run (what every engine calls).
    Task {
        /// The plan file (or its work folder).
        #[arg(long)]
        plan: PathBuf,
        /// The step.
        #[arg(long)]
        step: usize,
        /// The rank (default: SLURM_ARRAY_TASK_ID + MILLSTONE_RANK_OFFSET).
        #[arg(long)]
        rank: Option<usize>,
        /// This task's log file, recorded if it fails.
        #[arg(long)]
        log: Option<PathBuf>,
        /// Never show a progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Show a planned run's steps: ranks done, failed (with log), pending; docs and bytes.
    Status {
        /// The work folder (or its plan.json).
        #[arg(long)]
        work: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Plan (or reuse the plan) and run every missing task: on this machine (`local`) or as
    /// Slurm job arrays (`slurm`).
    Submit {
        #[command(flatten)]
        plan: distributed_cli::PlanArgs,
        #[command(flatten)]
        submit: distributed_cli::SubmitArgs,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Run a pipeline over a labelled corpus and score its dedup stage's clusters (ARI, pair
    /// precision/recall/F1), optionally sweeping one key.
    Dedup {
        /// TSV of `id<TAB>cluster` (a header line `id<TAB>...` is skipped); unlisted ids are not scored.
        #[arg(long)]
        labels: PathBuf,
        /// The pipeline; its last `dedup.*` stage is scored (or `--stage`).
        #[arg(long)]
        pipeline: PathBuf,
        /// Index of the stage to score.
        #[arg(long)]
        stage: Option<usize>,
        /// Overrides, as for `run`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        overrides: Vec<String>,
        /// Sweep: `stages.3.threshold=0.3,0.4,0.5`.
        #[arg(long)]
        sweep: Option<String>,
        /// Worker threads.
        #[arg(long, value_parser = parse_threads)]
        threads: Option<usize>,
    },
    /// Build a reprint-style near-duplicate benchmark from a WCXB-style extraction benchmark:
    /// several texts of each article page (gold, extractor settings, whole page, markdown,
    /// truncation), cluster = page; writes OUT/corpus.jsonl and OUT/labels.tsv.
    Reprints {
        /// Folder of `NNNN.html.gz` pages.
        #[arg(long)]
        html: PathBuf,
        /// Folder of `NNNN.json.gz` ground truth.
        #[arg(long)]
        truth: PathBuf,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Article pages to use.
        #[arg(long, default_value_t = 180)]
        pages: usize,
        /// Build the same-site benchmark instead: for every page (any type) of a site with two
        /// or more pages, its gold text and its whole page as text, `meta.site` = the host;
        /// cluster = page. Different pages of one site share navigation and footers only.
        #[arg(long)]
        same_site: bool,
    },
    /// Score main-content extraction (`clean.html_to_text`) on a WCXB-style benchmark: bag-of-words
    /// precision/recall/F1 of lowercase `\w+` tokens per page, macro mean, per page type.
    Extract {
        /// Folder of `NNNN.html.gz` pages.
        #[arg(long)]
        html: PathBuf,
        /// Folder of `NNNN.json.gz` ground truth (`ground_truth.main_content`); not needed with
        /// `--metric snippet`.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Score only the first N pages.
        #[arg(long)]
        limit: Option<usize>,
        /// Worker threads.
        #[arg(long, value_parser = parse_threads)]
        threads: Option<usize>,
        /// An extractor option, as in `clean.html_to_text` (`--set favor_recall=true`).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        options: Vec<String>,
        /// How to score: `bow` (WCXB: bag of lowercase `\w+` words), `ngram4` (Scrapinghub:
        /// 4-word shingles), or `snippet` (trafilatura's eval: `--snippets` lists for each page
        /// snippets its text must contain and must not).
        #[arg(long, default_value = "bow")]
        metric: eval::ExtractMetric,
        /// With `--metric snippet`: JSON `{"page.html": {"with": [...], "without": [...]}}`;
        /// pages are read from `--html` (plain or `.gz`).
        #[arg(long)]
        snippets: Option<PathBuf>,
        /// Also write one JSON line per page (id, page type, URL, precision, recall, F1, the
        /// lengths, whether the fallback extractor's text was kept, the extracted text) to FILE,
        /// to find the pages a change helps or hurts.
        #[arg(long, value_name = "FILE")]
        pages: Option<PathBuf>,
    },
    /// Score language identification (`clean.language`'s models) on a labelled TSV
    /// (`label<TAB>text`, ISO 639-1 labels): accuracy overall, per language, on short texts, and
    /// docs/s.
    Lid {
        /// The labelled texts (e.g. eval/lid-sentences.tsv).
        #[arg(long)]
        set: PathBuf,
        /// `whatlang` or `fasttext`.
        #[arg(long, default_value = "whatlang")]
        model: String,
        /// The fastText model, with `--model fasttext`.
        #[arg(long)]
        model_path: Option<PathBuf>,
        /// Timing rounds (the median is reported).
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Score a pairwise similarity on labelled sentence pairs (MRPC format: label, id1, id2,
    /// text1, text2): the threshold is chosen on `--train`, accuracy and F1 reported on `--test`.
    Pairs {
        /// Training pairs.
        #[arg(long)]
        train: PathBuf,
        /// Test pairs.
        #[arg(long)]
        test: PathBuf,
        /// Shingle unit: words or chars.
        #[arg(long, default_value = "words")]
        unit: String,
        /// Shingle length.
        #[arg(long, default_value_t = 1)]
        ngram: usize,
        /// jaccard, containment or max.
        #[arg(long, default_value = "jaccard")]
        similarity: String,
        /// MinHash permutations (0: exact shingle sets).
        #[arg(long, default_value_t = 0)]
        permutations: usize,
    },
}

mod distributed_cli;
mod eval;
mod lid_eval;
mod reprints;

/// An error and its causes, `outer: cause: root`, leaving out a cause whose text the message
/// before it already contains (library errors often show their source in their own message).
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let message = cause.to_string();
        if text.contains(&message) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&message);
    }
    text
}

/// Where the run report goes: JSON at `json`, HTML at `html` (default: beside the JSON).
struct ReportPaths<'a> {
    json: Option<&'a std::path::Path>,
    html: Option<&'a std::path::Path>,
}

/// Writes `bytes` to `path` whole or not at all.
fn write_whole(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = millstone_core::AtomicFile::create(path, true)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    file.commit().with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Writes the run report (JSON and HTML) where asked for.
fn write_report(paths: &ReportPaths<'_>, report: &millstone_runner::RunReport) -> anyhow::Result<()> {
    let value = serde_json::to_value(report)?;
    if let Some(path) = paths.json {
        write_whole(path, (serde_json::to_string_pretty(&value)? + "\n").as_bytes())?;
        eprintln!("report: {}", path.display());
    }
    let html = paths.html.map(PathBuf::from).or_else(|| paths.json.map(|p| p.with_extension("html")));
    if let Some(path) = html {
        let page = millstone_report::render(&value).context("rendering the HTML report")?;
        write_whole(&path, page.as_bytes())?;
        eprintln!("HTML report: {}", path.display());
    }
    Ok(())
}

/// A flag set by the first SIGINT/SIGTERM (the run then winds down and cleans up); a second
/// one exits at once, unless it comes within a second of the first (schedulers such as Slurm
/// signal a job's whole process tree, so one cancel can arrive twice).
fn interrupt_flag() -> anyhow::Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let flag = std::sync::Arc::new(AtomicBool::new(false));
    let handler_flag = flag.clone();
    let mut first: Option<std::time::Instant> = None;
    ctrlc::set_handler(move || {
        if handler_flag.swap(true, Ordering::SeqCst) {
            if first.is_some_and(|t| t.elapsed() >= std::time::Duration::from_secs(1)) {
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
            return;
        }
        first = Some(std::time::Instant::now());
        eprintln!("\ninterrupted: stopping (press Ctrl-C again to quit at once)");
    })
    .context("installing the signal handler")?;
    Ok(flag)
}

/// How a barrier runs in a distributed run (`millstone plan`), for `validate`.
fn distributed_note(stage: &millstone_core::Stage) -> Option<&'static str> {
    let millstone_core::Stage::Barrier { barrier, .. } = stage else { return None };
    Some(if barrier.keep_first_by_key().is_some() {
        "distributed runs match its keys in parallel reduce tasks, one per key bucket"
    } else if barrier.segment_matches().is_some() {
        "distributed runs list segments where the documents are, decide each segment hash in parallel reduce tasks (one per hash bucket) and apply the matches where the documents are"
    } else if barrier.count_by_key().is_some() {
        "distributed runs count lines where the documents are, sum the counts in parallel reduce tasks (one per key bucket) and give every task the totals that reach min_docs"
    } else if barrier.prefix_state().is_some() {
        "distributed runs write each task's filter in the step before and start task r from the union of the filters of tasks 0..r: the filter one process holds at that point"
    } else if barrier.near_duplicates().is_some() {
        "distributed runs sign documents where they are, compare candidates in parallel match tasks (one per band-key bucket) and cluster only the documents that matched, in one task"
    } else {
        "distributed runs give it one task that sees every document in order: its decisions depend on all documents before (or, for substring dedup and repeated-line counts, after) each one"
    })
}

/// `--threads N`: at least 1, like `runtime.threads`.
fn parse_threads(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("threads must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a positive number of threads, found `{s}`")),
    }
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or("expected i/N, e.g. 0/4")?;
    let i: usize = i.trim().parse().map_err(|_| "i must be a number")?;
    let n: usize = n.trim().parse().map_err(|_| "N must be a number")?;
    if n == 0 || i >= n {
        return Err(format!("need 0 <= i < N, got {i}/{n}"));
    }
    Ok((i, n))
}

/// Exit codes: 0 ok, 1 run failed, 2 invalid pipeline, 130 interrupted.
const EXIT_RUN_FAILED: u8 = 1;
const EXIT_INVALID: u8 = 2;
const EXIT_INTERRUPTED: u8 = 130;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MILLSTONE_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("warn,html5ever=error,markup5ever=error")
            }),
        )
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", error_chain(&error));
            ExitCode::from(EXIT_RUN_FAILED)
        }
    }
}

fn execute(command: Command) -> anyhow::Result<ExitCode> {
    let registry = millstone::builtin_registry();
    match command {
        Command::Stats { files, text_field, threads, report, report_html } => {
            let input = millstone::stats::StatsInput { files: &files, text_field: &text_field, threads };
            let plan = match millstone::stats::plan(&input, &registry) {
                Ok(plan) => plan,
                Err(millstone_config::Error::Invalid(diagnostics)) => {
                    eprintln!("{diagnostics}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
                Err(other) => {
                    eprintln!("error: {other}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            let options = millstone_runner::RunOptions {
                progress: std::io::stderr().is_terminal(),
                interrupt: Some(interrupt_flag()?),
                ..Default::default()
            };
            let outcome = millstone_runner::run(plan, &options).context("computing statistics")?;
            print!("{}", millstone::stats::summary(&outcome));
            write_report(&ReportPaths { json: report.as_deref(), html: report_html.as_deref() }, &outcome)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            pipeline,
            threads,
            report,
            report_html,
            overrides,
            shard,
            overwrite,
            fail_fast,
            quiet,
            resume,
        } => {
            let report_paths = ReportPaths { json: report.as_deref(), html: report_html.as_deref() };
            let options =
                LoadOptions { overrides, threads, overwrite: overwrite || resume, shard, part: None };
            let mut plan = match load_plan(&pipeline, &registry, &options) {
                Ok(plan) => plan,
                Err(millstone_config::Error::Invalid(diagnostics)) => {
                    eprintln!("{diagnostics}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
                Err(other) => {
                    eprintln!("error: {other}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            };
            plan.runtime.fail_fast |= fail_fast;
            let (i, n) = shard.unwrap_or((0, 1));
            let marker = plan.runtime.out_dir.join("_markers").join(format!("shard-{i:05}-of-{n:05}.json"));
            if resume {
                let inputs = millstone_runner::input_files(&plan, shard).context("listing the inputs")?;
                match millstone::marker::verify(&marker, &plan.config_hash, &inputs) {
                    Ok(()) => {
                        eprintln!(
                            "shard {i}/{n} already complete, inputs and outputs verified ({}); skipping",
                            marker.display()
                        );
                        return Ok(ExitCode::SUCCESS);
                    }
                    Err(why) if millstone_storage::file::exists(&marker).unwrap_or(false) => {
                        eprintln!("shard {i}/{n}: redoing it: {why}")
                    }
                    Err(_) => {}
                }
            }
            let config_hash = plan.config_hash.clone();
            // The marker of an earlier run is invalid from the moment this run starts writing:
            // a run killed from here on is redone by --resume.
            millstone_storage::file::remove(&marker)
                .with_context(|| format!("removing the old marker {}", marker.display()))?;
            let run_options = millstone_runner::RunOptions {
                shard,
                part: None,
                progress: !quiet && std::io::stderr().is_terminal(),
                overwrite: overwrite || resume,
                interrupt: Some(interrupt_flag()?),
            };
            let outcome = match millstone_runner::run(plan, &run_options) {
                Ok(outcome) => outcome,
                Err(millstone_runner::Error::Interrupted(partial)) => {
                    eprintln!("{}", partial.summary_table());
                    write_report(&report_paths, &partial)?;
                    eprintln!("interrupted: nothing was committed and temporary files were removed; run again (or --resume) to redo the work");
                    return Ok(ExitCode::from(EXIT_INTERRUPTED));
                }
                Err(millstone_runner::Error::Failed { error, report: partial }) => {
                    eprintln!("{}", partial.summary_table());
                    write_report(&report_paths, &partial)?;
                    return Err(anyhow::Error::new(*error)).with_context(|| {
                        format!("pipeline {} failed; nothing was committed", pipeline.display())
                    });
                }
                Err(error) => {
                    return Err(error).with_context(|| format!("pipeline {} failed", pipeline.display()))
                }
            };
            eprintln!("{}", outcome.summary_table());
            write_report(&report_paths, &outcome)?;
            if !outcome.conserved {
                bail!(
                    "document counts do not add up (see the report): this is a bug in a stage or the runner"
                );
            }
            // The marker is written last: outputs are committed by then, so a run killed at any
            // point either has its marker and complete outputs, or is redone by --resume.
            millstone::marker::write(&marker, &config_hash, &outcome)
                .context("writing the completion marker")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate { pipelines, overrides } => {
            let options = LoadOptions { overrides, threads: None, overwrite: true, shard: None, part: None };
            let mut failed = false;
            for path in pipelines {
                match load_plan(&path, &registry, &options) {
                    Ok(plan) => {
                        eprintln!("{}: ok ({} stages)", path.display(), plan.stages.len());
                        for stage in &plan.stages {
                            for note in &stage.notes {
                                eprintln!("  {}: {note}", stage.id);
                            }
                            if let Some(note) = distributed_note(&stage.stage) {
                                eprintln!("  {}: {note}", stage.id);
                            }
                        }
                    }
                    Err(millstone_config::Error::Invalid(d)) => {
                        eprintln!("{d}");
                        failed = true;
                    }
                    Err(other) => {
                        eprintln!("error: {other}");
                        failed = true;
                    }
                }
            }
            Ok(if failed { ExitCode::from(EXIT_INVALID) } else { ExitCode::SUCCESS })
        }
        Command::Stages { json } => {
            if json {
                let list: Vec<_> = registry
                    .iter()
                    .map(|s| serde_json::json!({"type": s.type_name, "kind": s.kind, "summary": s.summary}))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                let width = registry.iter().map(|s| s.type_name.len()).max().unwrap_or(10);
                for s in registry.iter() {
                    println!("{:<width$}  {:<9}  {}", s.type_name, s.kind.as_str(), s.summary);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Describe { stage_type, preset } => {
            let Some(info) = registry.get(&stage_type) else {
                let hints = millstone_config::did_you_mean(&stage_type, registry.names());
                eprintln!("error: unknown stage type `{stage_type}`");
                if let Some(h) = hints.first() {
                    eprintln!("   = help: did you mean `{h}`?");
                }
                return Ok(ExitCode::from(EXIT_INVALID));
            };
            match millstone::describe::render(info, preset.as_deref()) {
                Ok(text) => println!("{text}"),
                Err(e) => {
                    eprintln!("error: {e}");
                    return Ok(ExitCode::from(EXIT_INVALID));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Eval(EvalCommand::Dedup { labels, pipeline, stage, overrides, sweep, threads }) => {
            eval::dedup(&registry, &labels, &pipeline, stage, overrides, sweep, threads)
        }
        Command::Eval(EvalCommand::Reprints { html, truth, out, pages, same_site: false }) => {
            reprints::build(&html, &truth, &out, pages)
        }
        Command::Eval(EvalCommand::Reprints { html, truth, out, same_site: true, .. }) => {
            reprints::build_same_site(&html, &truth, &out)
        }
        Command::Eval(EvalCommand::Extract {
            html,
            truth,
            limit,
            threads,
            options,
            metric,
            snippets,
            pages,
        }) => {
            let scoring = eval::ExtractScoring { metric, snippets, options, pages };
            eval::extract(&html, truth.as_deref(), limit, threads, &scoring)
        }
        Command::Eval(EvalCommand::Lid { set, model, model_path, rounds }) => {
            let model = match model.as_str() {
                "whatlang" => millstone_clean::language::LanguageModel::Whatlang,
                "fasttext" => millstone_clean::language::LanguageModel::Fasttext,
                other => anyhow::bail!("--model {other}: expected `whatlang` or `fasttext`"),
            };
            lid_eval::lid(&set, model, model_path, rounds)
        }
        Command::Eval(EvalCommand::Pairs { train, test, unit, ngram, similarity, permutations }) => {
            eval::pairs(&train, &test, &unit, ngram, &similarity, permutations)
        }
        Command::Plan(args) => distributed_cli::plan_command(args, &registry),
        Command::Task { plan, step, rank, log, quiet } => {
            distributed_cli::task_command(&plan, step, rank, log, quiet, &registry)
        }
        Command::Status { work, json } => distributed_cli::status_command(&work, json),
        Command::Submit { plan, submit } => distributed_cli::submit_command(plan, submit, &registry),
        Command::Schema => {
            println!("{}", serde_json::to_string_pretty(&pipeline_schema(&registry))?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
