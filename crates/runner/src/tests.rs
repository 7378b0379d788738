//! Unit tests of the runner: error policies, panics, shard selection, and that no work of a
//! run outlives it.

use std::ops::ControlFlow;
use std::sync::Arc;

use super::*;
use millstone_core::{
    Document, Emit, ErrorPolicy, PlannedStage, Provenance, RuntimeSettings, Shard, Source, SourceItem, Stage,
    StageError, Threads, Transform,
};

struct Numbers(usize);
impl Source for Numbers {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok((0..4).map(|i| Shard::file(format!("part{i}"))).collect())
    }
    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let part = shard.path.display().to_string();
        for i in 0..self.0 {
            let doc = Document::new(format!("{part}-{i}"), format!("text {i}"))
                .with_provenance(Provenance::line(part.as_str(), i as u64 + 1));
            if emit(SourceItem::Doc(doc)).is_break() {
                break;
            }
        }
        Ok(())
    }
}

struct PanicOn(&'static str);
impl Transform for PanicOn {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        if &*doc.id == self.0 {
            panic!("boom");
        }
        out.keep(doc);
        Ok(())
    }
}

fn plan(policy: ErrorPolicy) -> Plan {
    let runtime = RuntimeSettings {
        batch_docs: 7,
        out_dir: std::env::temp_dir().join(format!("millstone-runner-test-{}", std::process::id())),
        ..Default::default()
    };
    Plan {
        name: "t".into(),
        runtime,
        config_hash: String::new(),
        stages: vec![
            PlannedStage {
                id: "src".into(),
                type_name: "test.numbers",
                on_error: ErrorPolicy::Skip,
                keep_dropped: false,
                stage: Stage::Source(Box::new(Numbers(50))),
                notes: vec![],
            },
            PlannedStage {
                id: "explode".into(),
                type_name: "test.panic",
                on_error: policy,
                keep_dropped: false,
                stage: Stage::transform(PanicOn("part2-13")),
                notes: vec![],
            },
        ],
    }
}

#[test]
fn a_panic_names_the_stage_and_the_document() {
    let err = run(plan(ErrorPolicy::Fail), &RunOptions::default()).expect_err("fails");
    let msg = err.to_string();
    assert!(
        msg.contains("explode")
            && msg.contains("part2-13")
            && msg.contains("boom")
            && msg.contains("part2:14"),
        "{msg}"
    );
}

#[test]
fn a_panic_under_skip_is_counted_as_failed() {
    let report = run(plan(ErrorPolicy::Skip), &RunOptions::default()).unwrap();
    assert_eq!(report.totals.input, 200);
    assert_eq!(report.totals.written, 199);
    assert_eq!(report.totals.failed, 1);
    assert!(report.conserved);
    assert!(report.stages[1].stats.error_samples[0].message.contains("boom"));
}

#[test]
fn shard_selection_partitions_the_input() {
    let mut total = 0;
    for i in 0..3 {
        let report =
            run(plan(ErrorPolicy::Skip), &RunOptions { shard: Some((i, 3)), ..Default::default() }).unwrap();
        total += report.totals.input;
    }
    assert_eq!(total, 200);
}

/// A transform the test keeps a handle on, to see whether anything of the run still holds it;
/// slow enough that batches are still in flight when another stage fails.
struct Probe;
impl Transform for Probe {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        std::thread::sleep(std::time::Duration::from_micros(50));
        out.keep(doc);
        Ok(())
    }
}

fn probed_plan(probe: &Arc<dyn Transform>, fail_on: Option<&'static str>) -> Plan {
    let mut plan = plan(ErrorPolicy::Fail);
    plan.runtime.threads = Threads::Count(2);
    plan.runtime.batch_docs = 3;
    plan.stages[1].stage = Stage::Transform(probe.clone());
    if let Some(id) = fail_on {
        plan.stages.push(PlannedStage {
            id: "explode".into(),
            type_name: "test.panic",
            on_error: ErrorPolicy::Fail,
            keep_dropped: false,
            stage: Stage::transform(PanicOn(id)),
            notes: vec![],
        });
    }
    plan
}

