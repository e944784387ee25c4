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
    /// The ids of the first stems of the alternatives, sorted: most positions are ruled out
    /// by a binary search over integers.
    firsts: Vec<u32>,
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
    pub fn compile(
        src: &str,
        class: &dyn Fn(&str) -> Option<&'static [&'static str]>,
        intern: &mut dyn FnMut(&str) -> u32,
    ) -> Self {
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
                    firsts: Default::default(),
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
            let mut firsts: Vec<u32> = alts.iter().filter_map(|a| a.first()).map(|w| intern(w)).collect();
            firsts.sort_unstable();
            firsts.dedup();
            steps.push(Step {
                end: false,
                gap,
                alts,
                firsts,
            });
            gap = 0;
        }
        assert!(!steps.is_empty(), "empty pattern");
        Self { steps }
    }

    /// The word ids a match can start with.
    pub fn firsts(&self) -> &[u32] {
        &self.steps[0].firsts
    }

    /// Where a match starting at `start` ends, if there is one.
    pub fn at(&self, toks: &[Tok], start: usize) -> Option<usize> {
        self.from(toks, 0, start)
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
            if toks.get(p).is_none_or(|t| step.firsts.binary_search(&t.id()).is_err()) {
                continue;
            }
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
    use super::super::text::clauses_with;
    use super::*;

    fn class(name: &str) -> Option<&'static [&'static str]> {
        (name == "life").then_some(&["live", "be alive", "go on"][..])
    }

    /// Compiles with a vocabulary, and cuts texts into clauses with the same one.
    struct Vocab(std::collections::HashMap<String, u32>);

    impl Vocab {
        fn compile(&mut self, src: &str) -> Pattern {
            Pattern::compile(src, &class, &mut |w| {
                let n = self.0.len() as u32;
                *self.0.entry(w.to_owned()).or_insert(n)
            })
        }
        fn clause(&self, text: &str) -> Vec<Tok> {
            clauses_with(text, &|w| {
                self.0.get(w).copied().unwrap_or(crate::safety::text::UNKNOWN)
            })
            .remove(0)
        }
    }

    #[test]
    fn gaps_classes_and_stems() {
        let mut v = Vocab(Default::default());
        let p = v.compile("want ~5 die|dead");
        let q = v.compile("not ~2 want ~2 @life");
        assert_eq!(p.find(&v.clause("I wanted so much to just be dead")), vec![(1, 8)]);
        assert!(p
            .find(&v.clause("I want a new dog because my old cat sadly died"))
            .is_empty());
        assert_eq!(q.find(&v.clause("i dont really want to be alive")).len(), 1);
        assert_eq!(q.find(&v.clause("i dont want to go on")).len(), 1);
    }
}
