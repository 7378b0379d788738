//! The charts, as SVG strings drawn with plotters: horizontal bars for counts per label, and
//! histograms (several series overlaid, thresholds as vertical lines) re-binned from the
//! logarithmic buckets of a [`Histogram`].

use millstone_core::Histogram;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::Error;

const WIDTH: u32 = 1000;
/// Charts shown two side by side.
pub(crate) const HALF_WIDTH: u32 = 520;
/// Bins a histogram chart draws.
const BINS: usize = 40;
const PALETTE: [RGBColor; 4] =
    [RGBColor(52, 101, 164), RGBColor(230, 126, 34), RGBColor(39, 174, 96), RGBColor(142, 68, 173)];
const THRESHOLD: RGBColor = RGBColor(200, 30, 30);

fn chart_error(chart: &str, error: impl std::fmt::Display) -> Error {
    Error::Chart { chart: chart.to_string(), message: error.to_string() }
}

fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        return label.to_string();
    }
    let mut s: String = label.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// Horizontal bars, one per `(label, value)`, in the given order.
pub(crate) fn bars(chart: &str, title: &str, rows: &[(String, f64)], unit: &str) -> Result<String, Error> {
    bars_sized(chart, title, rows, unit, WIDTH)
}

/// Horizontal bars `width` pixels wide.
pub(crate) fn bars_sized(
    chart: &str,
    title: &str,
    rows: &[(String, f64)],
    unit: &str,
    width: u32,
) -> Result<String, Error> {
    let max_label = if width < WIDTH { 28 } else { 48 };
    let labels: Vec<String> = rows.iter().map(|(l, _)| short(l, max_label)).collect();
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(4) as u32 * 7 + 16;
    let height = 70 + 26 * rows.len().max(1) as u32;
    let max = rows.iter().map(|(_, v)| *v).fold(0.0, f64::max).max(1.0) * 1.12;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_error(chart, e))?;
        let n = rows.len().max(1) as u32;
        let mut plot = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 17))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(label_width.min(360))
            .build_cartesian_2d(0.0..max, (0u32..n).into_segmented())
            .map_err(|e| chart_error(chart, e))?;
        plot.configure_mesh()
            .disable_y_mesh()
            .y_labels(rows.len().max(1))
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) if *i < n => {
                    labels.get((n - 1 - *i) as usize).cloned().unwrap_or_default()
                }
                _ => String::new(),
            })
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .x_desc(unit)
            .x_label_formatter(&|v| compact(*v))
            .draw()
            .map_err(|e| chart_error(chart, e))?;
        // The first row is drawn at the top.
        plot.draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
            let i = n - 1 - i as u32;
            let mut bar = Rectangle::new(
                [(0.0, SegmentValue::Exact(i)), (*v, SegmentValue::Exact(i + 1))],
                PALETTE[0].filled(),
            );
            bar.set_margin(3, 3, 0, 0);
            bar
        }))
        .map_err(|e| chart_error(chart, e))?;
        plot.draw_series(rows.iter().enumerate().map(|(i, (_, v))| {
            Text::new(
                compact(*v),
                (*v, SegmentValue::CenterOf(n - 1 - i as u32)),
                ("sans-serif", 12).into_font(),
            )
        }))
        .map_err(|e| chart_error(chart, e))?;
        root.present().map_err(|e| chart_error(chart, e))?;
    }
    Ok(svg)
}

/// A number in few characters: 950, 12.3k, 4.1M; fractions with three significant digits.
pub(crate) fn compact(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// The x range a histogram chart spans, and whether its axis is logarithmic.
fn x_range(series: &[(&str, &Histogram)], thresholds: &[(String, f64)]) -> (f64, f64, bool) {
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    let mut min = f64::INFINITY;
    for (_, h) in series {
        // The outer half percent on either side is folded into the edge bins: one huge document
        // would otherwise squeeze every other into one bar.
        let (a, b) = if h.count >= 200 {
            (h.quantile(0.005).unwrap_or(h.min), h.quantile(0.995).unwrap_or(h.max))
        } else {
            (h.min, h.max)
        };
        lo = lo.min(a);
        hi = hi.max(b);
        min = min.min(h.min);
    }
    for (_, t) in thresholds {
        lo = lo.min(*t);
        hi = hi.max(*t);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, false);
    }
    let log = min > 0.0 && lo > 0.0 && hi / lo >= 50.0;
    if hi <= lo {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return (lo - pad, hi + pad, false);
    }
    (lo, hi, log)
}

