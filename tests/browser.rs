//! The HTML report in a real browser: Debian's chromium, headless. The page's script (allowed
//! by its hash in the page's security policy) writes each image's decoded width and place
//! into the DOM; the DOM the browser rendered (`--dump-dom`) must hold every verdict row and
//! no image of width 0, and a screenshot's first plot must be a picture (several colours),
//! not a blank. Ignored by `cargo test` (it needs the browser); `.ci/run` installs chromium
//! and runs it: `cargo test --test main browser -- --ignored`. A missing browser fails.

use crate::support::*;
use std::path::Path;
use std::process::Command;

/// The browser: `CELLSIM_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> String {
    let name = std::env::var("CELLSIM_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&name).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found, "no browser `{name}`: install Debian's chromium (apt-get install chromium), as .ci/run does");
    name
}

/// Runs the browser headless on `page` with `args`; returns its stdout.
fn headless(browser: &str, page: &Path, args: &[String]) -> String {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let mut cmd = Command::new(browser);
    cmd.args(["--headless", "--disable-gpu", "--hide-scrollbars", "--virtual-time-budget=10000"]);
    if root {
        cmd.arg("--no-sandbox"); // chromium refuses to run as root with its sandbox
    }
    cmd.args(args).arg(format!("file://{}", page.display()));
    let out = cmd.output().expect("the browser runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "needs Debian's chromium: cargo test --test main browser -- --ignored (.ci/run runs it)"]
fn the_report_renders_in_a_real_browser() {
    let browser = chromium();
    let (dir, file) = write_scenario("browser", &crate::report::two_faults("web"));
    let out = dir.path().join("out");
    let o = cellsim(["run".as_ref(), file.as_os_str(), "--out".as_ref(), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "one hypothesis holds, one breaks");
    let page = out.join("report.html");
    // The DOM as the browser serialised it (HTML, read as text).
    let dom = headless(&browser, &page, &["--dump-dom".into()]);
    for row in ["id=\"verdict-0\"", "id=\"verdict-1\""] {
        assert!(dom.contains(row), "the rendered page has verdict row {row}");
    }
    let list = dom.split("<ul id=\"image-widths\"").nth(1).expect("the list").split("</ul>").next().unwrap();
    assert!(list.contains("data-done=\"yes\""), "the page's script ran (its hash is in the policy): {list}");
    let widths: Vec<(String, u32, Vec<i64>)> = list
        .split("<li ")
        .skip(1)
        .map(|li| {
            let attr =
                |name: &str| li.split(&format!("{name}=\"")).nth(1).unwrap().split('"').next().unwrap().to_string();
            let width = li.split('>').nth(1).unwrap().split('<').next().unwrap().parse().unwrap();
            let bounds = attr("data-box").split(',').map(|v| v.parse().unwrap()).collect();
            (attr("data-image"), width, bounds)
        })
        .collect();
    let figures = std::fs::read_to_string(&page).unwrap().matches("<figure ").count();
    assert_eq!(widths.len(), figures, "{widths:?}");
    assert!(widths.iter().all(|(_, w, _)| *w == 1000), "every image decoded at its width: {widths:?}");
    // The screenshot's first plot is a picture.
    let (_, _, first) = &widths[0];
    let (left, top, width, height) = (first[0], first[1], first[2], first[3]);
    let shot = dir.path().join("shot.png");
    let size = format!("--window-size=1100,{}", top + height + 40);
    headless(&browser, &page, &[size, format!("--screenshot={}", shot.display())]);
    let mut reader =
        png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap())).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let mut colours = std::collections::BTreeSet::new();
    for y in top.max(0)..(top + height).min(info.height as i64) {
        for x in left.max(0)..(left + width).min(info.width as i64) {
            let at = (y as usize * info.width as usize + x as usize) * channels;
            colours.insert(buf[at..at + 3].to_vec());
        }
    }
    assert!(colours.len() > 20, "the first plot on screen has {} colours", colours.len());
}
