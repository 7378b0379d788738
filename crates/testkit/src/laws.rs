//! The laws every stage obeys, checked on any registered stage from its `EXAMPLE` and arbitrary
//! documents, so a stage added tomorrow is covered without a new test:
//!
//! 1. it never panics (an error is allowed: it counts the document as failed);
//! 2. one-to-one stages account for every input: `in == kept + dropped + failed`;
//! 3. every drop reason it gives is listed in its `DROP_REASONS` (`N` there stands for digits);
//! 4. every span it leaves is ordered, non-empty, inside the text and on char boundaries;
//! 5. its output does not depend on the batch size (barriers) or the thread count and order
//!    of calls (transforms);
//! 6. with `on_match: annotate` it never changes a document's text and never drops one;
//! 7. sinks write the same bytes whatever the batch size; a source reads back what the sink of
//!    the same format (`ingest.x` / `export.x`) wrote, and a missing input is an error, not a
//!    panic.
//!
//! Paths in the example (`path`, `report`, `spill_dir`) are moved into a temporary folder.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use millstone_core::{
    Batch, BuildContext, Document, Emit, OnMatch, Registry, Stage, StageError, StageInfo, StageKind,
};
use serde_json::Value;

/// What a stage did with one input document (transforms) or with a whole stream (barriers).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outcome {
    /// Documents passed on, in order.
    pub kept: Vec<Document>,
    /// `(id, reason)` of dropped documents, in order.
    pub dropped: Vec<(String, String)>,
    /// Errors, with the id of the failing document where known.
    pub failed: Vec<String>,
}

/// The example configuration of a stage as JSON fields (without `type`), with every output
/// path moved under `dir`.
pub fn example_fields(info: &StageInfo, dir: &Path) -> Value {
    let yaml: serde_yaml::Value = serde_yaml::from_str(info.example).expect("EXAMPLE is YAML");
    let mut fields: Value = serde_json::to_value(yaml).expect("EXAMPLE converts to JSON");
    let map = fields.as_object_mut().expect("EXAMPLE is a mapping");
    map.remove("type");
    for key in ["path", "report", "spill_dir"] {
        if let Some(Value::String(given)) = map.get(key) {
            let name = Path::new(given).file_name().map(|n| n.to_owned()).unwrap_or_else(|| "out".into());
            let moved = dir.join(name).display().to_string();
            map.insert(key.into(), moved.into());
        }
    }
    if let Some(Value::Array(benchmarks)) = map.get_mut("benchmarks") {
        for (i, benchmark) in benchmarks.iter_mut().enumerate() {
            write_law_benchmark(benchmark, &dir.join(format!("benchmark-{i}.jsonl")));
        }
    }
    if map.contains_key("model_path") {
        if let Some(model) = lid176() {
            map.insert("model_path".into(), model.display().to_string().into());
        }
    }
    fields
}

/// Benchmark items for decontamination stages: the sentences [`crate::law_documents`] repeats,
/// so that the laws see documents matched, cut and dropped.
const LAW_BENCHMARK_TEXTS: [&str; 2] = [
    "Subscribe to our newsletter for more. Share this article",
    "The same sentence repeats here. The same sentence repeats here.",
];

/// Moves a benchmark entry of an example (`path` and `fields`) to a JSONL file under the test's
/// folder holding [`LAW_BENCHMARK_TEXTS`] in its first field.
fn write_law_benchmark(benchmark: &mut Value, file: &Path) {
    let Some(entry) = benchmark.as_object_mut() else { return };
    let field =
        entry.get("fields").and_then(|f| f.get(0)).and_then(Value::as_str).unwrap_or("text").to_string();
    let lines: Vec<String> = LAW_BENCHMARK_TEXTS
        .iter()
        .enumerate()
        .map(|(i, text)| serde_json::json!({ "id": format!("law-{i}"), field.as_str(): text }).to_string())
        .collect();
    std::fs::write(file, lines.join("\n")).expect("write the law benchmark");
    entry.remove("paths");
    entry.insert("path".into(), file.display().to_string().into());
}

