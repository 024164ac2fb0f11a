//! What the two fuzzers share: a small seeded random generator, the seed corpus (every
//! scenario the repository ships), and a mutator that knows a little TOML.
//!
//! The mutator works on bytes and on lines: it replaces values with extremes (0, -1, 1e308,
//! u64::MAX, NaN, "0ms", "999999999h"...), swaps, renames, deletes and duplicates keys, lines
//! and whole tables, splices two inputs, truncates, and inserts invalid UTF-8 and odd
//! characters. It draws replacement keys, strings and table headers from the seeds, so a
//! mutant often stays valid TOML with a plausible key in a plausible place: that is where the
//! compiler's semantic checks, and the model behind them, get exercised.
//!
//! Everything is deterministic given the generator's seed: the same seed and input index give
//! the same mutant on every machine.

use std::path::{Path, PathBuf};

/// The repository root (this crate lives in `fuzz/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("fuzz/ has a parent").to_path_buf()
}

// ---------------------------------------------------------------------------------------
// Random numbers

/// SplitMix64: small, fast, and good enough to pick mutations.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The generator for input `index` of a run seeded `seed`: each input can be rebuilt
    /// alone.
    pub fn for_input(seed: u64, index: u64) -> Self {
        let mut r = Rng(seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r.next_u64();
        r
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    /// True with probability 1/n.
    pub fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

// ---------------------------------------------------------------------------------------
// The seed corpus

/// One seed: where it came from and its bytes.
#[derive(Clone, Debug)]
pub struct Seed {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The folders whose `*.toml` files seed the fuzzers by default, relative to the repository
/// root: the shipped scenarios, the test fixtures, the benchmark scenarios, and
/// `fuzz/seeds/` (inputs added by hand, such as fixed crashes).
pub const SEED_DIRS: &[&str] = &["scenarios", "tests/fixtures", "benches/scenarios", "fuzz/seeds"];

/// The `*.toml` files of `dirs` (missing folders are skipped), sorted by path so that the
/// corpus, and so every mutant, is the same on every machine.
pub fn load_seeds(dirs: &[PathBuf]) -> Vec<Seed> {
    let mut paths = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else { continue };
        paths.extend(
            entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "toml")),
        );
    }
    paths.sort();
    paths
        .into_iter()
        .filter_map(|p| Some(Seed { bytes: std::fs::read(&p).ok()?, name: p.display().to_string() }))
        .collect()
}

/// The default seed folders, as absolute paths.
pub fn default_seed_dirs() -> Vec<PathBuf> {
    let root = repo_root();
    SEED_DIRS.iter().map(|d| root.join(d)).collect()
}

// ---------------------------------------------------------------------------------------
// Values worth trying

/// Numbers at and past the edges of every type the format uses.
pub const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "2",
    "3",
    "5",
    "99",
    "100",
    "101",
    "255",
    "256",
    "65535",
    "65536",
    "100000",
    "100001",
    "1000000",
    "2147483647",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "-1e308",
    "1e-308",
    "5e-324",
    "1e300",
    "1e-300",
    "nan",
    "-nan",
    "inf",
    "-inf",
    "+inf",
    "0.0",
    "-0.0",
    "0.5",
    "0.999999999",
    "1.0000001",
    "99.999999",
    "100.0000001",
    "0.000000001",
    "1_000",
    "0x10",
    "0o7",
    "0b1",
    "3.0e1",
];