/// The race behind "worker threads outlived the run": a pool task sent its result and only then
/// released its share of the run, so `run` could return while a worker still held the section.
/// Looped, because the window is a few instructions wide.
#[test]
fn no_work_of_a_run_outlives_it() {
    let probe: Arc<dyn Transform> = Arc::new(Probe);
    for round in 0..100 {
        let fail_on = (round % 3 == 2).then_some("part1-20");
        let result = run(probed_plan(&probe, fail_on), &RunOptions::default());
        assert_eq!(result.is_err(), fail_on.is_some(), "round {round}: {:?}", result.err());
        assert_eq!(
            Arc::strong_count(&probe),
            1,
            "round {round}: a worker still holds the section after run returned"
        );
    }
}

struct PanickingSink;
impl millstone_core::Sink for PanickingSink {
    fn write(&mut self, _: &millstone_core::Batch) -> Result<(), StageError> {
        panic!("sink exploded");
    }
    fn prepare(&mut self) -> Result<millstone_core::Prepared, StageError> {
        Ok(millstone_core::Prepared { docs: 0, pending: Vec::new() })
    }
}

struct PanickingBarrier(&'static str);
impl millstone_core::Barrier for PanickingBarrier {
    fn process(&mut self, batch: millstone_core::Batch, out: &mut Emit) -> Result<(), StageError> {
        batch.docs.into_iter().for_each(|d| out.keep(d));
        Ok(())
    }
    fn finish(&mut self, _: &mut Emit) -> Result<(), StageError> {
        if self.0 == "finish" {
            panic!("finish exploded");
        }
        Ok(())
    }
    fn drain(&mut self, _: &mut Emit, _: usize) -> Result<bool, StageError> {
        if self.0 == "drain" {
            panic!("drain exploded");
        }
        Ok(false)
    }
    fn retained_bytes(&self) -> usize {
        0
    }
}

/// A panic in a sink, or in a barrier's `finish` or `drain`, becomes an error naming the stage.
#[test]
fn panics_in_sequential_stages_become_errors_naming_the_stage() {
    let stages = [
        ("sink", Stage::Sink(Box::new(PanickingSink)), "sink exploded"),
        ("finisher", Stage::barrier(PanickingBarrier("finish")), "finish exploded"),
        ("drainer", Stage::barrier(PanickingBarrier("drain")), "drain exploded"),
    ];
    for (id, stage, message) in stages {
        let mut plan = plan(ErrorPolicy::Skip);
        plan.stages[1] = PlannedStage {
            id: id.into(),
            type_name: "test.panicking",
            on_error: ErrorPolicy::Skip,
            keep_dropped: false,
            stage,
            notes: vec![],
        };
        let error = run(plan, &RunOptions::default()).expect_err("a panic fails the run").to_string();
        assert!(error.contains(&format!("stage `{id}`")) && error.contains(message), "{error}");
    }
}

/// A source whose second file is gone by the time it is read.
struct Vanishing;
impl Source for Vanishing {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok(vec![Shard::file("here.jsonl"), Shard::file("gone.jsonl")])
    }
    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        if shard.path.ends_with("gone.jsonl") {
            return Err(StageError::io("gone.jsonl", std::io::Error::from(std::io::ErrorKind::NotFound)));
        }
        let _ = emit(SourceItem::Doc(Document::new("a", "text")));
        Ok(())
    }
}

/// An input deleted during the run used to count as one failed record; its records cannot be
/// counted, so the run fails and names the file.
#[test]
fn an_input_that_disappears_fails_the_run_naming_it() {
    let mut plan = plan(ErrorPolicy::Skip);
    plan.stages[0].stage = Stage::Source(Box::new(Vanishing));
    let error = run(plan, &RunOptions::default()).expect_err("a vanished input fails the run").to_string();
    assert!(error.contains("gone.jsonl") && error.contains("disappeared"), "{error}");
}

