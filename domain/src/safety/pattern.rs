//! A small pattern language over stemmed tokens, so the rules read like the phrases they stand
//! for while matching far more than one sentence.
//!
//! A pattern is steps separated by spaces. A step is alternatives separated by `|`; an
//! alternative is a word, several words joined by `_` ("go_on"), or `@class` (a named list of
//! words or phrases). `~N` before a step lets up to N other tokens (commas included) stand
//! between it and the step before: `want ~3 die|dead` matches "want to die", "wanted so much to
//! just be dead". Every word goes through the same stemmer as the text.

use super::text::{stem, Tok};

#[derive(Debug, Clone)]
struct Step {
    /// `$`: the end of the clause.
    end: bool,
    /// Tokens that may come between the previous step and this one.
    gap: usize,
    /// Each alternative is a run of stems.
    alts: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct Pattern {
    steps: Vec<Step>,
}

/// The stems of a phrase ("go on" → ["go", "on"]).
pub fn phrase(p: &str) -> Vec<String> {
    p.split([' ', '_']).filter(|w| !w.is_empty()).map(stem).collect()
}

impl Pattern {
    /// Compiles `src`; `class` resolves `@name`. Panics on an unknown class: rules are
    /// constants, and the tests compile every one of them.
    pub fn compile(src: &str, class: &dyn Fn(&str) -> Option<&'static [&'static str]>) -> Self {
        let mut steps = Vec::new();
        let mut gap = 0;
        for part in src.split_whitespace() {
            if let Some(n) = part.strip_prefix('~') {
                gap = n.parse().unwrap_or_else(|_| panic!("bad gap {part:?} in {src:?}"));
                continue;
            }
            if part == "$" {
                steps.push(Step {
                    end: true,
                    gap,
                    alts: Vec::new(),
                });
                gap = 0;
                continue;
            }
            let mut alts = Vec::new();
            for alt in part.split('|') {
                match alt.strip_prefix('@') {
                    Some(name) => {
                        let words = class(name).unwrap_or_else(|| panic!("unknown class @{name} in {src:?}"));
                        alts.extend(words.iter().map(|w| phrase(w)));
                    }
                    None => alts.push(phrase(alt)),
                }
            }
            alts.retain(|a| !a.is_empty());
            steps.push(Step { end: false, gap, alts });
            gap = 0;
        }
        assert!(!steps.is_empty(), "empty pattern");
        Self { steps }
    }

    /// Where the pattern matches in `toks`: (first token, one past the last), at most one match
    /// per starting token, the shortest.
    pub fn find(&self, toks: &[Tok]) -> Vec<(usize, usize)> {
        (0..toks.len())
            .filter_map(|start| self.from(toks, 0, start).map(|end| (start, end)))
            .collect()
    }

    /// Matches step `k` at a position within its gap after `at`; the end of the whole match.
    fn from(&self, toks: &[Tok], k: usize, at: usize) -> Option<usize> {
        let Some(step) = self.steps.get(k) else {
            return Some(at);
        };
        let gap = if k == 0 { 0 } else { step.gap };
        if step.end {
            return (toks.len() - at <= gap).then_some(toks.len());
        }
        for p in at..=(at + gap).min(toks.len()) {
            for alt in &step.alts {
                if matches_at(toks, p, alt) {
                    if let Some(end) = self.from(toks, k + 1, p + alt.len()) {
                        return Some(end);
                    }
                }
            }
        }
        None
    }
}

fn matches_at(toks: &[Tok], p: usize, alt: &[String]) -> bool {
    p + alt.len() <= toks.len() && alt.iter().zip(&toks[p..]).all(|(w, t)| t.word() == Some(w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::super::text::clauses;
    use super::*;

    fn class(name: &str) -> Option<&'static [&'static str]> {
        (name == "life").then_some(&["live", "be alive", "go on"][..])
    }

    #[test]
    fn gaps_classes_and_stems() {
        let p = Pattern::compile("want ~5 die|dead", &class);
        let c = &clauses("I wanted so much to just be dead")[0];
        assert_eq!(p.find(c), vec![(1, 8)]);
        assert!(p
            .find(&clauses("I want a new dog because my old cat sadly died")[0])
            .is_empty());
        let q = Pattern::compile("not ~2 want ~2 @life", &class);
        assert_eq!(q.find(&clauses("i dont really want to be alive")[0]).len(), 1);
        assert_eq!(q.find(&clauses("i dont want to go on")[0]).len(), 1);
    }
}