/// The real fastText language-ID model, when `.ci/python.sh` has unpacked it.
pub fn lid176() -> Option<std::path::PathBuf> {
    std::env::var_os("MILLSTONE_LID176").map(Into::into).filter(|p: &std::path::PathBuf| p.is_file())
}

/// Builds a stage of `info` from `fields`.
pub fn build(info: &StageInfo, fields: &Value) -> Result<Stage, String> {
    info.build(fields, &BuildContext::for_tests()).map_err(|problems| format!("{problems:?}"))
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}

fn call<T>(what: &str, f: impl FnOnce() -> Result<T, StageError>) -> Result<Result<T, String>, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => Ok(Ok(v)),
        Ok(Err(e)) => Ok(Err(e.to_string())),
        Err(payload) => Err(format!("{what} panicked: {}", panic_text(payload))),
    }
}

fn absorb(outcome: &mut Outcome, emit: Emit) {
    let (kept, dropped, _) = emit.into_parts();
    outcome.kept.extend(kept);
    outcome.dropped.extend(
        dropped
            .into_iter()
            .map(|(reason, doc)| (doc.map(|d| d.id.to_string()).unwrap_or_default(), reason.0.to_string())),
    );
}

/// Applies a transform to one document; `Err` only for a panic.
fn apply_one(transform: &dyn millstone_core::Transform, doc: Document) -> Result<Outcome, String> {
    let mut outcome = Outcome::default();
    let id = doc.id.to_string();
    let mut emit = Emit::new(true);
    match call("apply", || transform.apply(doc, &mut emit))? {
        Ok(()) => absorb(&mut outcome, emit),
        Err(e) => outcome.failed.push(format!("{id}: {e}")),
    }
    Ok(outcome)
}

/// Runs a barrier stage the way the runner does (prepare per document, batches of
/// `batch_size`, finish, drain); `Err` only for a panic or an error of the barrier itself.
pub fn run_barrier(stage: Stage, docs: &[Document], batch_size: usize) -> Result<Outcome, String> {
    let Stage::Barrier { prepare, mut barrier } = stage else { return Err("not a barrier".into()) };
    let mut outcome = Outcome::default();
    for (seq, chunk) in docs.chunks(batch_size.max(1)).enumerate() {
        let mut prepared = Vec::new();
        for doc in chunk {
            match &prepare {
                Some(p) => {
                    let one = apply_one(p.as_ref(), doc.clone())?;
                    if one.kept.len() != 1 && one.failed.is_empty() {
                        return Err(format!("prepare step did not keep `{}` exactly once", doc.id));
                    }
                    outcome.failed.extend(one.failed);
                    prepared.extend(one.kept);
                }
                None => prepared.push(doc.clone()),
            }
        }
        let mut emit = Emit::new(true);
        call("process", || barrier.process(Batch::new(seq as u64, prepared), &mut emit))??;
        absorb(&mut outcome, emit);
    }
    let mut emit = Emit::new(true);
    call("finish", || barrier.finish(&mut emit))??;
    absorb(&mut outcome, emit);
    loop {
        let mut emit = Emit::new(true);
        let more = call("drain", || barrier.drain(&mut emit, 3))??;
        absorb(&mut outcome, emit);
        if !more {
            break;
        }
    }
    Ok(outcome)
}

fn reason_listed(reason: &str, listed: &[(&str, &str)]) -> bool {
    listed.iter().any(|(code, _)| {
        let mut pattern = code.split('N');
        let mut rest = reason;
        let Some(first) = pattern.next() else { return false };
        let Some(after) = rest.strip_prefix(first) else { return false };
        rest = after;
        for piece in pattern {
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            if digits == 0 {
                return false;
            }
            let Some(after) = rest[digits..].strip_prefix(piece) else { return false };
            rest = after;
        }
        rest.is_empty()
    })
}

fn check_spans(doc: &Document) -> Result<(), String> {
    let mut last = (0, 0);
    for span in &doc.spans {
        let ok = span.start < span.end
            && span.end <= doc.text.len()
            && doc.text.is_char_boundary(span.start)
            && doc.text.is_char_boundary(span.end)
            && (span.start, span.end) >= last;
        if !ok {
            return Err(format!("invalid span {span:?} in `{}` ({} bytes)", doc.id, doc.text.len()));
        }
        last = (span.start, span.end);
    }
    Ok(())
}

