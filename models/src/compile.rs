//! From scenario text to a runnable `Spec`: parsing with located errors, defaults, and the
//! semantic checks (references, cycles, ranges) that serde cannot express. This file holds the
//! entry points, the `Checker` that collects errors, and the top-level assembly; each section's
//! checks live in a child module of `compile/`.

mod analysis;
mod call;
mod control;
mod hypotheses;
pub use control::shift_tick_ns;
mod dist;
mod faults;
mod names;
mod noise;
mod policies;
mod series;
mod service;
mod topology;
mod workload;

use crate::error::{did_you_mean, ScenarioError};
use crate::group_digits;
use crate::scenario::{RunSection, ScenarioFile, ServiceSection, WorkloadSection};
use crate::spec::{DataFile, ServiceSpec, Spec, WorkloadSpec};
use crate::units::{Duration, Loc};
use cellsim_sim::{Nanos, NS_PER_S};
use service::Names;
use std::collections::BTreeMap;
use std::ops::Range;

/// The most customers all workloads may have together (their ids are 32-bit).
pub const MAX_CUSTOMERS: u64 = 1_000_000_000;

/// Reads and compiles a scenario file.
pub fn load(path: &str) -> Result<Spec, Vec<ScenarioError>> {
    let bytes =
        std::fs::read(path).map_err(|e| vec![ScenarioError::whole_file(path, format!("cannot read the file: {e}"))])?;
    compile(path, decode(path, &bytes)?)
}

/// The scenario text in `bytes`, or an error at the line and column of the first byte that
/// is not UTF-8.
pub fn decode<'b>(file: &str, bytes: &'b [u8]) -> Result<&'b str, Vec<ScenarioError>> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let text = String::from_utf8_lossy(bytes);
        let message = format!("the file is not UTF-8 text: byte {at} (0x{:02x}) is not valid UTF-8", bytes[at]);
        vec![ScenarioError::at(file, &text, at..at, message).hint("save the scenario as UTF-8 (TOML files are UTF-8)")]
    })
}

/// Compiles scenario text; `file` names it in errors. Returns every semantic error found.
pub fn compile(file: &str, src: &str) -> Result<Spec, Vec<ScenarioError>> {
    compile_with(file, src, &Overrides::default())
}

/// Values given on the command line that replace the scenario's own, applied before the
/// checks and defaults (a longer `duration` also widens the default bucket, as if written in
/// the file).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `[scenario] duration`.
    pub duration: Option<Duration>,
}

/// [`compile`], with `overrides` replacing the file's values.
pub fn compile_with(file: &str, src: &str, overrides: &Overrides) -> Result<Spec, Vec<ScenarioError>> {
    let mut parsed: ScenarioFile = toml::from_str(src).map_err(|e| vec![from_toml(file, src, &e)])?;
    if let Some(d) = overrides.duration {
        parsed.scenario.value.duration.value = d;
    }
    let mut c = Checker { file, src, errors: Vec::new(), data_files: Vec::new(), random_faults: Vec::new() };
    let celled = parsed.cells.is_some();
    let spec = c.spec(parsed);
    if c.errors.is_empty() {
        Ok(spec)
    } else if celled {
        Err(without_copies(c.errors))
    } else {
        Err(c.errors)
    }
}

/// The errors, each said once: a mistake in a cells' template service is found in every
/// cell's copy (`cell-1/api`, `cell-2/api`, ...), at the same place in the file; its key is
/// named as in the template (`service.api.workers`).
fn without_copies(errors: Vec<ScenarioError>) -> Vec<ScenarioError> {
    let mut seen = std::collections::BTreeSet::new();
    errors
        .into_iter()
        .filter(|e| seen.insert((e.line, e.column, uncelled(&e.message))))
        .map(|mut e| {
            e.field = e.field.map(|f| uncelled(&f).replace("cell-N/", "").replace("fallback/", ""));
            e
        })
        .collect()
}