/// Durations (and strings that look like them) at and past every limit.
pub const DURATIONS: &[&str] = &[
    "\"0\"",
    "\"0ns\"",
    "\"1ns\"",
    "\"0ms\"",
    "\"1us\"",
    "\"1ms\"",
    "\"1s\"",
    "\"59m\"",
    "\"24h\"",
    "\"999999999h\"",
    "\"999999999d\"",
    "\"10000d\"",
    "\"1e30s\"",
    "\"1e9h\"",
    "\"18446744073709551615ns\"",
    "\"18446744073709551616ns\"",
    "\"1000000000000000000ns\"",
    "\"1000000000000000001ns\"",
    "\"11574d\"",
    "\"-1s\"",
    "\"1.5s\"",
    "\"0.0000000001s\"",
    "\"0.5ns\"",
    "\"nan s\"",
    "\"nans\"",
    "\"infs\"",
    "\"1_000_000d\"",
    "\"_1s\"",
    "\"1__0ms\"",
    "\"1.s\"",
    "\".5s\"",
    "\"1e3ms\"",
    "\"\"",
    "\"ms\"",
    "\" 1s\"",
    "\"1 s\"",
    "\"1S\"",
    "\"1ms1s\"",
    "\"1y\"",
    "\"é\"",
    "\"1ms\u{202e}\"",
];

/// Other values of every TOML kind.
pub const OTHERS: &[&str] = &[
    "[]",
    "{}",
    "[{}]",
    "[[]]",
    "true",
    "false",
    "[1, 2, 3]",
    "[0, 0]",
    "[\"get\", \"get\"]",
    "{ dist = \"constant\", value = \"1ms\" }",
    "{ dist = \"exponential\", mean = \"0ns\" }",
    "{ process = \"poisson\", rate_per_s = 1e308 }",
    "1979-05-27T07:32:00Z",
    "'''x'''",
    "\"\"\"\n\"\"\"",
    "'\\'",
    "\"\\u0000\"",
    "\"\\uD800\"",
    "\"a\\nb\"",
];

/// Characters and bytes that break assumptions about text: invalid UTF-8, multi-byte
/// characters (byte offsets that are not character boundaries), controls, quotes.
pub const ODD_BYTES: &[&[u8]] = &[
    b"\xff",
    b"\xc3",
    b"\xe2\x82",
    b"\xf0\x9f\x92",
    b"\xed\xa0\x80",
    "é".as_bytes(),
    "💥".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{feff}".as_bytes(),
    "\u{0}".as_bytes(),
    b"\r",
    b"\r\n",
    b"\t",
    b"\"",
    b"'",
    b"\\",
    b"#",
    b"=",
    b"[",
    b"]",
    b"{",
    b"}",
    b",",
    b".",
    b"\n[[",
];

// ---------------------------------------------------------------------------------------
// The mutator

/// Mutates scenario text. Built from the seeds, whose keys, quoted strings and table headers
/// it reuses.
#[derive(Clone, Debug)]
pub struct Mutator {
    keys: Vec<String>,
    strings: Vec<String>,
    headers: Vec<String>,
    lines: Vec<String>,
    /// The largest mutant, in bytes.
    pub max_len: usize,
}

/// The identifier before `=` at the start of `s` (after spaces), if any.
fn leading_key(s: &str) -> Option<&str> {
    let t = s.trim_start();
    let end = t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))?;
    (end > 0 && t[end..].trim_start().starts_with('=')).then(|| &t[..end])
}

impl Mutator {
    pub fn new(seeds: &[Seed]) -> Self {
        let mut keys = std::collections::BTreeSet::new();
        let mut strings = std::collections::BTreeSet::new();
        let mut headers = std::collections::BTreeSet::new();
        let mut lines = std::collections::BTreeSet::new();
        for seed in seeds {
            let text = String::from_utf8_lossy(&seed.bytes);
            for line in text.lines() {
                let t = line.trim();
                if t.starts_with('[') && !t.contains('=') {
                    headers.insert(t.to_string());
                    continue;
                }
                if t.starts_with('#') || t.is_empty() {
                    continue;
                }
                if leading_key(t).is_some() {
                    lines.insert(t.to_string());
                }
                // Keys: at the start of the line and after `{` or `,` in inline tables.
                for (i, _) in t.match_indices('=') {
                    let before = t[..i].trim_end();
                    // The trailing run of key characters (ASCII, so its start is a char boundary).
                    let len = before
                        .bytes()
                        .rev()
                        .take_while(|&b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                        .count();
                    let key = &before[before.len() - len..];
                    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                        keys.insert(key.to_string());
                    }
                }
                for (n, part) in t.split('"').enumerate() {
                    if n % 2 == 1 && part.len() < 40 {
                        strings.insert(format!("\"{part}\""));
                    }
                }
            }
        }
        Mutator {
            keys: keys.into_iter().collect(),
            strings: strings.into_iter().collect(),
            headers: headers.into_iter().collect(),
            lines: lines.into_iter().collect(),
            max_len: 64 * 1024,
        }
    }

