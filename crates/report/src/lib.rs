//! # millstone-report
//!
//! The HTML report of a run: one self-contained file (inline SVG and CSS, no script, no
//! network) that a curator opens offline to choose thresholds. It shows the funnel (documents
//! and bytes per stage), drop reasons, length distributions before and after, every tagged
//! numeric field with the thresholds the pipeline applies drawn in, categories (languages,
//! verdicts), top sources, cluster sizes, and for each drop reason or verdict a few sampled
//! documents with the signals that decided.
//!
//! The input is the JSON of a run report (`millstone run --report`, the merged report of a
//! distributed run, `millstone stats`): [`render`] reads the fields it knows and ignores the
//! rest, so one renderer serves all three.
//!
//! Charts are drawn with `plotters`' SVG backend, the page is a `maud` template.
#![deny(missing_docs)]

mod charts;
mod view;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use millstone_core::{Histogram, Profile, Sample};

pub use millstone_core::Threshold;
pub use view::{RunView, StageView, TotalsView};

/// What can go wrong rendering a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The report JSON does not have the shape of a run report.
    #[error("not a millstone run report: {0}")]
    NotAReport(#[source] serde_json::Error),
    /// A chart could not be drawn.
    #[error("drawing the chart `{chart}`: {message}")]
    Chart {
        /// Which chart.
        chart: String,
        /// What plotters said.
        message: String,
    },
}

/// Categories shown as bar charts, at most this many values each.
const TOP_VALUES: usize = 15;

/// Renders the report of `report` (a run report's JSON) as one HTML page.
pub fn render(report: &serde_json::Value) -> Result<String, Error> {
    let view: RunView = serde_json::from_value(report.clone()).map_err(Error::NotAReport)?;
    render_view(&view)
}

/// Renders a parsed report.
pub fn render_view(view: &RunView) -> Result<String, Error> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "millstone report: " (view.pipeline) }
                style { (PreEscaped(CSS)) }
            }
            body {
                (header(view))
                (funnel(view)?)
                (drop_reasons(view)?)
                (lengths(view)?)
                (fields(view)?)
                (categories(view)?)
                (sources(view)?)
                (clusters(view)?)
                (samples(view))
            }
        }
    };
    Ok(page.into_string())
}