/// `text` with every cell's name (`cell-12/`) written as `cell-N/`.
fn uncelled(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("cell-") {
        out.push_str(&rest[..at + 5]);
        rest = &rest[at + 5..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && rest[digits..].starts_with('/') {
            out.push('N');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Turns a TOML or serde error into a located one with a hint for misspelt keys and values.
fn from_toml(file: &str, src: &str, e: &toml::de::Error) -> ScenarioError {
    let message = e.message().trim().to_string();
    let span = e.span().unwrap_or(0..0);
    // For an error about a value: the key it was given to.
    let key = key_before(src, span.start);
    let mut err = ScenarioError::at(file, src, span.clone(), message.clone());
    let quoted = |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    if let Some(rest) = message.strip_prefix("unknown field ").or_else(|| message.strip_prefix("unknown variant ")) {
        let words = quoted(rest);
        if let Some((word, expected)) = words.split_first() {
            let kind = if message.starts_with("unknown field") { "keys" } else { "values" };
            err = match did_you_mean(word, expected.iter().map(String::as_str)) {
                Some(best) => err.hint(format!("did you mean `{best}`?")),
                None => err.hint(format!("allowed {kind} here: {}", expected.join(", "))),
            };
        }
    } else if let Some((found, expected)) = type_error(&message) {
        let (what, example) = expected_words(expected, key.as_deref().unwrap_or("key"));
        err.message = match key {
            Some(_) => format!("must be {what}, not {found}"),
            None => format!("expected {what}, found {found}"),
        };
        err = err.hint(example);
    } else if let Some((what, example)) = untagged(&message) {
        err.message = format!("must be {what}");
        err = err.hint(example);
    } else if let Some(rest) = message.strip_prefix("missing field ") {
        let words = quoted(rest);
        if let Some(word) = words.first() {
            err = err.hint(if word == "scenario" {
                "every scenario starts with a [scenario] table holding at least `name` and `duration`".to_string()
            } else {
                format!("add `{word} = ...` to this table; docs/scenario-format.md lists every key")
            });
        }
    }
    if !message.starts_with("unknown field") && !message.starts_with("missing field") {
        if let Some(k) = key {
            err = err.field(key_path(src, span.start, &k));
        }
    }
    err
}

/// Where `key`, whose value starts at byte `at`, sits: its table's header (the last `[...]`
/// or `[[...]]` line before it) and the inline tables it is in on its line, as a dotted
/// path (`service.operation.call.retry.max_attempts`).
fn key_path(src: &str, at: usize, key: &str) -> String {
    let at = at.min(src.len());
    let line_start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let header = src[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    // The keys of the inline tables still open before `at` on this line.
    let mut open: Vec<String> = Vec::new();
    let (mut pending, mut segment_start, mut quoted) = (String::new(), 0, false);
    for (i, c) in src[line_start..at].char_indices() {
        match c {
            '"' => quoted = !quoted,
            _ if quoted => {}
            '=' => pending = src[line_start + segment_start..line_start + i].trim().trim_matches('"').to_string(),
            '{' => {
                open.push(std::mem::take(&mut pending));
                segment_start = i + 1;
            }
            '}' => {
                open.pop();
            }
            ',' => segment_start = i + 1,
            _ => {}
        }
    }
    header
        .into_iter()
        .chain(open)
        .chain(std::iter::once(key.to_string()))
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

/// What a value of an either-or key (a number or a table) must be, from serde's "data did
/// not match any variant of untagged enum X" (which names neither the key nor the forms).
fn untagged(message: &str) -> Option<(&'static str, &'static str)> {
    let name = message.strip_prefix("data did not match any variant of untagged enum ")?;
    Some(match name.trim() {
        "RepeatSection" => (
            "a count, or a table with `count` or a count distribution (keys: count, dist, min, max, mean, values, weights, parallel)",
            "e.g. repeat = 9, repeat = { count = 9, parallel = true }, repeat = { dist = \"uniform\", min = 1, max = 5 }",
        ),
        "SizeSection" => (
            "a number of bytes, or a size distribution (keys: dist, value, min, max, mean, median, p99)",
            "e.g. request_bytes = 2048, or request_bytes = { dist = \"lognormal\", median = 800, p99 = 20000 }",
        ),
        _ => return None,
    })
}

/// serde's "invalid type: integer `-4`, expected u32" (or "invalid value: ..."), as the value
/// found and what was expected.
fn type_error(message: &str) -> Option<(&str, &str)> {
    let rest = message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: "))?;
    rest.split_once(", expected ")
}

/// The key whose value starts at byte `at` of `src`: the last `key =` before it on its line
/// (inline tables included).
fn key_before(src: &str, at: usize) -> Option<String> {
    let at = at.min(src.len());
    if !src.is_char_boundary(at) {
        return None;
    }
    let line_start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let before = &src[line_start..at];
    let eq = before.rfind('=')?;
    let key = before[..eq].trim_end();
    // After the last separator (which may be a wide character, such as U+202F).
    let start = key
        .char_indices()
        .rev()
        .find(|&(_, c)| c == '{' || c == ',' || c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let key = key[start..].trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

/// What serde's expected type means in words, and a hint with an example line for `key`.
fn expected_words(expected: &str, key: &str) -> (String, String) {
    // The semantic range (at least 1, at most 100, ...) is checked later, with its own message.
    let whole = || ("a whole number, not negative, without quotes".to_string(), format!("for example `{key} = 4`"));
    match expected.trim() {
        "u8" | "u16" | "u32" | "u64" | "usize" => whole(),
        "f64" | "f32" => ("a number, without quotes or units".into(), format!("for example `{key} = 2.5`")),
        "a boolean" => ("true or false, without quotes".into(), format!("for example `{key} = true`")),
        "a string" => ("a string in quotes".into(), format!("for example `{key} = \"text\"`")),
        "struct DistSection" => (
            "a distribution table".into(),
            format!("for example `{key} = {{ dist = \"exponential\", mean = \"5ms\" }}`"),
        ),
        e if e.starts_with("struct ") => {
            ("a table".into(), "docs/scenario-format.md lists every key with an example".into())
        }
        e if e.contains("duration") => (e.to_string(), format!("for example `{key} = \"250ms\"`")),
        e => (e.to_string(), "docs/scenario-format.md lists every key with an example".into()),
    }
}

/// Walks a parsed scenario, building its `Spec` and collecting every semantic error.
struct Checker<'a> {
    file: &'a str,
    src: &'a str,
    errors: Vec<ScenarioError>,
    /// The data files the scenario names (rate series), read relative to `file`'s folder.
    data_files: Vec<DataFile>,
    /// The random faults' distributions, as the faults are compiled.
    random_faults: Vec<crate::faults::RandomFault>,
}

/// One semantic error being built by [`Checker::err`]: it is recorded when dropped, so
/// `self.err(span, field, message);` records an error and `.hint(...)` adds a hint first.
struct PendingError<'c> {
    errors: &'c mut Vec<ScenarioError>,
    error: Option<ScenarioError>,
}

impl PendingError<'_> {
    fn hint(mut self, hint: impl Into<String>) -> Self {
        if let Some(e) = &mut self.error {
            e.hint = Some(hint.into());
        }
        self
    }
}

impl Drop for PendingError<'_> {
    fn drop(&mut self) {
        self.errors.extend(self.error.take());
    }
}

/// The run's times, checked.
struct Times {
    duration_ns: Nanos,
    warmup_ns: Nanos,
    drain_ns: Nanos,
    bucket_ns: Nanos,
}

impl Checker<'_> {
    /// An error at `span` of the file about the key at `field` (a path such as
    /// `service.front.call[0].to`); recorded when the returned value is dropped.
    fn err(&mut self, span: Range<usize>, field: impl Into<String>, message: impl Into<String>) -> PendingError<'_> {
        let error = ScenarioError::at(self.file, self.src, span, message).field(field);
        PendingError { errors: &mut self.errors, error: Some(error) }
    }

    fn spec(&mut self, mut f: ScenarioFile) -> Spec {
        let layout = self.layout(&mut f);
        let run = &f.scenario.value;
        let times = self.times(run);
        if f.workloads.is_empty() {
            self.err(f.scenario.span.clone(), "workload", "the scenario has no [[workload]]")
                .hint("add a [[workload]] with an arrival process and at least one [[workload.request]]");
        }
        if f.services.is_empty() {
            self.err(f.scenario.span.clone(), "service", "the scenario has no [[service]]")
                .hint("add a [[service]] with a name and a service_time");
        }

        let service_ids = self.unique_names(f.services.iter().map(|s| &s.value.name), "service");
        // Workload names key their random streams and their series rows: unique too.
        self.unique_names(f.workloads.iter().map(|w| &w.value.name), "workload");
        let (type_names, type_ids) = self.type_table(&f.workloads);
        self.check_cycles(&f.services, &service_ids);

        let operations = self.operation_names(&f.services);
        let names =
            Names { services: &service_ids, operations: &operations, type_names: &type_names, types: &type_ids };
        let mut calls = Vec::new();
        let mut workloads: Vec<_> = f.workloads.iter().map(|w| self.workload(&w.value, &names, &mut calls)).collect();
        self.populations(&f.workloads, &mut workloads);
        let mut plans = Vec::new();
        let mut services: Vec<ServiceSpec> =
            f.services.iter().map(|s| self.service(&s.value, &names, &mut calls, &mut plans)).collect();
        if services.len() > u16::MAX as usize {
            let message =
                format!("{} services, more than the 65,535 a scenario may have", group_digits(services.len() as u64));
            self.err(f.scenario.span.clone(), "service", message)
                .hint("cells multiply the template: fewer cells, or fewer template services");
        }
        let instances: u64 = services.iter().map(|s| s.instances as u64).sum();
        if instances >= 1 << 30 {
            let message = format!("{} instances in all, more than a scenario may have", group_digits(instances));
            self.err(f.scenario.span.clone(), "service", message);
        }
        if let Some(layout) = &layout {
            for ((s, spread), cell) in services.iter_mut().zip(&layout.spread).zip(&layout.cell_of) {
                // Cell k's copies start their round robin at its k-th zone, so that cells of
                // one instance per service do not all sit in the first zone.
                let offset = cell.map_or(0, |k| k as usize);
                // (An empty list only comes with an error already: a region without zones.)
                s.zones = (0..s.instances as usize)
                    .map(|i| spread.get((i + offset) % spread.len().max(1)).copied().unwrap_or(0))
                    .collect();
                s.cell = *cell;
            }
        }
        let cx = faults::FaultContext {
            service_ids: &service_ids,
            services: &services,
            workloads: &workloads,
            layout: layout.as_ref(),
            duration_ns: times.duration_ns,
            zonal_shift: f.zonal_shift.is_some(),
        };
        let (faults, trigger) = self.faults(&f.faults, &cx);
        let zonal_shift = f.zonal_shift.as_ref().and_then(|z| self.zonal_shift(z, layout.as_ref()));
        let analysis = f.analysis.as_ref().map_or_else(Default::default, |a| self.analysis(a));
        let noise = f.noise.as_ref().and_then(|n| self.noise(n));
        let hx = hypotheses::HypothesisContext {
            workloads: &workloads,
            services: &service_ids,
            topology: layout.as_ref().map(|l| &l.topology),
            faults: &faults,
            fault_sections: &f.faults,
            baseline: analysis.baseline,
            warmup_ns: times.warmup_ns,
            duration_ns: times.duration_ns,
            bucket_ns: times.bucket_ns,
        };
        let hypotheses = self.hypotheses(&f.hypotheses, &hx);
        let stop_conditions = self.stop_conditions(&f.stop_conditions, &hx);

        let limits = &f.limits;
        let max_events = self.limit(&limits.max_events, "max_events", 1_000_000_000_000, 2_000_000_000);
        let max_in_flight_requests =
            self.limit(&limits.max_in_flight_requests, "max_in_flight_requests", 100_000_000, 1_000_000);
        let max_in_flight_jobs = self.limit(&limits.max_in_flight_jobs, "max_in_flight_jobs", 1_000_000_000, 4_000_000);
        let max_memory_mb = self.limit(&limits.max_memory_mb, "max_memory_mb", 16_000_000, 4_000);
        let max_output_mb = self.limit(&limits.max_output_mb, "max_output_mb", 16_000_000, 1_000);
        // Random failures' transitions are not events: bounded by the event budget, by their
        // expected number over the run.
        let random = self.random_faults.clone();
        for r in &random {
            let hit = faults[r.fault as usize].target.hit_count() as f64;
            let domains = if r.per_instance { hit } else { hit.min(1.0) };
            let cycle_ns = r.to_failure.mean_ns() + r.to_repair.mean_ns();
            let expected = domains * 2.0 * times.duration_ns as f64 / cycle_ns.max(1.0);
            if expected > max_events as f64 {
                let message = format!(
                    "its failures and repairs would be about {} transitions, more than limits.max_events = {}",
                    group_digits(expected.min(u64::MAX as f64) as u64),
                    group_digits(max_events)
                );
                self.err(f.faults[r.fault as usize].span.clone(), format!("fault[{}]", r.fault), message)
                    .hint("longer mtbf and mttr, or a shorter duration");
            }
        }
        Spec {
            name: run.name.clone(),
            description: run.description.clone(),
            duration_ns: times.duration_ns,
            warmup_ns: times.warmup_ns,
            drain_ns: times.drain_ns,
            bucket_ns: times.bucket_ns,
            seed: run.seed.unwrap_or(1),
            max_events,
            max_in_flight_requests,
            max_in_flight_jobs,
            max_memory_bytes: max_memory_mb * 1_000_000,
            max_output_bytes: max_output_mb * 1_000_000,
            services,
            workloads,
            calls,
            plans,
            fault_names: f
                .faults
                .iter()
                .enumerate()
                .map(|(i, s)| s.value.name.as_ref().map_or(format!("fault[{i}]"), |n| n.value.clone()))
                .collect(),
            faults,
            trigger,
            type_names,
            data_files: std::mem::take(&mut self.data_files),
            routes: layout.as_ref().map_or_else(Vec::new, |l| l.routes.clone()),
            zonal_shift,
            analysis,
            noise,
            hypotheses,
            stop_conditions,
            random_faults: std::mem::take(&mut self.random_faults),
            topology: layout.map(|l| l.topology),
        }
    }

    /// Each workload's first global customer id: workloads naming one `population` share
    /// their ids (and must agree on `customers`); the others follow one another.
    fn populations(&mut self, sections: &[Loc<WorkloadSection>], workloads: &mut [WorkloadSpec]) {
        let mut firsts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut next: u64 = 0;
        for (section, w) in sections.iter().zip(workloads.iter_mut()) {
            let key = match &section.value.population {
                Some(p) => format!("population {}", p.value),
                None => format!("workload {}", w.name),
            };
            let (first, customers) = *firsts.entry(key).or_insert_with(|| {
                let first = next;
                next = next.saturating_add(w.customers);
                (first, w.customers)
            });
            // (Two workloads of one name are an error already, found where names are checked.)
            if let Some(p) = section.value.population.as_ref().filter(|_| customers != w.customers) {
                let field = format!("workload.{}.population", w.name);
                let message = format!(
                    "population `{}` has {customers} customers in an earlier workload, not {}",
                    p.value, w.customers
                );
                self.err(p.span.clone(), field, message).hint("workloads of one population have the same customers");
            }
            w.first_customer = first.min(u32::MAX as u64) as u32;
        }
        if next > MAX_CUSTOMERS {
            let span = sections.first().map_or(0..0, |s| s.span.clone());
            let message = format!(
                "the workloads have {} customers together, more than {}",
                group_digits(next),
                group_digits(MAX_CUSTOMERS)
            );
            self.err(span, "workload.customers", message)
                .hint("customers are partition keys: a sample of them behaves as all of them");
        }
    }

    /// By service: its operations' names (unique) and indices; `default` for a service that
    /// names none.
    fn operation_names(&mut self, services: &[Loc<ServiceSection>]) -> Vec<BTreeMap<String, u32>> {
        services
            .iter()
            .map(|s| {
                let s = &s.value;
                if s.operations.is_empty() {
                    return BTreeMap::from([("default".to_string(), 0)]);
                }
                let what = format!("service.{}.operation", s.name.value);
                self.unique_names(s.operations.iter().map(|o| &o.value.name), &what)
            })
            .collect()
    }

    /// `[scenario]`'s duration, warm-up and bucket width.
    fn times(&mut self, run: &RunSection) -> Times {
        let duration_ns = run.duration.value.ns();
        if duration_ns == 0 {
            self.err(run.duration.span.clone(), "scenario.duration", "duration must be positive")
                .hint("e.g. duration = \"10m\"");
        }
        let warmup_ns = run.warmup.as_ref().map_or(0, |w| w.value.ns());
        if let Some(w) = &run.warmup {
            if w.value.ns() >= duration_ns && duration_ns > 0 {
                self.err(w.span.clone(), "scenario.warmup", "warmup must be shorter than duration")
                    .hint("nothing would be measured; shorten warmup or lengthen duration");
            }
        }
        let drain_ns = run.drain.map_or(60 * NS_PER_S, Duration::ns);
        // The series is bounded in bytes by `limits.max_output_mb` (see `estimate`); the
        // default bucket widens for long runs.
        let bucket_ns = match &run.bucket {
            None => crate::estimate::default_bucket_ns(duration_ns, drain_ns),
            Some(b) if b.value.ns() == 0 => {
                self.err(b.span.clone(), "scenario.bucket", "bucket must be positive").hint("e.g. bucket = \"1s\"");
                NS_PER_S
            }
            Some(b) => b.value.ns(),
        };
        Times { duration_ns, warmup_ns, drain_ns, bucket_ns }
    }

    /// A `[limits]` count: from 1 to `max`, `default` if absent.
    fn limit(&mut self, l: &Option<Loc<u64>>, name: &str, max: u64, default: u64) -> u64 {
        match l {
            Some(v) if v.value == 0 || v.value > max => {
                let message = format!("{name} must be from 1 to {}", crate::group_digits(max));
                self.err(v.span.clone(), format!("limits.{name}"), message)
                    .hint(format!("leave it out for the default, {}", crate::group_digits(default)));
                default
            }
            Some(v) => v.value,
            None => default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::key_path;

    #[test]
    fn a_key_is_named_by_its_table_and_the_inline_tables_it_is_in() {
        let src = "[scenario]\nname = \"x\"\n\n[[service.operation.call]]\nto = \"db\"\nretry = { budget = { kind = \"grpc\", max_tokens = \"x\" }, base = \"1s\" }\n";
        let at = |needle: &str| src.find(needle).unwrap();
        assert_eq!(key_path(src, at("\"x\" }"), "max_tokens"), "service.operation.call.retry.budget.max_tokens");
        assert_eq!(key_path(src, at("\"1s\""), "base"), "service.operation.call.retry.base");
        assert_eq!(key_path(src, at("\"db\""), "to"), "service.operation.call.to");
        assert_eq!(key_path(src, at("\"x\"\n"), "name"), "scenario.name");
    }
}
