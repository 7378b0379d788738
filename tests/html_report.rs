//! The HTML report in a real browser: `pipelines/explore.yaml` on the bundled sample writes
//! `run.html`; headless Chromium loads it from disk (no server, no network), a checker script
//! appended to a copy measures every chart as laid out (an `<svg>` with a real size and bars
//! with a real height), and a screenshot is taken and checked to be a page, not a blank.
//!
//! Needs Chromium (`MILLSTONE_CHROMIUM`, else `chromium` / `chromium-browser` /
//! `google-chrome` on PATH; `.ci/run` installs Debian's). Without it, or when it cannot start,
//! the test says so and skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{millstone, stderr};

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("MILLSTONE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs headless Chromium on `page` with `extra` flags; `Err` says why it could not.
fn headless(browser: &Path, profile: &Path, page: &Path, extra: &[String]) -> Result<Vec<u8>, String> {
    // Output goes to files: a DOM larger than a pipe's buffer would block Chromium otherwise.
    let stdout_path = profile.with_extension("stdout");
    let stderr_path = profile.with_extension("stderr");
    let file = |p: &Path| std::fs::File::create(p).map_err(|e| e.to_string());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(file(&stdout_path)?)
        .stderr(file(&stderr_path)?)
        .spawn()
        .map_err(|e| format!("{} could not be started: {e}", browser.display()))?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            return Err("Chromium did not finish within 90 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if !status.success() {
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        return Err(format!("Chromium exited with {status}: {}", err.lines().last().unwrap_or("")));
    }
    std::fs::read(&stdout_path).map_err(|e| e.to_string())
}

/// Appended to a copy of the report: lays out every chart and writes what it measured.
const CHECKER: &str = r#"<script>
const figures = [...document.querySelectorAll('figure.chart')];
const charts = figures.map(f => {
  const svg = f.querySelector('svg');
  const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
  const bars = svg ? [...svg.querySelectorAll('rect')].filter(r => r.getBBox().height > 0.5 && r.getBBox().width > 0.5).length : 0;
  const texts = svg ? svg.querySelectorAll('text').length : 0;
  return {chart: f.dataset.chart, width: Math.round(box.width), height: Math.round(box.height), bars, texts};
});
const out = document.createElement('pre');
out.id = 'measured';
out.textContent = 'MEASURED' + JSON.stringify(charts) + 'END';
document.body.appendChild(out);
</script>"#;

#[derive(serde::Deserialize, Debug)]
struct Measured {
    chart: String,
    width: u32,
    height: u32,
    bars: u32,
    texts: u32,
}

#[test]
fn the_report_renders_its_charts_in_headless_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("HTML report browser test skipped: no Chromium (set MILLSTONE_CHROMIUM or install Debian's chromium; .ci/run does)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let out = millstone(&[
        "run",
        "pipelines/explore.yaml",
        "--quiet",
        "--set",
        &format!("runtime.out_dir={d}/out"),
        "--set",
        &format!("stages.13.path={d}/out/tagged.jsonl"),
        "--report",
        &format!("{d}/out/run.json"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = dir.path().join("out/run.html");
    let html = std::fs::read_to_string(&report).unwrap();
    let checked = dir.path().join("checked.html");
    std::fs::write(&checked, html.replace("</body>", &format!("{CHECKER}</body>"))).unwrap();

    let profile = dir.path().join("profile");
    let dom = match headless(&browser, &profile, &checked, &["--dump-dom".into()]) {
        Ok(dom) => String::from_utf8_lossy(&dom).into_owned(),
        Err(why) => {
            eprintln!("HTML report browser test skipped: {why}");
            return;
        }
    };
    let measured = dom
        .split_once("<pre id=\"measured\">MEASURED")
        .and_then(|(_, rest)| rest.split_once("END</pre>"))
        .map(|(json, _)| json.replace("&quot;", "\""))
        .unwrap_or_else(|| panic!("the checker did not run; DOM starts: {}", &dom[..dom.len().min(400)]));
    let charts: Vec<Measured> = serde_json::from_str(&measured).unwrap();
    let names: Vec<&str> = charts.iter().map(|c| c.chart.as_str()).collect();
    for expected in [
        "funnel",
        "length_chars",
        "length_words",
        "field_quality.gopher.mean_word_length",
        "field_lang_score",
        "category_quality.gopher.verdict",
        "category_lang",
        "sources",
        "clusters_dedup.minhash#12",
    ] {
        assert!(names.contains(&expected), "no chart `{expected}` in {names:?}");
    }
    for chart in &charts {
        assert!(chart.width >= 300 && chart.height >= 80, "chart laid out too small: {chart:?}");
        // The background is one rect; a chart has at least one bar besides.
        assert!(chart.bars >= 2, "chart without bars: {chart:?}");
        assert!(chart.texts >= 3, "chart without labels: {chart:?}");
    }

    let shot = dir.path().join("report.png");
    let flags = [format!("--screenshot={}", shot.display()), "--window-size=1200,2400".into()];
    headless(&browser, &profile, &report, &flags).unwrap();
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    let (width, height) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((width, height), (1200, 2400));
    // A blank page of this size compresses to a few kB; charts, tables and text do not.
    assert!(png.len() > 60_000, "the screenshot looks blank ({} bytes)", png.len());
    if let Some(keep) = std::env::var_os("MILLSTONE_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