/// Checks laws 1-6 for a transform or barrier stage of `info` built from `fields` on `docs`.
pub fn check_processing_stage(info: &StageInfo, fields: &Value, docs: &[Document]) -> Result<(), String> {
    let name = info.type_name;
    let law = |law: &str, detail: String| format!("{name}: {law}: {detail}");
    let annotates = fields.get("on_match").and_then(Value::as_str) == Some(OnMatch::Annotate.as_str());
    let (outcome, flat_map) = match build(info, fields).map_err(|e| format!("{name}: build: {e}"))? {
        Stage::Transform(transform) => {
            let flat_map = transform.is_flat_map();
            let mut sequential = Vec::new();
            for doc in docs {
                let one = apply_one(transform.as_ref(), doc.clone()).map_err(|e| law("never panics", e))?;
                if !flat_map && one.kept.len() + one.dropped.len() + one.failed.len() != 1 {
                    return Err(law("in == kept + dropped + failed", format!("`{}` gave {one:?}", doc.id)));
                }
                if annotates && one.kept.iter().any(|k| k.text != doc.text) {
                    return Err(law("annotate never changes the text", format!("`{}`", doc.id)));
                }
                if annotates && !one.dropped.is_empty() {
                    return Err(law("annotate never drops", format!("`{}`: {:?}", doc.id, one.dropped)));
                }
                sequential.push(one);
            }
            // Two threads, in reverse order: a transform is a function of its document.
            let parallel: Vec<Outcome> = std::thread::scope(|scope| {
                let halves = docs.split_at(docs.len() / 2);
                let transform = transform.as_ref();
                let run = move |part: &'_ [Document]| {
                    part.iter().rev().map(|d| apply_one(transform, d.clone())).collect::<Vec<_>>()
                };
                let (a, b) = (scope.spawn(move || run(halves.0)), scope.spawn(move || run(halves.1)));
                let mut all: Vec<_> = a.join().unwrap_or_default().into_iter().rev().collect();
                all.extend(b.join().unwrap_or_default().into_iter().rev());
                all.into_iter().map(|o| o.unwrap_or_default()).collect()
            });
            if parallel != sequential {
                return Err(law("same output on any thread count", "outputs differ on two threads".into()));
            }
            let mut all = Outcome::default();
            for one in sequential {
                all.kept.extend(one.kept);
                all.dropped.extend(one.dropped);
                all.failed.extend(one.failed);
            }
            (all, flat_map)
        }
        stage @ Stage::Barrier { .. } => {
            let outcome = run_barrier(stage, docs, 1).map_err(|e| law("never panics", e))?;
            for batch_size in [4, 1000] {
                let stage = build(info, fields)?;
                let other = run_barrier(stage, docs, batch_size).map_err(|e| law("never panics", e))?;
                if other != outcome {
                    return Err(law(
                        "same output at any batch size",
                        format!("batch size 1 vs {batch_size}"),
                    ));
                }
            }
            if annotates && !outcome.dropped.is_empty() {
                return Err(law("annotate never drops", format!("{:?}", outcome.dropped)));
            }
            if annotates {
                for kept in &outcome.kept {
                    if docs.iter().any(|d| d.id == kept.id && d.text != kept.text) {
                        return Err(law("annotate never changes the text", format!("`{}`", kept.id)));
                    }
                }
            }
            (outcome, false)
        }
        _ => return Err(law("kind", "not a transform or barrier".into())),
    };
    if !flat_map && outcome.kept.len() + outcome.dropped.len() + outcome.failed.len() != docs.len() {
        return Err(law(
            "in == kept + dropped + failed",
            format!(
                "{} in, {} kept + {} dropped + {} failed",
                docs.len(),
                outcome.kept.len(),
                outcome.dropped.len(),
                outcome.failed.len()
            ),
        ));
    }
    for (id, reason) in &outcome.dropped {
        if !reason_listed(reason, info.drop_reasons) {
            return Err(law("drop reasons are documented", format!("`{id}` dropped as `{reason}`")));
        }
    }
    for doc in &outcome.kept {
        check_spans(doc).map_err(|e| law("spans are valid", e))?;
    }
    Ok(())
}