/// Drops every third document and tags the rest with a score.
struct ScoreAndDrop;
impl Transform for ScoreAndDrop {
    fn apply(&self, doc: Document, out: &mut Emit) -> Result<(), StageError> {
        let n: u64 = doc.id.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0);
        if n % 3 == 0 {
            out.drop(doc, millstone_core::DropReason("third"));
        } else {
            out.observe("seen", n as f64);
            out.keep(
                doc.with_meta("score", n as f64 / 7.0)
                    .with_meta("lang", if n % 2 == 0 { "en" } else { "de" }),
            );
        }
        Ok(())
    }
}

struct Discard;
impl millstone_core::Sink for Discard {
    fn write(&mut self, _batch: &millstone_core::Batch) -> Result<(), StageError> {
        Ok(())
    }
    fn prepare(&mut self) -> Result<millstone_core::Prepared, StageError> {
        Ok(millstone_core::Prepared { docs: 0, pending: Vec::new() })
    }
}

fn profiled_plan(threads: usize, batch_docs: usize) -> Plan {
    let runtime = RuntimeSettings { batch_docs, threads: Threads::Count(threads), ..Default::default() };
    let stage = |id: &str, stage| PlannedStage {
        id: id.into(),
        type_name: "test",
        on_error: ErrorPolicy::Skip,
        keep_dropped: false,
        stage,
        notes: vec![],
    };
    Plan {
        name: "profiled".into(),
        runtime,
        config_hash: String::new(),
        stages: vec![
            stage("src", Stage::Source(Box::new(Numbers(120)))),
            stage("score", Stage::transform(ScoreAndDrop)),
            stage("sink", Stage::Sink(Box::new(Discard))),
        ],
    }
}

#[test]
fn profiles_do_not_depend_on_threads_batches_or_shards() {
    let profiles = |report: &RunReport| -> Vec<millstone_core::Profile> {
        report.stages.iter().map(|s| s.stats.profile.clone()).collect()
    };
    let one = run(profiled_plan(1, 7), &RunOptions::default()).unwrap();
    let p = profiles(&one);
    assert_eq!(p[0].docs, 480, "the source's output is profiled");
    assert_eq!(p[0].histograms["chars"].count, 480);
    assert_eq!(p[1].samples.0["drop:third"].len(), millstone_core::profile::SAMPLES_PER_KEY);
    assert_eq!(p[1].histograms["seen"].count, 320);
    assert_eq!(p[2].docs, 320, "the sink's input is profiled");
    assert_eq!(p[2].categories["meta.lang"].values().sum::<u64>(), 320);
    assert!(p[2].histograms.contains_key("meta.score"));
    let many = run(profiled_plan(4, 50), &RunOptions::default()).unwrap();
    assert_eq!(profiles(&many), p, "4 threads, other batches");
    let mut merged = vec![millstone_core::Profile::default(); 3];
    for i in 0..2 {
        let options = RunOptions { shard: Some((i, 2)), ..Default::default() };
        let part = run(profiled_plan(2, 13), &options).unwrap();
        for (m, q) in merged.iter_mut().zip(profiles(&part)) {
            m.merge(&q);
        }
    }
    assert_eq!(merged, p, "two shard sets, merged");
}

/// Lines of three files: numbers are documents, `x` is not JSON-like (a bad record), blank
/// lines are skipped, `long` is too long to read, and the last file breaks after its lines.
struct Lines {
    parse_on_pool: bool,
}

impl millstone_core::LineParser for Lines {
    fn parse_line(&self, bytes: &[u8], file: &Arc<str>, number: u64, file_name: &str) -> Option<SourceItem> {
        let text = std::str::from_utf8(bytes).ok()?.trim();
        let provenance = Provenance::line(file.clone(), number);
        Some(match text {
            "" => return None,
            "x" => {
                SourceItem::Bad(millstone_core::RecordError { provenance, message: "not a number".into() })
            }
            n => SourceItem::Doc(
                Document::new(format!("{file_name}:{n}"), format!("text {n}")).with_provenance(provenance),
            ),
        })
    }
}

