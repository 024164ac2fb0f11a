//! Errors in a scenario file, located at file, line and column, with a hint.

use std::fmt;
use std::ops::Range;

/// One thing wrong with a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    /// 1-based; 0 when the error has no place in the file (it could not be read).
    pub line: usize,
    pub column: usize,
    /// The key the error is about, as a path (`service.front.call[0].to`), when known.
    pub field: Option<String>,
    pub message: String,
    pub hint: Option<String>,
    /// The offending line of the file, for display.
    pub source_line: Option<String>,
    /// Characters to underline, from `column`.
    pub width: usize,
}

impl ScenarioError {
    /// An error at byte range `span` of `src`.
    pub fn at(file: &str, src: &str, span: Range<usize>, message: impl Into<String>) -> Self {
        let start = span.start.min(src.len());
        let line_start = src[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = src[start..].find('\n').map_or(src.len(), |i| start + i);
        let line = src[..start].matches('\n').count() + 1;
        let column = src[line_start..start].chars().count() + 1;
        let width = src[start..span.end.min(line_end).max(start)].chars().count().max(1);
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            field: None,
            message: message.into(),
            hint: None,
            source_line: Some(src[line_start..line_end].trim_end_matches('\r').to_string()),
            width,
        }
    }

    /// An error about the file as a whole (unreadable, empty).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        ScenarioError {
            file: file.to_string(),
            line: 0,
            column: 0,
            field: None,
            message: message.into(),
            hint: None,
            source_line: None,
            width: 0,
        }
    }

    pub fn field(mut self, path: impl Into<String>) -> Self {
        self.field = Some(path.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "error: {}: {}", self.file, self.message)?;
        } else {
            write!(f, "error: {}:{}:{}: ", self.file, self.line, self.column)?;
            if let Some(field) = &self.field {
                write!(f, "{field}: ")?;
            }
            write!(f, "{}", self.message)?;
        }
        if let Some(src) = &self.source_line {
            let gutter = self.line.to_string().len();
            write!(
                f,
                "\n {:gutter$} |\n {} | {}\n {:gutter$} | {}{}",
                "",
                self.line,
                src,
                "",
                " ".repeat(self.column - 1),
                "^".repeat(self.width)
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo: within
/// a Damerau-Levenshtein distance of one edit per three letters (transpositions count once),
/// or, failing that, a Jaro-Winkler similarity above 0.85.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let allowed = (word.chars().count() / 3).max(1);
    let scored: Vec<(usize, f64, &str)> = candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), strsim::jaro_winkler(word, c), c))
        .collect();
    let by_edits = scored.iter().filter(|s| s.0 <= allowed).min_by_key(|s| s.0);
    let by_similarity = || scored.iter().filter(|s| s.1 > 0.85).max_by(|a, b| a.1.total_cmp(&b.1));
    by_edits.or_else(by_similarity).map(|s| s.2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_line_and_column_and_underlines() {
        let src = "[scenario]\nname = \"x\"\nwrokers = 8\n";
        let e = ScenarioError::at("f.toml", src, 22..29, "unknown field `wrokers`").hint("did you mean `workers`?");
        assert_eq!((e.line, e.column, e.width), (3, 1, 7));
        assert_eq!(
            e.to_string(),
            "error: f.toml:3:1: unknown field `wrokers`\n   |\n 3 | wrokers = 8\n   | ^^^^^^^\n  hint: did you mean `workers`?"
        );
    }

    #[test]
    fn suggests_close_names_only() {
        assert_eq!(did_you_mean("wrokers", ["name", "workers", "instances"]), Some("workers"));
        assert_eq!(did_you_mean("zzz", ["name", "workers"]), None);
        assert_eq!(did_you_mean("gte", ["get", "put"]), Some("get"));
        assert_eq!(did_you_mean("servce", ["scenario", "service", "workload"]), Some("service"));
        assert_eq!(did_you_mean("db", ["front", "mid"]), None);
    }
}