/// The configurations a processing stage is checked with: its example, and the same with
/// `on_match: annotate` where the stage supports it.
pub fn law_configs(info: &StageInfo, dir: &Path) -> Vec<Value> {
    let example = example_fields(info, dir);
    let mut configs = vec![example.clone()];
    if info.on_match.contains(&OnMatch::Annotate) {
        let mut annotate = example;
        annotate["on_match"] = OnMatch::Annotate.as_str().into();
        configs.push(annotate);
    }
    configs
}

fn write_with_sink(info: &StageInfo, fields: &Value, docs: &[Document], batch: usize) -> Result<u64, String> {
    let name = info.type_name;
    let Stage::Sink(mut sink) = build(info, fields).map_err(|e| format!("{name}: build: {e}"))? else {
        return Err(format!("{name}: not a sink"));
    };
    for (seq, chunk) in docs.chunks(batch.max(1)).enumerate() {
        let batch = Batch::new(seq as u64, chunk.to_vec());
        let written = match sink.encoder() {
            Some(encoder) => {
                let bytes = call("encode", || encoder.encode(&batch)).map_err(|e| format!("{name}: {e}"))?;
                let bytes = bytes.map_err(|e| format!("{name}: encode: {e}"))?;
                call("write_encoded", || sink.write_encoded(&batch, &bytes))
            }
            None => call("write", || sink.write(&batch)),
        };
        written.map_err(|e| format!("{name}: {e}"))?.map_err(|e| format!("{name}: write: {e}"))?;
    }
    let summary = call("finish", || sink.finish()).map_err(|e| format!("{name}: {e}"))?;
    let summary = summary.map_err(|e| format!("{name}: finish: {e}"))?;
    if summary.docs != docs.len() as u64 {
        return Err(format!("{name}: wrote {} of {} documents", summary.docs, docs.len()));
    }
    Ok(summary.docs)
}

fn tree_bytes(path: &Path) -> Vec<(String, Vec<u8>)> {
    if path.is_file() {
        return vec![(String::new(), std::fs::read(path).unwrap_or_default())];
    }
    let mut files = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(path).unwrap_or(&p).display().to_string();
                files.push((rel, std::fs::read(&p).unwrap_or_default()));
            }
        }
    }
    files.sort();
    files
}

/// Law 7 for a sink: the same bytes at batch sizes 1 and 1000.
pub fn check_sink(info: &StageInfo, docs: &[Document], dir: &Path) -> Result<(), String> {
    let mut outputs = Vec::new();
    for (i, batch) in [1usize, 1000].into_iter().enumerate() {
        let sub = dir.join(format!("batch-{i}"));
        std::fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
        let fields = example_fields(info, &sub);
        write_with_sink(info, &fields, docs, batch)?;
        let path = fields.get("path").and_then(Value::as_str).map(std::path::PathBuf::from).unwrap_or(sub);
        outputs.push(tree_bytes(&path));
    }
    if outputs[0] != outputs[1] {
        return Err(format!("{}: same output at any batch size: batch 1 and 1000 differ", info.type_name));
    }
    Ok(())
}

/// A source of `info` built from its example with `path` set to `path` (and `paths`, plus the
/// listed example keys, removed).
fn source_at(
    info: &StageInfo,
    dir: &Path,
    path: &str,
    drop: &[&str],
) -> Result<Box<dyn millstone_core::Source>, String> {
    let name = info.type_name;
    let mut fields = example_fields(info, dir);
    let map = fields.as_object_mut().expect("mapping");
    for key in ["paths"].iter().chain(drop) {
        map.remove(*key);
    }
    map.insert("path".into(), path.into());
    match build(info, &fields).map_err(|e| format!("{name}: build: {e}"))? {
        Stage::Source(source) => Ok(source),
        _ => Err(format!("{name}: not a source")),
    }
}

