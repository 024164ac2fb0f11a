//! The plots, with plotters, each as SVG and PNG: latency percentiles over time (fault
//! windows shaded, the baseline dashed), availability over time, the latency distribution
//! (HdrHistogram's percentile plot: latency against 1 / (1 - percentile), baseline against
//! experiment), per-cell and per-zone error rates over time (heatmaps), and the cascade tree.
//! Text is drawn with the embedded DejaVu Sans subset (`fonts/`): PNGs need no system font,
//! and SVGs name it (the HTML report embeds it). Made from a results folder read back
//! (`saved`), so a run and `cellsim report` draw the same bytes.

use crate::saved::{Distribution, PlacePoint, Point, Saved};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::sync::Once;

/// The embedded font and the family name plots use.
pub const FONT_BYTES: &[u8] = include_bytes!("../fonts/DejaVuSans-subset.ttf");
pub const FONT: &str = "DejaVu Sans";

/// Width and height of every plot, in pixels (the cascade tree grows with its nodes).
pub const WIDTH: u32 = 1000;
pub const HEIGHT: u32 = 480;

/// Time columns of a heatmap at most (buckets are merged beyond).
const HEAT_COLUMNS: usize = 200;
/// Nodes the cascade tree draws at most.
const TREE_NODES: usize = 40;

/// Ten distinguishable colours (Tableau 10), by series.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
const FAULT: RGBColor = RGBColor(230, 80, 60);

/// One plot: its file stem, a title for the report, and its SVG and PNG bytes.
pub struct Plot {
    pub name: &'static str,
    pub title: String,
    pub svg: String,
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for name in [FONT, "sans-serif"] {
            assert!(
                plotters::style::register_font(name, FontStyle::Normal, FONT_BYTES).is_ok(),
                "the embedded font parses"
            );
        }
    });
}

/// Text from a scenario made safe for plotters (which escapes XML's special characters but
/// not the control characters XML forbids).
fn label(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

type DrawResult = Result<(), String>;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

/// Draws `draw` into an SVG string and a PNG of `width` x `height`.
fn render(
    width: u32,
    height: u32,
    draw: impl Fn(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
    draw_png: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult,
) -> Result<(String, Vec<u8>), String> {
    register_font();
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        draw(&area)?;
        area.present().map_err(err)?;
    }
    let mut rgb = vec![0u8; (width * height * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut rgb, (width, height)).into_drawing_area();
        draw_png(&area)?;
        area.present().map_err(err)?;
    }
    Ok((svg, encode_png(&rgb, width, height)?))
}

/// `rgb` as a PNG file's bytes (8-bit RGB, default compression: the same bytes every time).
fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Best);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header().map_err(err)?;
        writer.write_image_data(rgb).map_err(err)?;
    }
    Ok(out)
}

/// The fault windows to shade: (start s, end s), from the summary's impact records.
fn fault_windows(saved: &Saved) -> Vec<(f64, f64)> {
    let faults = saved.summary["impact"]["faults"].as_array().map_or(&[][..], |v| &v[..]);
    faults
        .iter()
        .filter(|f| !f["random"].as_bool().unwrap_or(false))
        .filter_map(|f| Some((f["start_s"].as_f64()?, f["end_s"].as_f64()?)))
        .collect()
}

fn duration_s(saved: &Saved) -> f64 {
    saved.summary["duration_s"].as_f64().unwrap_or(1.0).max(1e-9)
}