    /// A replacement value: an extreme number, duration or other value, or a string from
    /// the seeds.
    fn value(&self, rng: &mut Rng) -> String {
        match rng.below(8) {
            0..=2 => rng.pick(NUMBERS).to_string(),
            3..=4 => rng.pick(DURATIONS).to_string(),
            5 => rng.pick(OTHERS).to_string(),
            _ if !self.strings.is_empty() => rng.pick(&self.strings).clone(),
            _ => rng.pick(NUMBERS).to_string(),
        }
    }

    /// `input` mutated by one or more stacked mutations (one half of the time, two a quarter,
    /// up to five); `other` is a second input for splices. At most `max_len` bytes.
    pub fn mutate(&self, rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut out = input.to_vec();
        let n = 1 + (rng.next_u64() | 1 << 4).trailing_zeros();
        for _ in 0..n {
            out = self.mutate_once(rng, &out, other);
            out.truncate(self.max_len);
        }
        out
    }

    fn mutate_once(&self, rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
        let text = String::from_utf8_lossy(input);
        let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
        let nl = lines.len();
        let i = rng.below(nl);
        match rng.below(28) {
            // The value of a `key = value` line.
            0 | 1 => {
                let keyed: Vec<usize> = (0..nl).filter(|&k| leading_key(&lines[k]).is_some()).collect();
                if !keyed.is_empty() {
                    let k = *rng.pick(&keyed);
                    let key = leading_key(&lines[k]).unwrap().to_string();
                    lines[k] = format!("{key} = {}", self.value(rng));
                } else if let Some(l) = lines.get_mut(i) {
                    *l = format!("{} = {}", rng.pick(&self.keys), self.value(rng));
                }
            }
            // A value inside an inline table: after `= `, up to `,` or `}`.
            2 | 3 => {
                let l = &lines[i];
                let spots: Vec<usize> = l.match_indices("= ").map(|(p, _)| p + 2).collect();
                if !spots.is_empty() {
                    let start = *rng.pick(&spots);
                    let rest = &l[start..];
                    let end = start + rest.find([',', '}']).unwrap_or(rest.len());
                    lines[i] = format!("{}{}{}", &l[..start], self.value(rng), &l[end..]);
                }
            }
            // A number token anywhere.
            4 => {
                let v = rng_number(rng);
                replace_token(&mut lines, rng, |c| c.is_ascii_digit() || c == '.' || c == '_', v);
            }
            // A quoted string: another from the seeds, or a duration.
            5 => {
                let l = &lines[i];
                let quotes: Vec<usize> = l.match_indices('"').map(|(p, _)| p).collect();
                if quotes.len() >= 2 {
                    let q = rng.below(quotes.len() / 2) * 2;
                    let (a, b) = (quotes[q], quotes[q + 1] + 1);
                    let v = if rng.one_in(2) { rng.pick(DURATIONS).to_string() } else { self.value(rng) };
                    lines[i] = format!("{}{v}{}", &l[..a], &l[b..]);
                }
            }
            // A duration's unit.
            6 => {
                let units = ["ns", "us", "ms", "s", "m", "h", "d", "", "x", "ms ", "µs", "S"];
                let l = &lines[i];
                if let Some(p) = l.find(|c: char| c.is_ascii_digit()) {
                    let after =
                        p + l[p..].find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(l.len() - p);
                    let unit_end =
                        after + l[after..].find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(l.len() - after);
                    lines[i] = format!("{}{}{}", &l[..after], rng.pick(&units), &l[unit_end..]);
                }
            }
            // Delete, duplicate, move, swap lines.
            7 => {
                lines.remove(i);
            }
            8 => {
                let l = lines[i].clone();
                let times = if rng.one_in(8) { 2 + rng.below(50) } else { 1 };
                let at = rng.below(nl + 1);
                for _ in 0..times {
                    lines.insert(at, l.clone());
                }
            }
            9 => {
                let j = rng.below(nl);
                lines.swap(i, j);
            }
            // Delete or duplicate a table (a header and its lines).
            10 | 11 => {
                let headers: Vec<usize> = (0..nl).filter(|&k| lines[k].trim_start().starts_with('[')).collect();
                if !headers.is_empty() {
                    let h = rng.below(headers.len());
                    let (start, end) = (headers[h], headers.get(h + 1).copied().unwrap_or(nl));
                    let table: Vec<String> = lines[start..end].to_vec();
                    lines.splice(start..end, std::iter::empty());
                    if rng.one_in(2) {
                        // Duplicated (put back, and again elsewhere) rather than deleted.
                        let at = start.min(lines.len());
                        lines.splice(at..at, table.iter().cloned());
                        let at = rng.below(lines.len() + 1);
                        lines.splice(at..at, table);
                    }
                }
            }
            // Rename a key, or swap the keys of two lines.
            12 => {
                if let Some(key) = leading_key(&lines[i]).map(str::to_string) {
                    let new = rng.pick(&self.keys).clone();
                    lines[i] = lines[i].replacen(&key, &new, 1);
                }
            }
            13 => {
                let j = rng.below(nl);
                if let (Some(a), Some(b)) =
                    (leading_key(&lines[i]).map(str::to_string), leading_key(&lines[j]).map(str::to_string))
                {
                    lines[i] = lines[i].replacen(&a, &b, 1);
                    lines[j] = lines[j].replacen(&b, &a, 1);
                }
            }
            // Insert a line or a header from the seeds, or a new `key = value`.
            14 => {
                let new = match rng.below(3) {
                    0 if !self.lines.is_empty() => rng.pick(&self.lines).clone(),
                    1 if !self.headers.is_empty() => rng.pick(&self.headers).clone(),
                    _ => format!("{} = {}", rng.pick(&self.keys), self.value(rng)),
                };
                lines.insert(rng.below(nl + 1), new);
            }
            // Splice with the other input: a prefix of one and a suffix of the other, or a
            // table of the other inserted.
            15 | 16 => {
                let other_text = String::from_utf8_lossy(other);
                let theirs: Vec<&str> = other_text.split('\n').collect();
                let j = rng.below(theirs.len());
                if rng.one_in(2) {
                    lines.truncate(i);
                    lines.extend(theirs[j..].iter().map(|s| s.to_string()));
                } else {
                    let end = (j + 1 + rng.below(12)).min(theirs.len());
                    let at = rng.below(nl + 1);
                    lines.splice(at..at, theirs[j..end].iter().map(|s| s.to_string()));
                }
            }
            // Byte-level: truncate, flip, insert odd bytes, delete a range.
            17 => return input[..rng.below(input.len() + 1)].to_vec(),
            18 => {
                let mut out = input.to_vec();
                if !out.is_empty() {
                    let p = rng.below(out.len());
                    out[p] ^= 1 << rng.below(8);
                }
                return out;
            }
            19 => {
                let mut out = input.to_vec();
                let p = rng.below(out.len() + 1);
                let odd = rng.pick(ODD_BYTES);
                out.splice(p..p, odd.iter().copied());
                return out;
            }
            20 => {
                let mut out = input.to_vec();
                if !out.is_empty() {
                    let p = rng.below(out.len());
                    let len = 1 + rng.below(16.min(out.len() - p));
                    out.drain(p..p + len);
                }
                return out;
            }
            // A gentle change of a number (which often keeps the scenario valid, so that the
            // model behind the compiler gets exercised): doubled, halved, one more or less.
            22.. => {
                let l = &lines[i];
                let starts: Vec<usize> = l
                    .char_indices()
                    .filter(|&(p, c)| {
                        c.is_ascii_digit() && (p == 0 || !l[..p].ends_with(|c: char| c.is_ascii_digit() || c == '.'))
                    })
                    .map(|(p, _)| p)
                    .collect();
                if !starts.is_empty() {
                    let start = *rng.pick(&starts);
                    let end =
                        start + l[start..].find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(l.len() - start);
                    if let Ok(x) = l[start..end].parse::<f64>() {
                        let y = match rng.below(6) {
                            0 => x * 2.0,
                            1 => x / 2.0,
                            2 => x + 1.0,
                            3 => (x - 1.0).max(0.0),
                            4 => x * 10.0,
                            _ => x / 10.0,
                        };
                        let y = if l[start..end].contains('.') || y.fract() != 0.0 {
                            format!("{y}")
                        } else {
                            format!("{}", y as u64)
                        };
                        lines[i] = format!("{}{y}{}", &l[..start], &l[end..]);
                    }
                }
            }
            // Set a random byte.
            _ => {
                let mut out = input.to_vec();
                if !out.is_empty() {
                    let p = rng.below(out.len());
                    out[p] = rng.next_u64() as u8;
                }
                return out;
            }
        }
        lines.join("\n").into_bytes()
    }
}