/// Law 7 for a source: a missing input is an error, not a panic; and, where a sink of the same
/// format exists (`export.x` for `ingest.x`), what the sink wrote is read back, text for text.
pub fn check_source(
    registry: &Registry,
    info: &StageInfo,
    docs: &[Document],
    dir: &Path,
) -> Result<(), String> {
    let name = info.type_name;
    let source = source_at(info, dir, &dir.join("missing-input").display().to_string(), &[])?;
    let listed = call("shards", || source.shards()).map_err(|e| format!("{name}: {e}"))?;
    if let Ok(shards) = listed {
        if !shards.is_empty() {
            return Err(format!("{name}: a missing input listed {} shards", shards.len()));
        }
    }
    let Some(sink_info) = registry.get(&name.replacen("ingest.", "export.", 1)) else { return Ok(()) };
    if docs.is_empty() {
        return Ok(()); // an empty output may be no file at all, which a source rightly refuses
    }
    let out = dir.join("roundtrip");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let sink_fields = example_fields(sink_info, &out);
    write_with_sink(sink_info, &sink_fields, docs, 7)?;
    let written = sink_fields.get("path").and_then(Value::as_str).unwrap_or_default();
    let example_only = ["text_field", "id_field", "fields", "glob", "title_from_first_line", "folder_field"];
    let source = source_at(info, dir, written, &example_only)?;
    let (mut texts, mut bad) = (Vec::new(), 0usize);
    let shards = call("shards", || source.shards()).map_err(|e| format!("{name}: {e}"))?;
    for shard in shards.map_err(|e| format!("{name}: shards: {e}"))? {
        call("read", || {
            source.read(&shard, &mut |item| {
                match item {
                    millstone_core::SourceItem::Doc(d) => texts.push(d.text),
                    millstone_core::SourceItem::Bad(_) | millstone_core::SourceItem::Dropped(..) => bad += 1,
                }
                std::ops::ControlFlow::Continue(())
            })
        })
        .map_err(|e| format!("{name}: {e}"))?
        .map_err(|e| format!("{name}: read: {e}"))?;
    }
    // Every document written comes back, as a document with its text or as a bad record (an
    // empty file, say) that the runner counts as failed with its location.
    let mut expected: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
    expected.sort();
    texts.sort();
    let mut missing = expected.clone();
    for text in &texts {
        match missing.binary_search(text) {
            Ok(i) => {
                missing.remove(i);
            }
            Err(_) => {
                return Err(format!(
                    "{name}: read back a text {} did not write: {text:?}",
                    sink_info.type_name
                ))
            }
        }
    }
    if texts.len() + bad != docs.len() {
        return Err(format!(
            "{name}: {} documents + {bad} bad records read back, {} written by {}",
            texts.len(),
            docs.len(),
            sink_info.type_name
        ));
    }
    Ok(())
}

/// The kind-specific law check for any registered stage.
pub fn check_stage(registry: &Registry, info: &StageInfo, docs: &[Document]) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    match info.kind {
        StageKind::Source => check_source(registry, info, docs, dir.path()),
        StageKind::Sink => check_sink(info, docs, dir.path()),
        StageKind::Transform | StageKind::Barrier => {
            let configs = law_configs(info, dir.path());
            if configs[0].get("model_path").is_some() && lid176().is_none() {
                eprintln!(
                    "{}: laws skipped: it needs a model file (set MILLSTONE_LID176 to lid.176.ftz)",
                    info.type_name
                );
                return Ok(());
            }
            for fields in configs {
                check_processing_stage(info, &fields, docs)?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templated_drop_reasons_match_digits_only() {
        let listed = [("top_N_gram", ""), ("too_short", "")];
        assert!(reason_listed("top_2_gram", &listed));
        assert!(reason_listed("top_10_gram", &listed));
        assert!(reason_listed("too_short", &listed));
        assert!(!reason_listed("top_x_gram", &listed));
        assert!(!reason_listed("top__gram", &listed));
        assert!(!reason_listed("too_long", &listed));
    }
}