/// Every plot the folder's data allows, in the report's order.
pub fn plots(saved: &Saved) -> Result<Vec<Plot>, String> {
    let mut out = Vec::new();
    let scenario = label(saved.summary["scenario"].as_str().unwrap_or_default());
    let mut add = |name: &'static str, title: String, (svg, png): (String, Vec<u8>), height: u32| {
        out.push(Plot { name, title, svg, png, width: WIDTH, height });
    };
    add(
        "latency",
        format!("{scenario}: latency over time"),
        render(WIDTH, HEIGHT, |a| latency_over_time(a, saved), |a| latency_over_time(a, saved))?,
        HEIGHT,
    );
    add(
        "availability",
        format!("{scenario}: availability over time"),
        render(WIDTH, HEIGHT, |a| availability_over_time(a, saved), |a| availability_over_time(a, saved))?,
        HEIGHT,
    );
    if saved.distributions.iter().any(|(d, _)| d.len() > 1) {
        add(
            "distribution",
            format!("{scenario}: latency distribution"),
            render(WIDTH, HEIGHT, |a| distribution(a, saved), |a| distribution(a, saved))?,
            HEIGHT,
        );
    }
    for (kind, name) in [("cell", "cells"), ("zone", "zones")] {
        let rows: Vec<&(String, String, Vec<PlacePoint>)> = saved.places.iter().filter(|p| p.0 == kind).collect();
        if rows.is_empty() {
            continue;
        }
        let height = (140 + 26 * rows.len() as u32).clamp(240, 1200);
        add(
            name,
            format!("{scenario}: error rate by {kind} over time"),
            render(WIDTH, height, |a| heatmap(a, saved, kind, &rows), |a| heatmap(a, saved, kind, &rows))?,
            height,
        );
    }
    let nodes = saved.summary["impact"]["cascade"].as_array().map_or(0, |n| n.len());
    if nodes > 0 {
        let height = (120 + 30 * nodes.min(TREE_NODES) as u32).max(240);
        add(
            "cascade",
            format!("{scenario}: cascade through the call graph"),
            render(WIDTH, height, |a| cascade(a, saved), |a| cascade(a, saved))?,
            height,
        );
    }
    Ok(out)
}

/// An axis tick: at most 4 significant digits, without a trailing `.0`.
fn tick(v: &f64) -> String {
    let x = cellsim_models::hypothesis::round_to(*v, 4);
    let s = format!("{x}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}

/// Points a time plot draws per series at most: longer series merge neighbouring buckets.
const MAX_POINTS: usize = 1000;

/// `points` merged into at most `MAX_POINTS`: each group of neighbouring buckets becomes one
/// point at the group's first time, with the highest p99 (a spike stays visible), the
/// mean p50 and the requests-weighted availability.
fn thin(points: &[Point]) -> std::borrow::Cow<'_, [Point]> {
    if points.len() <= MAX_POINTS {
        return points.into();
    }
    let per = points.len().div_ceil(MAX_POINTS);
    let merged = points
        .chunks(per)
        .map(|c| {
            let requests: u64 = c.iter().map(|p| p.requests).sum();
            let ok: f64 = c.iter().filter_map(|p| p.availability.map(|a| a * p.requests as f64)).sum();
            let p50: Vec<f64> = c.iter().filter_map(|p| p.p50_ms).collect();
            Point {
                t_s: c[0].t_s,
                requests,
                availability: (requests > 0).then(|| ok / requests as f64),
                p50_ms: (!p50.is_empty()).then(|| p50.iter().sum::<f64>() / p50.len() as f64),
                p99_ms: c.iter().filter_map(|p| p.p99_ms).reduce(f64::max),
            }
        })
        .collect::<Vec<_>>();
    merged.into()
}

/// Splits `points` into runs of consecutive defined values.
fn segments(points: &[Point], value: impl Fn(&Point) -> Option<f64>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for p in points {
        match value(p) {
            Some(v) => out.last_mut().expect("one").push((p.t_s, v)),
            None if out.last().is_some_and(|s| !s.is_empty()) => out.push(Vec::new()),
            None => {}
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Shades the fault windows over `[y0, y1]` and adds them to the legend once.
fn shade<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    windows: &[(f64, f64)],
    y0: f64,
    y1: f64,
) -> DrawResult {
    if windows.is_empty() {
        return Ok(());
    }
    chart
        .draw_series(windows.iter().map(|&(s, e)| Rectangle::new([(s, y0), (e, y1)], FAULT.mix(0.18).filled())))
        .map_err(err)?
        .label("fault window")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], FAULT.mix(0.18).filled()));
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.4))
        .label_font((FONT, 13))
        .position(position)
        .draw()
        .map_err(err)
}