impl Source for Lines {
    fn shards(&self) -> Result<Vec<Shard>, StageError> {
        Ok((0..3).map(|i| Shard::file(format!("dir/f{i}.jsonl"))).collect())
    }
    fn read(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(SourceItem) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let (file, name) = (shard.file_label(), shard.file_name());
        self.read_lines(shard, &mut |raw| match raw {
            millstone_core::RawLine::Line { bytes, number } => {
                millstone_core::LineParser::parse_line(self, bytes, &file, number, &name)
                    .map_or(ControlFlow::Continue(()), &mut *emit)
            }
            millstone_core::RawLine::Bad(bad) => emit(SourceItem::Bad(bad)),
        })
    }
    fn line_parser(&self) -> Option<Arc<dyn millstone_core::LineParser>> {
        self.parse_on_pool
            .then(|| Arc::new(Lines { parse_on_pool: true }) as Arc<dyn millstone_core::LineParser>)
    }
    fn read_lines(
        &self,
        shard: &Shard,
        emit: &mut dyn FnMut(millstone_core::RawLine<'_>) -> ControlFlow<()>,
    ) -> Result<(), StageError> {
        let last = shard.path.ends_with("f2.jsonl");
        for number in 1..=40u64 {
            let line = match number % 10 {
                3 => "x".to_string(),
                5 => String::new(),
                7 => {
                    let provenance = Provenance::line(shard.file_label(), number);
                    let bad = millstone_core::RecordError { provenance, message: "too long".into() };
                    if emit(millstone_core::RawLine::Bad(bad)).is_break() {
                        return Ok(());
                    }
                    continue;
                }
                _ => number.to_string(),
            };
            if emit(millstone_core::RawLine::Line { bytes: line.as_bytes(), number }).is_break() {
                return Ok(());
            }
        }
        if last {
            return Err(StageError::Record {
                provenance: Provenance::file(shard.label()),
                message: "stream ends".into(),
            });
        }
        Ok(())
    }
}

/// Lines parsed on the pool give what parsing on the reader gives: the same counts, the same
/// documents and the same quarantine file in input order, at any thread count and batch size.
#[test]
fn lines_parsed_on_the_pool_are_accounted_as_the_source_read_them() {
    let outcome = |parse_on_pool: bool, threads: usize, batch_docs: usize| {
        let out_dir = std::env::temp_dir().join(format!(
            "millstone-runner-lines-{}-{parse_on_pool}-{threads}-{batch_docs}",
            std::process::id()
        ));
        let runtime = RuntimeSettings {
            threads: Threads::Count(threads),
            batch_docs,
            out_dir: out_dir.clone(),
            max_failed_fraction: 1.0,
            ..Default::default()
        };
        let plan = Plan {
            name: "lines".into(),
            runtime,
            config_hash: String::new(),
            stages: vec![PlannedStage {
                id: "src".into(),
                type_name: "test.lines",
                on_error: ErrorPolicy::Quarantine,
                keep_dropped: false,
                stage: Stage::Source(Box::new(Lines { parse_on_pool })),
                notes: vec![],
            }],
        };
        let report =
            run(plan, &RunOptions { overwrite: true, ..Default::default() }).expect("the run succeeds");
        let quarantine = std::fs::read_to_string(&report.side_files[0]).expect("a quarantine file");
        let _ = std::fs::remove_dir_all(&out_dir);
        (report.totals.clone(), report.stages[0].stats.docs_out, report.stages[0].stats.failed, quarantine)
    };
    let expected = outcome(false, 1, 1000);
    assert_eq!(expected.1, 3 * 28, "28 documents per file");
    assert_eq!(expected.2, 3 * 8 + 1, "4 bad and 4 too long per file, and the broken stream");
    for (threads, batch_docs) in [(1, 1000), (1, 3), (2, 1), (3, 7)] {
        assert_eq!(
            outcome(true, threads, batch_docs),
            expected,
            "{threads} threads, batches of {batch_docs}"
        );
    }
}