/// Counts per bin of `h` over `BINS` bins between `lo` and `hi` (linear or logarithmic edges).
fn rebin(h: &Histogram, lo: f64, hi: f64, log: bool) -> Vec<u64> {
    let mut bins = vec![0u64; BINS];
    for (value, n) in h.buckets() {
        let position =
            if log { (value.ln() - lo.ln()) / (hi.ln() - lo.ln()) } else { (value - lo) / (hi - lo) };
        let bin = ((position * BINS as f64).floor().max(0.0) as usize).min(BINS - 1);
        bins[bin] += n;
    }
    bins
}

fn edge(i: usize, lo: f64, hi: f64, log: bool) -> f64 {
    let t = i as f64 / BINS as f64;
    if log {
        (lo.ln() + t * (hi.ln() - lo.ln())).exp()
    } else {
        lo + t * (hi - lo)
    }
}

/// A histogram chart: each series' documents per bin, overlaid, with thresholds as lines.
pub(crate) fn histogram(
    chart: &str,
    title: &str,
    unit: &str,
    series: &[(&str, &Histogram)],
    thresholds: &[(String, f64)],
) -> Result<String, Error> {
    let (lo, hi, log) = x_range(series, thresholds);
    let binned: Vec<Vec<u64>> = series.iter().map(|(_, h)| rebin(h, lo, hi, log)).collect();
    let y_max = binned.iter().flatten().copied().max().unwrap_or(1).max(1) as f64 * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (HALF_WIDTH, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| chart_error(chart, e))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(short(title, 60), ("sans-serif", 15))
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(48);
        let unit = if log { format!("{unit} (log scale)") } else { unit.to_string() };
        macro_rules! draw {
            ($plot:expr) => {{
                let mut plot = $plot.map_err(|e| chart_error(chart, e))?;
                plot.configure_mesh()
                    .x_desc(unit.as_str())
                    .y_desc("documents")
                    .x_labels(6)
                    .label_style(("sans-serif", 12))
                    .axis_desc_style(("sans-serif", 13))
                    .x_label_formatter(&|v| compact(*v))
                    .y_label_formatter(&|v| if v.fract() == 0.0 { compact(*v) } else { String::new() })
                    .draw()
                    .map_err(|e| chart_error(chart, e))?;
                for (k, ((label, _), bins)) in series.iter().zip(&binned).enumerate() {
                    let color = PALETTE[k % PALETTE.len()];
                    let alpha = if series.len() > 1 { 0.55 } else { 0.85 };
                    plot.draw_series(bins.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| {
                        Rectangle::new(
                            [(edge(i, lo, hi, log), 0.0), (edge(i + 1, lo, hi, log), *n as f64)],
                            color.mix(alpha).filled(),
                        )
                    }))
                    .map_err(|e| chart_error(chart, e))?
                    .label(*label)
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
                }
                for (label, t) in thresholds {
                    plot.draw_series(LineSeries::new([(*t, 0.0), (*t, y_max)], THRESHOLD.stroke_width(2)))
                        .map_err(|e| chart_error(chart, e))?
                        .label(format!("{label} {}", compact(*t)))
                        .legend(|(x, y)| PathElement::new([(x, y), (x + 12, y)], THRESHOLD.stroke_width(2)));
                }
                if series.len() > 1 || !thresholds.is_empty() {
                    plot.configure_series_labels()
                        .background_style(WHITE.mix(0.85))
                        .border_style(BLACK.mix(0.3))
                        .position(SeriesLabelPosition::UpperRight)
                        .draw()
                        .map_err(|e| chart_error(chart, e))?;
                }
            }};
        }
        if log {
            draw!(builder.build_cartesian_2d((lo..hi).log_scale(), 0.0..y_max));
        } else {
            draw!(builder.build_cartesian_2d(lo..hi, 0.0..y_max));
        }
        root.present().map_err(|e| chart_error(chart, e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rebinning_keeps_every_value() {
        let mut h = Histogram::default();
        for v in 1..=5000 {
            h.record(v as f64);
        }
        let (lo, hi, log) = x_range(&[("x", &h)], &[]);
        assert!(log, "1..5000 spans more than 50x");
        assert_eq!(rebin(&h, lo, hi, log).iter().sum::<u64>(), 5000);
        let (lo, hi, log) = x_range(&[("x", &h)], &[("t".into(), 0.5)]);
        assert!(lo <= 0.5 && hi >= 4900.0 && log);
    }

    #[test]
    fn one_value_gets_a_visible_range() {
        let mut h = Histogram::default();
        h.record(3.0);
        let (lo, hi, _) = x_range(&[("x", &h)], &[]);
        assert!(lo < 3.0 && hi > 3.0);
        let svg = histogram("c", "one", "x", &[("x", &h)], &[]).unwrap();
        assert!(svg.contains("<rect"), "{svg}");
    }

    #[test]
    fn compact_numbers() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(0.4567), "0.457");
        assert_eq!(compact(2_500_000.0), "2.5M");
    }
}
