//! Measuring the gate: a corpus of labelled sentences (`domain/tests/safety/corpus.tsv`, one
//! `label<TAB>text` per line, `#` for comments) and the recall and precision of a gate on it.
//!
//! A label is a crisis [`Category`] name (or `crisis`, unsorted), `concern` or `negative`. Recall counts the crisis
//! sentences the gate calls a crisis; precision counts, of everything it calls a crisis, what
//! truly is one (a `concern` or `negative` sentence called a crisis is a false alarm). Per
//! category, recall is over that category's sentences; precision is over the sentences the
//! gate named that category for (is an alarm in that category a true one).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Assessment, Category, Level};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Crisis(Category),
    /// A crisis sentence not sorted into a category (the held-out sets).
    Risk,
    Concern,
    Negative,
}

impl Label {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "concern" => Some(Label::Concern),
            "negative" => Some(Label::Negative),
            "crisis" => Some(Label::Risk),
            s => Category::parse(s).map(Label::Crisis),
        }
    }

    pub fn is_crisis(self) -> bool {
        matches!(self, Label::Crisis(_) | Label::Risk)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Crisis(c) => c.as_str(),
            Label::Risk => "crisis",
            Label::Concern => "concern",
            Label::Negative => "negative",
        }
    }
}

/// The sentences of a corpus file, or the line that is not one.
pub fn parse(corpus: &str) -> Result<Vec<(Label, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in corpus.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (label, text) = line
            .split_once('\t')
            .ok_or_else(|| format!("line {}: expected label<TAB>text", n + 1))?;
        let label = Label::parse(label.trim()).ok_or_else(|| format!("line {}: unknown label {label:?}", n + 1))?;
        out.push((label, text.trim().to_owned()));
    }
    Ok(out)
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub sentences: usize,
    pub crisis_sentences: usize,
    pub recall: f64,
    pub precision: f64,
    pub recall_by_category: BTreeMap<&'static str, f64>,
    pub precision_by_category: BTreeMap<&'static str, f64>,
    /// Of the `concern` sentences, how many the gate left below crisis.
    pub concern_kept_below_crisis: f64,
    /// Crisis sentences the gate did not call a crisis.
    #[serde(skip)]
    pub misses: Vec<(Label, String)>,
    /// Sentences called a crisis that are not one.
    #[serde(skip)]
    pub false_alarms: Vec<(Label, String)>,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        1.0
    } else {
        ((n as f64 / d as f64) * 1000.0).round() / 1000.0
    }
}

/// Scores what a gate said of each sentence.
pub fn score(judged: &[(Label, String, Assessment)]) -> Report {
    let (mut tp, mut fp, mut fn_) = (0, 0, 0);
    let mut by_label: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let mut by_named: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
    let (mut concern_ok, mut concerns) = (0, 0);
    let mut misses = Vec::new();
    let mut false_alarms = Vec::new();
    for (label, text, a) in judged {
        let said = a.level == Level::Crisis;
        if let Label::Crisis(c) = label {
            let e = by_label.entry(c.as_str()).or_default();
            e.1 += 1;
            if said {
                e.0 += 1;
            }
        }
        if *label == Label::Concern {
            concerns += 1;
            concern_ok += usize::from(!said);
        }
        if said {
            for c in &a.categories {
                let e = by_named.entry(c.as_str()).or_default();
                e.1 += 1;
                e.0 += usize::from(label.is_crisis());
            }
        }
        match (label.is_crisis(), said) {
            (true, true) => tp += 1,
            (false, true) => {
                fp += 1;
                false_alarms.push((*label, text.clone()));
            }
            (true, false) => {
                fn_ += 1;
                misses.push((*label, text.clone()));
            }
            (false, false) => {}
        }
    }
    Report {
        sentences: judged.len(),
        crisis_sentences: tp + fn_,
        recall: ratio(tp, tp + fn_),
        precision: ratio(tp, tp + fp),
        recall_by_category: by_label.into_iter().map(|(k, (n, d))| (k, ratio(n, d))).collect(),
        precision_by_category: by_named.into_iter().map(|(k, (n, d))| (k, ratio(n, d))).collect(),
        concern_kept_below_crisis: ratio(concern_ok, concerns),
        misses,
        false_alarms,
    }
}
