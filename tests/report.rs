//! The plots and the HTML report: the series and the fault windows where the scenario put
//! them (coordinates read from the SVG), PNGs that decode at their size, `cellsim report`
//! making the same bytes again, hostile names shown as text everywhere, and a policy that
//! forbids every network load.

use crate::support::*;
use std::path::Path;

/// Constant arrivals of 10 a second for 60 s on one service of 10 ms; an outage from 20 s
/// to 30 s and a CPU stress from 40 s to 45 s; `name` names the workload.
pub(crate) fn two_faults(name: &str) -> String {
    format!(
        "[scenario]\nname = \"two-faults\"\nduration = \"60s\"\nbucket = \"1s\"\n\n\
         [[workload]]\nname = \"{name}\"\narrival = {{ process = \"poisson\", rate_per_s = 50 }}\n\n\
         [[workload.request]]\nname = \"get\"\ntarget = \"api\"\n\n\
         [[service]]\nname = \"api\"\nworkers = 4\nservice_time = {{ dist = \"exponential\", mean = \"10ms\" }}\n\n\
         [[fault]]\nkind = \"outage\"\nservice = \"api\"\nstart = \"20s\"\nduration = \"10s\"\n\n\
         [[fault]]\nkind = \"cpu-stress\"\nservice = \"api\"\nload_percent = 50\nstart = \"40s\"\nduration = \"5s\"\n\n\
         [[hypothesis]]\nexpect = \"availability >= 99%\"\nwindow = \"after fault[0] for 5s\"\n\n\
         [[hypothesis]]\nexpect = \"availability >= 99.9%\"\nworkload = \"{name}\"\n"
    )
}

/// Runs `text` into a fresh folder; returns the guard and the output folder.
fn run_into(tag: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (dir, file) = write_scenario(tag, text);
    let out = dir.path().join("out");
    let o = cellsim(["run".as_ref(), file.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&o.stderr));
    (dir, out)
}

fn svg(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{}: not XML: {e}", path.display()));
    text
}

/// The x of the tick label reading `label` on the time axis.
fn tick_x(doc: &roxmltree::Document, label: &str) -> f64 {
    doc.descendants()
        .find(|n| {
            n.has_tag_name("text") && n.text().map(str::trim) == Some(label) && n.attribute("dy") == Some("0.76em")
        })
        .and_then(|n| n.attribute("x"))
        .unwrap_or_else(|| panic!("a tick labelled {label}"))
        .parse()
        .unwrap()
}

#[test]
fn plots_draw_the_series_and_the_fault_windows_where_the_scenario_put_them() {
    let (_dir, out) = run_into("plots", &two_faults("web"));
    for name in ["latency", "availability", "distribution"] {
        let text = svg(&out.join(format!("plots/{name}.svg")));
        let doc = roxmltree::Document::parse(&text).unwrap();
        // The workload's series: a polyline of its colour, and its legend entry.
        let lines =
            doc.descendants().filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some("#1F77B4"));
        let points = lines.map(|n| n.attribute("points").unwrap().split_whitespace().count()).max().unwrap_or(0);
        assert!(points >= 10, "{name}: the series has {points} points");
        assert!(text.contains(">\nweb"), "{name}: the legend names the workload");
        if name == "distribution" {
            continue;
        }
        assert!(text.contains("baseline"), "{name}: the baseline is overlaid");
        // The fault windows: shaded rectangles at 20-30 s and 40-45 s on the time axis, whose
        // ticks read 0 and 60 (each window's width and place within 1.5 pixels).
        let (x0, x60) = (tick_x(&doc, "0"), tick_x(&doc, "60"));
        let at = |t: f64| x0 + (x60 - x0) * t / 60.0;
        let mut shaded: Vec<(f64, f64)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#E6503C"))
            .map(|n| (n.attribute("x").unwrap().parse().unwrap(), n.attribute("width").unwrap().parse().unwrap()))
            .filter(|&(_, w): &(f64, f64)| w > 20.0) // not the legend's swatch
            .collect();
        shaded.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(shaded.len(), 2, "{name}: {shaded:?}");
        for ((x, w), (start, end)) in shaded.into_iter().zip([(20.0, 30.0), (40.0, 45.0)]) {
            assert!((x - at(start)).abs() <= 1.5, "{name}: a window at x = {x}, expected {}", at(start));
            assert!((x + w - at(end)).abs() <= 1.5, "{name}: a window ends at {}, expected {}", x + w, at(end));
        }
    }
    // The files stay within the estimate the limits check reads.
    let spec = compile_ok(&two_faults("web"));
    let bound = cellsim_runs::estimate(&spec, true).report_bytes;
    let size = |p: std::path::PathBuf| std::fs::metadata(p).unwrap().len();
    let mut written: u64 = std::fs::read_dir(out.join("plots")).unwrap().map(|e| size(e.unwrap().path())).sum();
    written += ["report.html", "baseline-series.csv", "summary.txt"].iter().map(|f| size(out.join(f))).sum::<u64>();
    assert!(written <= bound, "{written} bytes written, {bound} estimated");
    // PNGs decode at their size.
    for name in ["latency", "availability", "distribution"] {
        let file = std::fs::File::open(out.join(format!("plots/{name}.png"))).unwrap();
        let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (1000, 480), "{name}");
        let colours: std::collections::BTreeSet<&[u8]> = buf[..info.buffer_size()].chunks(3).collect();
        assert!(colours.len() > 10, "{name}: a picture, not a blank ({} colours)", colours.len());
    }
}