/// Draws lines (solid, or dashed for a baseline) for each segment, labelled once.
fn lines<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    segments: Vec<Vec<(f64, f64)>>,
    style: ShapeStyle,
    dashed: bool,
    name: String,
) -> DrawResult {
    for (k, seg) in segments.into_iter().enumerate() {
        let ann = if dashed {
            chart.draw_series(DashedLineSeries::new(seg, 6, 4, style)).map_err(err)?
        } else {
            chart.draw_series(LineSeries::new(seg, style)).map_err(err)?
        };
        if k == 0 {
            ann.label(name.clone()).legend(move |(x, y)| {
                // A dashed swatch for a dashed line: two dashes and a gap.
                let (a, b) = if dashed { (7, 11) } else { (18, 18) };
                EmptyElement::at((x, y))
                    + PathElement::new(vec![(0, 0), (a, 0)], style)
                    + PathElement::new(vec![(b, 0), (18, 0)], style)
            });
        }
    }
    Ok(())
}

fn latency_over_time<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, saved: &Saved) -> DrawResult {
    area.fill(&WHITE).map_err(err)?;
    let t_max = duration_s(saved);
    let values = saved
        .workloads
        .iter()
        .flat_map(|(_, s, b)| s.iter().chain(b).flat_map(|p| [p.p50_ms, p.p99_ms]))
        .flatten()
        .filter(|v| *v > 0.0);
    let (lo, hi) = values.fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Headroom above the curves for the legend (the axis is logarithmic).
    let (lo, hi) = if hi > 0.0 { (lo * 0.8, hi * 4.0) } else { (0.1, 10.0) };
    let mut chart = ChartBuilder::on(area)
        .caption("Latency of successful requests per bucket (p99 thick, p50 thin; baseline p99 dashed)", (FONT, 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..t_max, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .y_desc("latency (ms, log scale)")
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .y_max_light_lines(1)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(err)?;
    shade(&mut chart, &fault_windows(saved), lo, hi)?;
    for (k, (name, series, base)) in saved.workloads.iter().enumerate() {
        let (series, base) = (thin(series), thin(base));
        let c = PALETTE[k % PALETTE.len()];
        let name = label(name);
        lines(&mut chart, segments(&series, |p| p.p99_ms), c.stroke_width(2), false, format!("{name} p99"))?;
        // p50 as a thin line of the same colour, left out of the legend (the caption says so).
        for seg in segments(&series, |p| p.p50_ms) {
            chart.draw_series(LineSeries::new(seg, c.mix(0.6).stroke_width(1))).map_err(err)?;
        }
        if !base.is_empty() {
            lines(
                &mut chart,
                segments(&base, |p| p.p99_ms),
                c.mix(0.7).stroke_width(1),
                true,
                format!("{name} p99, baseline"),
            )?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

fn availability_over_time<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, saved: &Saved) -> DrawResult {
    area.fill(&WHITE).map_err(err)?;
    let t_max = duration_s(saved);
    let lowest = saved
        .workloads
        .iter()
        .flat_map(|(_, s, b)| s.iter().chain(b).filter_map(|p| p.availability))
        .fold(1f64, f64::min);
    // Zoom in when every bucket stays high (the nines are what matters), else show it all.
    let lo = if lowest >= 0.99 {
        99.0
    } else if lowest >= 0.9 {
        90.0
    } else {
        0.0
    };
    // A little room above 100% so that a line at 100% shows; no tick above it.
    let top = 100.0 + (100.0 - lo) * 0.02;
    let percent = |v: &f64| if *v > 100.0 + 1e-9 { String::new() } else { tick(v) };
    let mut chart = ChartBuilder::on(area)
        .caption("Availability per bucket (successful requests over finished; baseline dashed)", (FONT, 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..t_max, lo..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .y_desc("availability (%)")
        .x_label_formatter(&tick)
        .y_label_formatter(&percent)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(err)?;
    shade(&mut chart, &fault_windows(saved), lo, top)?;
    for (k, (name, series, base)) in saved.workloads.iter().enumerate() {
        let (series, base) = (thin(series), thin(base));
        let c = PALETTE[k % PALETTE.len()];
        let name = label(name);
        let pct = |p: &Point| p.availability.map(|a| (a * 100.0).max(lo));
        lines(&mut chart, segments(&series, pct), c.stroke_width(2), false, name.clone())?;
        if !base.is_empty() {
            lines(&mut chart, segments(&base, pct), c.mix(0.7).stroke_width(1), true, format!("{name}, baseline"))?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::LowerLeft)
}

/// The x position of percentile `p` (0 to 1): log10(1 / (1 - p)), capped at 6 nines.
fn nines(p: f64) -> f64 {
    (1.0 / (1.0 - p).max(1e-6)).log10()
}

fn distribution<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, saved: &Saved) -> DrawResult {
    area.fill(&WHITE).map_err(err)?;
    let all = || saved.distributions.iter().flat_map(|(d, b)| d.iter().chain(b));
    // The last step is at 100%: the axis ends one decade past the last one below it.
    let x_max = all().filter(|&&(_, p)| p < 1.0).map(|&(_, p)| nines(p)).fold(1f64, f64::max).ceil() + 1.0;
    let (lo, hi) =
        all().map(|&(v, _)| v).filter(|v| *v > 0.0).fold((f64::INFINITY, 0f64), |(l, h), v| (l.min(v), h.max(v)));
    let (lo, hi) = if hi > 0.0 { (lo * 0.8, hi * 1.25) } else { (0.1, 10.0) };
    let mut chart = ChartBuilder::on(area)
        .caption("Latency by percentile (successful requests, whole run; baseline dashed)", (FONT, 18))
        .margin(12)
        .margin_right(40)
        .x_label_area_size(44)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_max, (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_labels(x_max as usize + 1)
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 10f64.powf(-x));
            format!("{}%", cellsim_models::hypothesis::round_to(p, 6))
        })
        .x_desc("percentile (log scale of 1 / (1 - p))")
        .y_desc("latency (ms, log scale)")
        .y_label_formatter(&tick)
        .y_max_light_lines(1)
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(err)?;
    for (k, ((name, _, _), (dist, base))) in saved.workloads.iter().zip(&saved.distributions).enumerate() {
        let c = PALETTE[k % PALETTE.len()];
        let name = label(name);
        let curve =
            |d: &Distribution| vec![d.iter().map(|&(v, p)| (nines(p).min(x_max), v.max(lo))).collect::<Vec<_>>()];
        if dist.len() > 1 {
            lines(&mut chart, curve(dist), c.stroke_width(2), false, name.clone())?;
        }
        if base.len() > 1 {
            lines(&mut chart, curve(base), c.mix(0.7).stroke_width(1), true, format!("{name}, baseline"))?;
        }
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)
}

/// The colour of an error rate: white at 0, dark red at 1.
fn heat(rate: f64) -> RGBColor {
    let r = rate.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * r).round() as u8;
    RGBColor(mix(255.0, 165.0), mix(255.0, 15.0), mix(255.0, 21.0))
}

fn heatmap<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    saved: &Saved,
    kind: &str,
    rows: &[&(String, String, Vec<PlacePoint>)],
) -> DrawResult {
    area.fill(&WHITE).map_err(err)?;
    let t_max = duration_s(saved);
    let names: Vec<String> = rows.iter().map(|r| label(&r.1)).collect();
    let n = rows.len() as i32;
    let caption = match kind {
        "cell" => "Error rate by cell (requests the routers sent there) per time column",
        _ => "Error rate by zone (jobs its instances ended) per time column",
    };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 18))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(110)
        .build_cartesian_2d(0f64..t_max, (0..n - 1).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("simulated time (s)")
        .x_label_formatter(&tick)
        .y_desc(kind)
        .y_labels(rows.len())
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
            _ => String::new(),
        })
        .label_style((FONT, 13))
        .axis_desc_style((FONT, 14))
        .draw()
        .map_err(err)?;
    for (i, row) in rows.iter().enumerate() {
        let points = &row.2;
        let per = points.len().div_ceil(HEAT_COLUMNS).max(1);
        let cells = points.chunks(per).map(|c| {
            let (total, failed) = c.iter().fold((0, 0), |(t, f), p| (t + p.total, f + p.failed));
            let start = c[0].t_s;
            let end = c.last().map_or(start, |p| p.t_s) + bucket_s(points);
            let colour = if total == 0 { RGBColor(235, 235, 235) } else { heat(failed as f64 / total as f64) };
            Rectangle::new(
                [(start, SegmentValue::Exact(i as i32)), (end.min(t_max), SegmentValue::Exact(i as i32 + 1))],
                colour.filled(),
            )
        });
        chart.draw_series(cells).map_err(err)?;
    }
    for (rate, text) in [(0.0, "0% errors"), (0.5, "50%"), (1.0, "100%")] {
        chart.draw_series(std::iter::empty::<Rectangle<(f64, SegmentValue<i32>)>>()).map_err(err)?.label(text).legend(
            move |(x, y)| {
                EmptyElement::at((x, y))
                    + Rectangle::new([(0, -6), (18, 6)], heat(rate).filled())
                    + Rectangle::new([(0, -6), (18, 6)], BLACK.mix(0.5))
            },
        );
    }
    chart
        .draw_series(std::iter::empty::<Rectangle<(f64, SegmentValue<i32>)>>())
        .map_err(err)?
        .label("no traffic")
        .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 18, y + 6)], RGBColor(235, 235, 235).filled()));
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

