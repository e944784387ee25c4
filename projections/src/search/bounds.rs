//! What a query may be before the parser sees it.
//!
//! Tantivy 0.24's query grammar re-parses a bracketed group once per level on the way back out
//! (quickwit-oss/tantivy#2498, fixed upstream by #2905 in 0.27): its time doubles with each
//! level of nesting, so 40 levels in 81 characters would pin a core for days, and a deep enough
//! group overflows the parser's stack even where parsing is linear. Every query is therefore
//! measured here first, in one linear pass, and refused with a 400 past the bounds: a person's
//! search nests a few levels and names a few dozen words; nothing past that is a search.
//!
//! Range and set syntax (`[a TO b]`, `{…}`, `IN […]`) is not part of the documented language
//! and a range over a text field walks the whole term dictionary before any deadline can stop
//! it, so brackets and braces are read as plain word separators ([`plain_brackets`]).

use super::SearchError;

/// Nesting of parentheses, at most: 2⁸ re-parses of a ≤ 500-character query is well under a
/// millisecond with the 0.24 grammar.
pub const MAX_DEPTH: usize = 8;
/// Words, phrases and operators, at most.
pub const MAX_CLAUSES: usize = 64;
/// Bare `word*` prefixes, at most: each walks the term dictionary.
pub const MAX_PREFIXES: usize = 4;

/// Refuses a query past the bounds, saying which and by how much.
pub fn check(text: &str) -> Result<(), SearchError> {
    let (mut depth, mut deepest, mut quoted) = (0usize, 0usize, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '(' if !quoted => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if deepest > MAX_DEPTH {
        return Err(SearchError::BadQuery(format!(
            "the query nests parentheses {deepest} deep; at most {MAX_DEPTH} levels are searched"
        )));
    }
    let pieces = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|p| !p.is_empty());
    let (mut clauses, mut prefixes) = (0usize, 0usize);
    for p in pieces {
        clauses += 1;
        prefixes += usize::from(p.len() > 1 && p.ends_with('*') && !p.starts_with('"'));
    }
    if clauses > MAX_CLAUSES {
        return Err(SearchError::BadQuery(format!(
            "the query has {clauses} words and operators; at most {MAX_CLAUSES} are searched"
        )));
    }
    if prefixes > MAX_PREFIXES {
        return Err(SearchError::BadQuery(format!(
            "the query has {prefixes} prefixes (word*); at most {MAX_PREFIXES} are searched"
        )));
    }
    Ok(())
}

/// `[`, `]`, `{` and `}` outside quotes become spaces: ranges and sets are not the search box's
/// language, and `[urgent]` is a search for the word.
pub fn plain_brackets(text: &str) -> String {
    let mut quoted = false;
    text.chars()
        .map(|c| {
            if c == '"' {
                quoted = !quoted;
            }
            match c {
                '[' | ']' | '{' | '}' if !quoted => ' ',
                _ => c,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("{}a{}", "(".repeat(depth), ")".repeat(depth))
    }

    #[test]
    fn nesting_past_the_bound_is_refused_and_within_it_is_not() {
        assert!(check(&nested(MAX_DEPTH)).is_ok());
        let e = check(&nested(MAX_DEPTH + 1)).expect_err("too deep");
        assert!(e.to_string().contains("9 deep"), "{e}");
        assert!(check(&nested(240)).is_err());
        // Unbalanced still counts what was opened.
        assert!(check(&"(".repeat(40)).is_err());
        // Brackets inside a phrase are words.
        assert!(check(&format!("\"{}\"", "(".repeat(40))).is_ok());
    }

    #[test]
    fn too_many_words_or_prefixes_are_refused() {
        assert!(check(&"word ".repeat(MAX_CLAUSES)).is_ok());
        assert!(check(&"word ".repeat(MAX_CLAUSES + 1)).is_err());
        assert!(check("ab* cd* ef* gh*").is_ok());
        assert!(check("ab* cd* ef* gh* ij*").is_err());
    }

    #[test]
    fn brackets_are_words_outside_quotes() {
        assert_eq!(plain_brackets("[urgent] {a TO z}"), " urgent   a TO z ");
        assert_eq!(plain_brackets("\"[x]\" y"), "\"[x]\" y");
    }
}
