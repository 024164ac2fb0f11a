//! The HTML report: one self-contained file, verdicts first, then the plots, the summary
//! tables, the scenario and the command that reproduces the run. Everything it shows is
//! inside it (plots as PNG data, the font as data); its Content-Security-Policy forbids every
//! network load (`default-src 'none'`), allowing only its own data images and font, its one
//! style sheet and its one script by their hashes. Everything taken from the scenario or the
//! run is escaped. The script writes each image's decoded width into the page (`#image-widths`),
//! which the browser test reads.

use crate::escape::xml as esc;
use crate::plots::{Plot, FONT, FONT_BYTES};
use crate::saved::Saved;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// Writes each image's decoded width, and where it sits on the page, into `#image-widths`
/// once the page has loaded.
const SCRIPT: &str = "window.addEventListener('load',function(){var l=document.getElementById('image-widths');\
document.querySelectorAll('figure img').forEach(function(i){var e=document.createElement('li'),r=i.getBoundingClientRect();\
e.setAttribute('data-image',i.getAttribute('data-name'));\
e.setAttribute('data-box',[r.left,r.top+window.scrollY,r.width,r.height].map(Math.round).join(','));\
e.textContent=String(i.naturalWidth);l.appendChild(e);});\
l.setAttribute('data-done','yes');});";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// CSP's `'sha256-...'` source for an inline element's text.
fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", b64(&Sha256::digest(text.as_bytes())))
}

fn style() -> String {
    format!(
        "@font-face{{font-family:\"{FONT}\";src:url(data:font/ttf;base64,{})format(\"truetype\");}}\n\
body{{font-family:\"{FONT}\",sans-serif;margin:2em auto;max-width:1060px;color:#222;padding:0 1em;}}\n\
h1{{font-size:1.5em;}} h2{{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc;}}\n\
table{{border-collapse:collapse;}} td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top;}}\n\
tr.broken td.result{{color:#b00;font-weight:bold;}} tr.held td.result{{color:#070;}}\n\
pre{{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:12px;line-height:1.35;}}\n\
figure{{margin:1.5em 0;}} figure img{{max-width:100%;height:auto;border:1px solid #eee;}}\n\
.why{{font-size:0.9em;color:#444;}} #image-widths{{display:none;}}",
        b64(FONT_BYTES)
    )
}

/// The report page for `saved` and its plots.
pub fn page(saved: &Saved, plots: &[Plot]) -> String {
    let style = style();
    let csp = format!(
        "default-src 'none'; img-src data:; font-src data:; style-src {}; script-src {}; base-uri 'none'; form-action 'none'",
        csp_hash(&style),
        csp_hash(SCRIPT)
    );
    let s = &saved.summary;
    let scenario = s["scenario"].as_str().unwrap_or_default();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>cellsim: {}</title>\n<style>{style}</style>\n</head>\n<body>\n",
        esc(scenario)
    );
    let _ = writeln!(
        out,
        "<h1>cellsim: {}</h1>\n<p>Seed {}, {} s simulated ({} s warm-up): {}.</p>",
        esc(scenario),
        s["seed"],
        s["duration_s"],
        s["warmup_s"],
        esc(s["verdict_detail"].as_str().unwrap_or_default())
    );
    verdicts(&mut out, saved);
    out.push_str("<section id=\"plots\">\n<h2>Plots</h2>\n");
    for p in plots {
        let _ = writeln!(
            out,
            "<figure id=\"plot-{0}\"><img data-name=\"{0}\" width=\"{1}\" height=\"{2}\" alt=\"{3}\" src=\"data:image/png;base64,{4}\">\
<figcaption>{3} (also <code>plots/{0}.svg</code> and <code>plots/{0}.png</code> beside this file)</figcaption></figure>",
            p.name,
            p.width,
            p.height,
            esc(&p.title),
            b64(&p.png)
        );
    }
    out.push_str("</section>\n");
    for (id, title, text) in [
        ("summary", "Summary", &saved.summary_text),
        ("scenario", "Scenario", &saved.scenario_text),
        ("command", "The command that reproduces this run", &saved.command),
    ] {
        let _ = writeln!(out, "<section id=\"{id}\">\n<h2>{title}</h2>\n<pre>{}</pre>\n</section>", esc(text));
    }
    let _ = write!(out, "<ul id=\"image-widths\"></ul>\n<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

/// The verdicts table: each hypothesis with its result, value, interval, threshold and why;
/// the stop, if one came.
fn verdicts(out: &mut String, saved: &Saved) {
    let s = &saved.summary;
    out.push_str("<section id=\"verdicts\">\n<h2>Verdicts</h2>\n");
    if let Some(st) = s.get("stopped").filter(|v| !v.is_null()) {
        let _ = writeln!(
            out,
            "<p id=\"stopped\">Stopped: the stop condition <b>{}</b> went to Alarm at {} s (its last period: {}); every fault ended then (a terminated instance stays terminated), and the run went on.</p>",
            esc(st["condition"].as_str().unwrap_or_default()),
            st["at_s"],
            esc(st["value"].as_str().unwrap_or_default())
        );
    }
    let hypotheses = s["hypotheses"].as_array().map_or(&[][..], |v| &v[..]);
    if hypotheses.is_empty() {
        out.push_str("<p>The scenario states no hypothesis.</p>\n</section>\n");
        return;
    }
    let broken = hypotheses.iter().filter(|h| h["result"] != "held").count();
    let _ = writeln!(
        out,
        "<p>{} held, {broken} broken. A verdict is its point estimate's; \"inconclusive\" marks a 95% interval that straddles the threshold.</p>",
        hypotheses.len() - broken
    );
    out.push_str("<table>\n<tr><th>result</th><th>hypothesis</th><th>observed</th><th>95% interval</th><th>threshold</th></tr>\n");
    for (i, h) in hypotheses.iter().enumerate() {
        let held = h["result"] == "held";
        let inconclusive = if h["inconclusive"].as_bool().unwrap_or(false) { " (inconclusive)" } else { "" };
        let show = |x: &serde_json::Value| x.as_f64().map_or("-".to_string(), |x| show(h, x));
        let interval = match h["ci95"].as_array() {
            Some(a) if a.len() == 2 => format!("{} to {}", show(&a[0]), show(&a[1])),
            _ => "-".into(),
        };
        let _ = writeln!(
            out,
            "<tr id=\"verdict-{i}\" class=\"{}\"><td class=\"result\">{}{inconclusive}</td><td>{}<div class=\"why\">{}</div></td><td>{}</td><td>{}</td><td>{} {}</td></tr>",
            if held { "held" } else { "broken" },
            if held { "held" } else { "broken" },
            esc(h["name"].as_str().unwrap_or_default()),
            esc(h["why"].as_str().unwrap_or_default()),
            esc(h["observed_text"].as_str().unwrap_or_default()),
            esc(&interval),
            esc(h["comparison"].as_str().unwrap_or_default()),
            esc(&show(&h["threshold"]))
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// A value of hypothesis `h`'s unit as people read it.
fn show(h: &serde_json::Value, x: f64) -> String {
    use cellsim_models::hypothesis::Unit;
    match h["unit"].as_str() {
        Some("ms") => Unit::Time.show(x * 1e6),
        Some("share") => Unit::Share.show(x),
        _ => Unit::Count.show(x),
    }
}