#[test]
fn the_report_command_makes_the_same_bytes_again() {
    let (_dir, out) = run_into("again", &two_faults("web"));
    let read_all = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir.join("plots"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
            .collect();
        files.sort();
        files.push(("report.html".into(), std::fs::read(dir.join("report.html")).unwrap()));
        files
    };
    let before = read_all(&out);
    assert_eq!(before.len(), 9, "four plots (with the cascade) in two formats, and the report");
    let o = cellsim(["report".as_ref(), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(before == read_all(&out), "cellsim report made other bytes");
    // A second run of the same scenario and seed draws the same plots.
    let (_dir2, out2) = run_into("again2", &two_faults("web"));
    let plots =
        |files: Vec<(String, Vec<u8>)>| files.into_iter().filter(|(n, _)| n != "report.html").collect::<Vec<_>>();
    assert!(plots(read_all(&out)) == plots(read_all(&out2)));
    // Not a results folder: bad input.
    let o = cellsim(["report".as_ref(), out.join("plots").as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a folder cellsim run wrote"));
}

#[test]
fn hostile_names_are_shown_as_text_everywhere() {
    let name = "<img src=x onerror=alert(1)>=HYPERLINK(\\\"http://x\\\")**|&amp;";
    let (_dir, out) = run_into("hostile", &two_faults(name));
    let shown = "<img src=x onerror=alert(1)>=HYPERLINK(\"http://x\")**|&amp;";
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<img src=x"), "markup from the scenario stays text in the report");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    for file in ["latency", "availability", "distribution"] {
        let text = svg(&out.join(format!("plots/{file}.svg")));
        assert!(!text.contains("<img"), "{file}.svg");
        let doc = roxmltree::Document::parse(&text).unwrap();
        assert!(doc.descendants().any(|n| n.text().is_some_and(|t| t.contains(shown))), "{file}.svg shows the name");
    }
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    roxmltree::Document::parse(&junit).expect("junit.xml stays XML");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(!md.contains("<img") && !md.contains("**|"), "{md}");
    // A workload name that a spreadsheet would run is written as text in the CSV.
    let (_dir, out) = run_into("formula", &two_faults("=HYPERLINK(\\\"http://x\\\")"));
    let series = std::fs::read_to_string(out.join("series.csv")).unwrap();
    let cell = series.lines().nth(1).unwrap().split(',').nth(1).unwrap();
    assert!(cell.starts_with("\"'=HYPERLINK") || cell.starts_with("'=HYPERLINK"), "{cell}");
    // ... and read back by the report under its own name.
    let latency = svg(&out.join("plots/latency.svg"));
    assert!(latency.contains("=HYPERLINK(&quot;http://x&quot;) p99"), "the legend has the name as written");
}

#[test]
fn the_report_is_self_contained_and_forbids_network_loads() {
    let (_dir, out) = run_into("csp", &two_faults("web"));
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let csp = html
        .split("http-equiv=\"Content-Security-Policy\" content=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a Content-Security-Policy");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    for directive in csp.split(';').map(str::trim) {
        let sources: Vec<&str> = directive.split_whitespace().skip(1).collect();
        assert!(
            sources.iter().all(|s| *s == "'none'" || *s == "data:" || s.starts_with("'sha256-")),
            "only data and hashed inline content: {directive}"
        );
    }
    // Nothing refers outside the file: every src is data, no link or import.
    for attr in ["src=\"", "href=\""] {
        for value in html.split(attr).skip(1).map(|rest| rest.split('"').next().unwrap()) {
            assert!(value.starts_with("data:"), "{attr}{value}");
        }
    }
    assert!(!html.contains("@import") && !html.contains("<link"));
    // Verdicts first, then plots, tables, the scenario and the command.
    let order: Vec<usize> = ["id=\"verdicts\"", "id=\"plots\"", "id=\"summary\"", "id=\"scenario\"", "id=\"command\""]
        .iter()
        .map(|id| html.find(id).unwrap_or_else(|| panic!("{id}")))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    assert!(html.contains("cellsim run") && html.contains("--out"), "the command that reproduces the run");
}
