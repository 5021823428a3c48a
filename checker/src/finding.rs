//! What a check reports: [`Finding`] and [`Severity`].

use unicode_width::UnicodeWidthStr;

use crate::rules::Rule;
pub use crate::severity::Severity;

/// One problem found in one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: Rule,
    /// After the configuration's severity overrides.
    pub severity: Severity,
    /// The input as named on the command line or found by walking (`<stdin>` for `-`).
    pub path: String,
    /// 1-based position of the offending value (for a policy embedded as a string: of the
    /// attribute holding it).
    pub line: u32,
    pub column: u32,
    /// 1-based position just past the value's first line segment, for underlining.
    pub end_line: u32,
    pub end_column: u32,
    /// Terraform resource address, or the IAM entity and policy name in CLI output.
    pub resource: Option<String>,
    /// 0-based index of the policy statement, when the finding is about one.
    pub statement: Option<usize>,
    /// The statement's `Sid`, if it has one (config ignores can match it).
    pub sid: Option<String>,
    pub message: String,
    /// Identifies the finding independently of formatting and position (see `baseline`).
    pub fingerprint: String,
    /// The source line around the value, when the caller asked for code frames.
    pub snippet: Option<Snippet>,
}

/// A window of the source line for a code frame (long lines, such as a minified plan, are cut
/// around the value and marked with `…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    /// Where to underline, in terminal columns of `text` (a CJK character takes two).
    pub start: usize,
    pub len: usize,
}

impl Snippet {
    /// Cuts `line` to about `width` characters around the value at bytes `start..end` of the
    /// line. Works in time proportional to `width`, not to the line: a minified plan is one line.
    pub fn new(line: &str, start: usize, end: usize, width: usize) -> Snippet {
        let floor = |mut i: usize| {
            i = i.min(line.len());
            while !line.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        let (start, end) = (floor(start), floor(end.max(start)));
        let short =
            line.len() <= width || (line.len() <= 4 * width && line.chars().count() <= width);
        // The underlined part: the whole value, or its first width/2 characters.
        let value_end = if short {
            end
        } else {
            line[start..end]
                .char_indices()
                .nth(width / 2)
                .map_or(end, |(i, _)| start + i)
        };
        let (from, to) = if short {
            (0, line.len())
        } else {
            let from = line[..start]
                .char_indices()
                .rev()
                .take(width / 4)
                .last()
                .map_or(start, |(i, _)| i);
            let to = line[value_end..]
                .char_indices()
                .nth(width / 4)
                .map_or(line.len(), |(i, _)| value_end + i);
            (from, to)
        };
        let mut text = String::new();
        if from > 0 {
            text.push('…');
        }
        text.extend(
            line[from..to]
                .chars()
                .map(|c| if c == '\t' { ' ' } else { c }),
        );
        if to < line.len() {
            text.push('…');
        }
        // Columns, not characters: the underline must sit under the value on a terminal.
        let columns = |s: &str| UnicodeWidthStr::width(s.replace('\t', " ").as_str());
        Snippet {
            text,
            start: columns(&line[from..start]) + usize::from(from > 0),
            len: columns(&line[start..value_end]).max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Snippet;

    /// Regression: the underline counted characters, so it sat left of a value that followed
    /// double-width (CJK) text.
    #[test]
    fn underlines_count_terminal_columns() {
        let line = r#"{"Sid": "管理者のアクセス", "Resource": "*"}"#;
        let at = line.rfind('"').unwrap() - 2;
        let s = Snippet::new(line, at, at + 3, 100);
        let before = &line[..at];
        assert_eq!(
            s.start,
            before.chars().count() + "管理者のアクセス".chars().count()
        );
        let wide = Snippet::new("\"資源\"", 1, "\"資源".len(), 100);
        assert_eq!((wide.start, wide.len), (1, 4));
    }

    #[test]
    fn snippets_cut_long_lines_around_the_value() {
        let short = Snippet::new("  \"Resource\": \"*\"", 14, 17, 100);
        assert_eq!(
            (short.text.as_str(), short.start, short.len),
            ("  \"Resource\": \"*\"", 14, 3)
        );
        let long = format!("{}\"*\"{}", "é".repeat(500), "b".repeat(500));
        let at = long.find('"').unwrap();
        let s = Snippet::new(&long, at, at + 3, 40);
        assert_eq!(s.text.chars().nth(s.start), Some('"'));
        assert_eq!(s.len, 3);
        assert!(s.text.starts_with('…') && s.text.ends_with('…'));
        assert!(s.text.chars().count() < 50);
        // At the very end of the line, and a value running past the window.
        let s = Snippet::new(&long, long.len(), long.len(), 40);
        assert_eq!((s.len, s.text.ends_with('…')), (1, false));
        let s = Snippet::new(&long, 0, long.len(), 40);
        assert_eq!((s.start, s.len), (0, 20));
    }
}