/// The width of a place's bucket, from its first two points (1 s with one).
fn bucket_s(points: &[PlacePoint]) -> f64 {
    match points {
        [a, b, ..] => (b.t_s - a.t_s).max(1e-9),
        _ => 1.0,
    }
}

fn cascade<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, saved: &Saved) -> DrawResult {
    area.fill(&WHITE).map_err(err)?;
    let nodes = saved.summary["impact"]["cascade"].as_array().map_or(&[][..], |v| &v[..]);
    let shown = &nodes[..nodes.len().min(TREE_NODES)];
    let depth_of = |n: &serde_json::Value| n["depth"].as_u64();
    let max_depth = shown.iter().filter_map(depth_of).max().unwrap_or(0);
    let (w, h) = area.dim_in_pixel();
    let title = format!(
        "Cascade: impaired components by call-graph depth (0: faulted; {} of {} nodes)",
        shown.len(),
        nodes.len()
    );
    area.draw(&Text::new(title, (16, 14), (FONT, 18).into_font())).map_err(err)?;
    // Columns by depth (unconnected ones last), rows in the tree's order.
    let columns = max_depth + 2;
    let col_w = (w as i32 - 40) / columns as i32;
    let x_of = |d: Option<u64>| 30 + col_w * d.map_or(columns as i32 - 1, |d| d as i32) + 10;
    let y_of = |row: usize| 60 + 30 * row as i32;
    let name_of = |n: &serde_json::Value| n["component"].as_str().unwrap_or_default().to_string();
    let place: Vec<(i32, i32)> = shown.iter().enumerate().map(|(i, n)| (x_of(depth_of(n)), y_of(i))).collect();
    for (i, n) in shown.iter().enumerate() {
        let parent = n["parent"].as_str().and_then(|p| shown.iter().position(|m| name_of(m) == p));
        if let Some(j) = parent {
            let style = BLACK.mix(0.45).stroke_width(1);
            area.draw(&PathElement::new(vec![place[i], place[j]], style)).map_err(err)?;
        }
    }
    for (i, n) in shown.iter().enumerate() {
        let colour = match depth_of(n) {
            Some(d) => PALETTE[d as usize % PALETTE.len()],
            None => RGBColor(160, 160, 160),
        };
        let (x, y) = place[i];
        area.draw(&Circle::new((x, y), 7, colour.filled())).map_err(err)?;
        if n["faulted"].as_bool().unwrap_or(false) {
            area.draw(&Circle::new((x, y), 10, FAULT.stroke_width(2))).map_err(err)?;
        }
        let lateral = if n["lateral"].as_bool().unwrap_or(false) { " (lateral)" } else { "" };
        let buckets = n["impaired_buckets"].as_u64().unwrap_or(0);
        let text = format!("{}{lateral}: {buckets} bucket(s)", label(&name_of(n)));
        area.draw(&Text::new(text, (x + 14, y - 7), (FONT, 13).into_font())).map_err(err)?;
    }
    // A key: the depth colours, and the faulted ring.
    let key_y = h as i32 - 24;
    let mut x = 16;
    for d in 0..=max_depth.min(9) {
        area.draw(&Circle::new((x, key_y), 6, PALETTE[d as usize].filled())).map_err(err)?;
        area.draw(&Text::new(format!("depth {d}"), (x + 10, key_y - 7), (FONT, 12).into_font())).map_err(err)?;
        x += 80;
    }
    area.draw(&Circle::new((x, key_y), 9, FAULT.stroke_width(2))).map_err(err)?;
    area.draw(&Text::new("faulted", (x + 14, key_y - 7), (FONT, 12).into_font())).map_err(err)?;
    Ok(())
}