/// A number: an extreme one, or a random one of a random size.
fn rng_number(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 | 1 => rng.pick(NUMBERS).to_string(),
        2 => (rng.next_u64() >> rng.below(64)).to_string(),
        _ => format!("{}", f64::from_bits(rng.next_u64() >> 2) * if rng.one_in(2) { -1.0 } else { 1.0 }),
    }
}

/// Replaces one run of characters matching `is_part` (that starts with a digit) on a random
/// line with `with`.
fn replace_token(lines: &mut [String], rng: &mut Rng, is_part: fn(char) -> bool, with: String) {
    let candidates: Vec<usize> =
        (0..lines.len()).filter(|&k| lines[k].contains(|c: char| c.is_ascii_digit())).collect();
    if candidates.is_empty() {
        return;
    }
    let k = candidates[rng.below(candidates.len())];
    let l = &lines[k];
    let starts: Vec<usize> = l
        .char_indices()
        .filter(|&(p, c)| c.is_ascii_digit() && (p == 0 || !l[..p].ends_with(is_part)))
        .map(|(p, _)| p)
        .collect();
    if starts.is_empty() {
        return;
    }
    let start = starts[rng.below(starts.len())];
    let end = start + l[start..].find(|c: char| !is_part(c)).unwrap_or(l.len() - start);
    lines[k] = format!("{}{with}{}", &l[..start], &l[end..]);
}