const CSS: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 1100px; padding: 1em 2em; color: #1d2330; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #d8dce4; padding-bottom: .2em; }
.facts { display: flex; flex-wrap: wrap; gap: .6em 2em; margin: .8em 0; }
.facts div { min-width: 8em; }
.facts b { display: block; font-size: 1.35em; }
.bad { color: #b3261e; }
table { border-collapse: collapse; margin: .8em 0; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .7em; border-bottom: 1px solid #e6e9ef; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
figure.chart { margin: .8em 0; }
figure.chart svg { max-width: 100%; height: auto; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(500px, 1fr)); gap: .5em 1.5em; }
.note { color: #5b6474; }
details.sample { border: 1px solid #e6e9ef; border-radius: 6px; padding: .4em .8em; margin: .4em 0; }
details.sample summary { cursor: pointer; }
pre.excerpt { white-space: pre-wrap; background: #f6f7f9; padding: .6em; border-radius: 4px; max-height: 14em; overflow: auto; }
code { font-size: .92em; }
"#;

fn megabytes(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

fn header(view: &RunView) -> Markup {
    let t = &view.totals;
    html! {
        h1 { "millstone: " (view.pipeline) }
        p.note {
            @if view.tasks > 0 { (view.tasks) " tasks per step · " }
            @if view.threads > 0 { (view.threads) " threads · " }
            @if view.elapsed_secs > 0.0 { (format!("{:.2}", view.elapsed_secs)) " s · " (format!("{:.1}", view.mb_per_sec)) " MB/s · " }
            @if view.peak_rss_bytes > 0 { "peak RSS " (megabytes(view.peak_rss_bytes)) " MB" }
        }
        div.facts {
            div { b { (t.input) } "records in" }
            div { b { (t.written) } "written" }
            div { b { (t.dropped) } "dropped" }
            div { b class=[(t.failed > 0).then_some("bad")] { (t.failed) } "failed" }
            @if view.error.is_some() || view.interrupted {
                div.bad { b { @if view.interrupted { "interrupted" } @else { "failed" } } "nothing was committed" }
            }
        }
        @if let Some(error) = &view.error { p.bad { (error) } }
    }
}

fn funnel(view: &RunView) -> Result<Markup, Error> {
    let rows: Vec<(String, f64)> =
        view.stages.iter().map(|s| (format!("{} ({})", s.id, s.type_name), s.docs_out as f64)).collect();
    let chart = charts::bars("funnel", "documents passed on, per stage", &rows, "documents")?;
    Ok(html! {
        section id="funnel" {
            h2 { "Funnel" }
            figure.chart data-chart="funnel" { (PreEscaped(chart)) }
            table {
                tr { th { "stage" } th { "type" } th { "in" } th { "out" } th { "dropped" } th { "failed" } th { "MB in" } th { "MB out" } }
                @for s in &view.stages {
                    tr {
                        td { (s.id) } td.text { code { (s.type_name) } }
                        td { (s.docs_in) } td { (s.docs_out) } td { (s.dropped.values().sum::<u64>()) }
                        td class=[(s.failed > 0).then_some("bad")] { (s.failed) }
                        td { (megabytes(s.bytes_in)) } td { (megabytes(s.bytes_out)) }
                    }
                }
            }
        }
    })
}

fn drop_reasons(view: &RunView) -> Result<Markup, Error> {
    let mut rows: Vec<(String, f64)> = view
        .stages
        .iter()
        .flat_map(|s| s.dropped.iter().map(move |(reason, n)| (format!("{}: {reason}", s.id), *n as f64)))
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if rows.is_empty() {
        return Ok(
            html! { section id="drops" { h2 { "Drop reasons" } p.note { "No stage dropped a document." } } },
        );
    }
    let chart = charts::bars("drop_reasons", "documents dropped, by stage and reason", &rows, "documents")?;
    Ok(
        html! { section id="drops" { h2 { "Drop reasons" } figure.chart data-chart="drop_reasons" { (PreEscaped(chart)) } } },
    )
}

/// The merged profile of every stage of one kind.
fn merged(view: &RunView, kind: &str) -> Profile {
    let mut profile = Profile::default();
    for stage in view.stages.iter().filter(|s| s.kind == kind) {
        profile.merge(&stage.profile);
    }
    profile
}

/// The profile of what the pipeline wrote: its last sink's input.
fn output_profile(view: &RunView) -> Option<&Profile> {
    view.stages.iter().rev().find(|s| s.kind == "sink" && !s.profile.is_empty()).map(|s| &s.profile)
}

fn lengths(view: &RunView) -> Result<Markup, Error> {
    let before = merged(view, "source");
    let after = output_profile(view);
    let mut dropped = Histogram::default();
    for stage in &view.stages {
        if let Some(h) = stage.profile.histograms.get(millstone_core::DROPPED_CHARS) {
            dropped.merge(h);
        }
    }
    let mut figures = Vec::new();
    for (unit, title) in [("chars", "document length in characters"), ("words", "document length in words")] {
        let mut series: Vec<(&str, &Histogram)> = Vec::new();
        if let Some(h) = before.histograms.get(unit) {
            series.push(("read", h));
        }
        if let Some(h) = after.and_then(|p| p.histograms.get(unit)) {
            series.push(("written", h));
        }
        if unit == "chars" && dropped.count > 0 {
            series.push(("dropped", &dropped));
        }
        if series.is_empty() {
            continue;
        }
        let name = format!("length_{unit}");
        figures.push((
            name.clone(),
            charts::histogram(&name, title, unit, &series, &[])?,
            quantile_line(&series),
        ));
    }
    Ok(html! {
        section id="lengths" {
            h2 { "Length, before and after" }
            @if figures.is_empty() { p.note { "No documents were profiled." } }
            div.grid {
                @for (name, svg, quantiles) in &figures {
                    figure.chart data-chart=(name) { (PreEscaped(svg)) figcaption.note { (quantiles) } }
                }
            }
        }
    })
}

fn quantile_line(series: &[(&str, &Histogram)]) -> String {
    series
        .iter()
        .map(|(label, h)| {
            let q = |p| h.quantile(p).map_or("-".to_string(), charts::compact);
            format!("{label}: p10 {} · median {} · p90 {} ({} docs)", q(0.1), q(0.5), q(0.9), h.count)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn fields(view: &RunView) -> Result<Markup, Error> {
    let Some(profile) = output_profile(view) else { return Ok(html! {}) };
    let mut figures = Vec::new();
    for (name, h) in profile.histograms.iter().filter(|(n, _)| n.starts_with("meta.")) {
        let field = &name["meta.".len()..];
        let thresholds: Vec<(String, f64)> = view
            .stages
            .iter()
            .flat_map(|s| s.thresholds.iter().map(move |t| (s, t)))
            .filter(|(_, t)| t.field == field)
            .map(|(s, t)| (format!("{} {}", s.id, t.op), t.value))
            .collect();
        let chart_id = format!("field_{field}");
        let svg = charts::histogram(&chart_id, field, field, &[("written", h)], &thresholds)?;
        let below: Vec<String> = thresholds
            .iter()
            .map(|(label, t)| {
                format!("{label} {t}: {:.1}% of documents at or below", h.fraction_at_most(*t) * 100.0)
            })
            .collect();
        figures.push((chart_id, svg, quantile_line(&[(field, h)]), below));
    }
    if figures.is_empty() {
        return Ok(html! {});
    }
    Ok(html! {
        section id="fields" {
            h2 { "Tagged fields" }
            p.note { "Distributions of the numeric fields stages wrote (with `on_match: annotate`), over the documents written. Red lines are thresholds the pipeline applies." }
            div.grid {
                @for (id, svg, quantiles, below) in &figures {
                    figure.chart data-chart=(id) {
                        (PreEscaped(svg))
                        figcaption.note { (quantiles) @for line in below { br; (line) } }
                    }
                }
            }
        }
    })
}

fn top(values: &std::collections::BTreeMap<String, u64>) -> Vec<(String, f64)> {
    let mut rows: Vec<(String, f64)> = values.iter().map(|(k, v)| (k.clone(), *v as f64)).collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(TOP_VALUES);
    rows
}

fn categories(view: &RunView) -> Result<Markup, Error> {
    let Some(profile) = output_profile(view) else { return Ok(html! {}) };
    let mut figures = Vec::new();
    for (name, values) in profile.categories.iter().filter(|(n, _)| n.starts_with("meta.")) {
        let field = &name["meta.".len()..];
        let id = format!("category_{field}");
        figures.push((
            id.clone(),
            charts::bars_sized(&id, field, &top(values), "documents", charts::HALF_WIDTH)?,
        ));
    }
    if figures.is_empty() {
        return Ok(html! {});
    }
    Ok(html! {
        section id="categories" {
            h2 { "Languages and verdicts" }
            p.note { "Over the documents written; a verdict is what a stage in annotate mode would have decided." }
            div.grid { @for (id, svg) in &figures { figure.chart data-chart=(id) { (PreEscaped(svg)) } } }
        }
    })
}

fn sources(view: &RunView) -> Result<Markup, Error> {
    let read = merged(view, "source");
    let Some(values) = read.categories.get("source") else { return Ok(html! {}) };
    let chart = charts::bars("sources", "documents read, top sources", &top(values), "documents")?;
    Ok(html! {
        section id="sources" {
            h2 { "Top sources" }
            p.note { (values.len()) " sources (the `source` or `site` field, else the host of `url`, else the input file)." }
            figure.chart data-chart="sources" { (PreEscaped(chart)) }
        }
    })
}

fn clusters(view: &RunView) -> Result<Markup, Error> {
    let mut figures = Vec::new();
    for stage in &view.stages {
        for (name, h) in stage.profile.histograms.iter().filter(|(n, _)| n.as_str() == "cluster_size") {
            let id = format!("clusters_{}", stage.id);
            let title = format!("{}: cluster size (documents per cluster)", stage.id);
            figures.push((id.clone(), charts::histogram(&id, &title, name, &[(stage.id.as_str(), h)], &[])?));
        }
    }
    if figures.is_empty() {
        return Ok(html! {});
    }
    Ok(html! {
        section id="clusters" {
            h2 { "Duplicate clusters" }
            div.grid { @for (id, svg) in &figures { figure.chart data-chart=(id) { (PreEscaped(svg)) } } }
        }
    })
}

fn sample(sample: &Sample, open: bool) -> Markup {
    html! {
        details.sample open[open] {
            summary { code { (sample.id) } " · " (sample.location) " · " (sample.chars) " chars" }
            pre.excerpt { (sample.excerpt) @if sample.chars as usize > sample.excerpt.chars().count() { " …" } }
            @if !sample.signals.is_empty() {
                table {
                    @for (k, v) in &sample.signals { tr { td { code { (k) } } td.text { (v.to_string()) } } }
                }
            }
        }
    }
}

fn samples(view: &RunView) -> Markup {
    let mut groups: Vec<(String, &Vec<Sample>)> = Vec::new();
    for stage in &view.stages {
        for (key, list) in &stage.profile.samples.0 {
            let title = match key.strip_prefix("drop:") {
                Some(reason) => format!("{} dropped: {reason}", stage.id),
                None if stage.kind == "sink" => format!("written with {key}"),
                None => format!("{}: {key}", stage.id),
            };
            groups.push((title, list));
        }
    }
    html! {
        section id="samples" {
            h2 { "Sampled documents" }
            p.note { "Per drop reason and per verdict, the documents with the smallest hash of their id: the same ones however the input was split." }
            @if groups.is_empty() { p.note { "Nothing was dropped or flagged." } }
            @for (title, list) in &groups {
                h3 { (title) }
                @for (i, s) in list.iter().enumerate() { (sample(s, i == 0)) }
            }
        }
    }
}

#[cfg(test)]
mod tests;