/// `text` with a `[limits]` table that caps the run at `max_events` events (any other
/// `max_events` line removed): what the command-line harness runs, so each run is short
/// whatever the mutant's duration and rates.
pub fn cap_events(text: &str, max_events: u64) -> String {
    let cap = format!("max_events = {max_events}");
    let mut out: Vec<String> = Vec::new();
    let mut capped = false;
    for line in text.split('\n') {
        if leading_key(line) == Some("max_events") {
            continue;
        }
        out.push(line.to_string());
        if !capped && line.trim() == "[limits]" {
            out.push(cap.clone());
            capped = true;
        }
    }
    let mut text = out.join("\n");
    if !capped {
        text.push_str(&format!("\n[limits]\n{cap}\n"));
    }
    text
}

/// A short printable digest of `bytes` (FNV-1a), to name saved inputs.
pub fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

// ---------------------------------------------------------------------------------------
// Command-line arguments

/// `--name value` pairs and `--flag`s, parsed by hand (the harnesses need no more).
pub struct Args {
    pairs: Vec<(String, Option<String>)>,
}

impl Args {
    /// Parses `std::env::args()`; `flags` take no value; `lists` take every value up to the
    /// next option (`--replay a.toml b.toml`).
    pub fn parse(flags: &[&str], lists: &[&str]) -> Result<Args, String> {
        let mut pairs: Vec<(String, Option<String>)> = Vec::new();
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let Some(name) = a.strip_prefix("--") else {
                match pairs.last() {
                    Some((last, Some(_))) if lists.contains(&last.as_str()) => {
                        let last = last.clone();
                        pairs.push((last, Some(a)));
                        continue;
                    }
                    _ => return Err(format!("unexpected argument `{a}`")),
                }
            };
            if let Some((n, v)) = name.split_once('=') {
                pairs.push((n.to_string(), Some(v.to_string())));
            } else if flags.contains(&name) {
                pairs.push((name.to_string(), None));
            } else {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                pairs.push((name.to_string(), Some(v)));
            }
        }
        Ok(Args { pairs })
    }

    pub fn flag(&self, name: &str) -> bool {
        self.pairs.iter().any(|(n, _)| n == name)
    }

    /// Every value given for `--name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs.iter().filter(|(n, _)| n == name).filter_map(|(_, v)| v.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.all(name).pop()
    }

    pub fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.replace('_', "").parse().map_err(|_| format!("--{name} {v}: not a number")),
        }
    }

    /// Names given that are not in `known`.
    pub fn unknown(&self, known: &[&str]) -> Vec<String> {
        self.pairs.iter().map(|(n, _)| n.clone()).filter(|n| !known.contains(&n.as_str())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds() -> Vec<Seed> {
        let s = load_seeds(&default_seed_dirs());
        assert!(s.len() >= 18, "{} seeds", s.len());
        s
    }

    #[test]
    fn mutants_are_deterministic_and_varied() {
        let seeds = seeds();
        let m = Mutator::new(&seeds);
        let make = |seed: u64| {
            (0..500u64)
                .map(|i| {
                    let mut rng = Rng::for_input(seed, i);
                    let a = rng.pick(&seeds).bytes.clone();
                    let b = rng.pick(&seeds).bytes.clone();
                    m.mutate(&mut rng, &a, &b)
                })
                .collect::<Vec<_>>()
        };
        let (x, y, z) = (make(1), make(1), make(2));
        assert_eq!(x, y, "the same seed gives the same mutants");
        assert_ne!(x, z);
        let distinct: std::collections::BTreeSet<_> = x.iter().collect();
        assert!(distinct.len() > 450, "{} distinct of 500", distinct.len());
        // Some stay valid scenarios, most do not.
        let valid = x.iter().filter(|b| cellsim_models::compile("m.toml", &String::from_utf8_lossy(b)).is_ok()).count();
        assert!((10..400).contains(&valid), "{valid} of 500 compile");
        assert!(x.iter().all(|b| b.len() <= m.max_len));
    }

    #[test]
    fn the_mutator_knows_the_format_keys() {
        let m = Mutator::new(&seeds());
        for k in ["max_attempts", "rate_per_s", "workers", "budget", "load_percent", "queue_capacity"] {
            assert!(m.keys.iter().any(|x| x == k), "{k} missing from {:?}", m.keys);
        }
        assert!(m.headers.iter().any(|h| h == "[[service.call]]"));
    }

    #[test]
    fn cap_events_replaces_or_adds_the_limit() {
        let t = "[scenario]\nname = \"x\"\n\n[limits]\nmax_events = 5\nmax_in_flight_jobs = 3\n";
        let c = cap_events(t, 100);
        assert_eq!(c.matches("max_events").count(), 1);
        assert!(c.contains("[limits]\nmax_events = 100\nmax_in_flight_jobs = 3"), "{c}");
        let c = cap_events("[scenario]\nname = \"x\"", 7);
        assert!(c.ends_with("\n[limits]\nmax_events = 7\n"), "{c}");
        let q = include_str!("../../scenarios/quickstart.toml");
        let spec = cellsim_models::compile("q.toml", &cap_events(q, 1234)).unwrap();
        assert_eq!(spec.max_events, 1234);
    }
}
