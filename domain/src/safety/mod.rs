//! The safety gate: a deterministic reading of a person's words for suicide and self-harm
//! risk, run before anything would reframe them. Crisis text is never reframed; the answer
//! carries crisis resources instead (from configuration, not from here).
//!
//! It is built on the structure of risk clinicians screen for (the Columbia scale's
//! categories), not on a list of sentences: a wish to be dead, passive and active ideation, a
//! method, intent, a plan (means, place, time), preparatory acts, self-harm, and the indirect
//! forms (burden, "better off without me", vanishing, no reason to go on). How it reads:
//!
//! 1. [`text`]: lower-case, contractions and chat spellings spelled out ("kms", "wanna",
//!    "unalive"), misspellings of the words that matter corrected, Snowball stems, clauses.
//! 2. Idioms are cut out of each clause first ("killing it", "dying to", "cut myself a slice").
//! 3. [`rules`]: patterns over stems with gaps and word classes, so "there isn't one single
//!    reason left for me to keep going" meets `no … reason … keep going`, and a means near an
//!    intent or an acquisition ("bought a rope", "saving up my pills") is a preparation.
//! 4. Each match is then read in its clause: a negation shortly before it ("I would never …"),
//!    someone else as its subject ("my brother wants to die"), a book, film or the news, or a
//!    past that is over ("two years ago …", "used to") make it a *concern*, not a crisis. A
//!    method or a plan said in the first person is never lowered for any other reason.
//! 5. Weak signals (a goodbye letter to my family, "I've decided.") are crisis only beside
//!    talk of death or self-harm elsewhere in the text; a means or time beside an intent makes
//!    it a plan.
//!
//! The gate errs towards crisis: a person wrongly shown resources loses little; one whose crisis
//! is reframed could lose much. [`eval`] measures it against the corpus in
//! `domain/tests/safety/`, and a model may only raise what this pass says (see the commands).

pub mod eval;
pub mod lang;
mod pattern;
mod rules;
pub mod text;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use pattern::{phrase, Pattern};
use text::Tok;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Nothing found.
    None,
    /// The subject comes up, not as the writer's own risk: reframing may go on.
    Concern,
    /// The writer may be at risk: never reframe; answer with crisis resources.
    Crisis,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Concern => "concern",
            Level::Crisis => "crisis",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Level::None, Level::Concern, Level::Crisis]
            .into_iter()
            .find(|l| l.as_str() == s)
    }
}

/// The categories of risk the gate names (never the words that matched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    WishDead,
    PassiveIdeation,
    ActiveIdeation,
    Method,
    Intent,
    Plan,
    Preparation,
    SelfHarm,
    Indirect,
}

impl Category {
    pub const ALL: [Category; 9] = [
        Category::WishDead,
        Category::PassiveIdeation,
        Category::ActiveIdeation,
        Category::Method,
        Category::Intent,
        Category::Plan,
        Category::Preparation,
        Category::SelfHarm,
        Category::Indirect,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::WishDead => "wish_dead",
            Category::PassiveIdeation => "passive_ideation",
            Category::ActiveIdeation => "active_ideation",
            Category::Method => "method",
            Category::Intent => "intent",
            Category::Plan => "plan",
            Category::Preparation => "preparation",
            Category::SelfHarm => "self_harm",
            Category::Indirect => "indirect",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub level: Level,
    /// The categories that made it a crisis (empty below crisis).
    pub categories: Vec<Category>,
    /// How many risk signals were read, whatever they came to: the text carries some when this
    /// is above zero, and a model may then be asked (see [`Assessment::worth_a_second_look`]).
    pub signals: u32,
    /// The language of a text the gate cannot read (ISO 639-3), for counting: such text is a
    /// concern at least (a check-in, and a model's reading when one is configured), never
    /// silently safe.
    pub unreadable: Option<&'static str>,
}

impl Assessment {
    pub fn is_crisis(&self) -> bool {
        self.level == Level::Crisis
    }

    /// Whether the answer carries a gentle check-in: the text touched on despair, death or
    /// self-harm without the writer being at risk now ("my life is over" about a setback, "I
    /// would never hurt myself"). Reframing goes on beside it.
    pub fn check_in(&self) -> bool {
        self.level == Level::Concern
    }

    /// Whether a second reader (a model) should look: below crisis, with risk signals.
    pub fn worth_a_second_look(&self) -> bool {
        self.level < Level::Crisis && self.signals > 0
    }

    /// This assessment with a second reading folded in, and whether that reading raised it.
    pub fn with_second(self, second: Option<&Verdict>) -> (Self, bool) {
        match second {
            Some(v) if v.level > self.level => (self.raised(v.level, &v.categories), true),
            _ => (self, false),
        }
    }

    /// This assessment raised by another reader's: the higher level, the union of the
    /// categories. It can never lower anything.
    pub fn raised(mut self, level: Level, categories: &[Category]) -> Self {
        if level > self.level {
            self.level = level;
        }
        if level == Level::Crisis {
            self.categories.extend_from_slice(categories);
            self.categories.sort_unstable();
            self.categories.dedup();
        }
        self
    }
}

/// What a second reader (a model) said of a text: it can only raise the gate's level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub level: Level,
    #[serde(default)]
    pub categories: Vec<Category>,
}

/// The gate's answer with a second reading folded in, and whether that reading raised it.
pub fn assess_with(text: &str, second: Option<&Verdict>) -> (Assessment, bool) {
    assess(text).with_second(second)
}

struct Rule {
    spec: rules::Spec,
    pat: Pattern,
    /// The pattern itself names the writer ("kill *myself*", "without *me*").
    self_bound: bool,
    /// The pattern holds negations of its own ("not here", `@neg`).
    names_negation: bool,
    unless_next: Vec<Vec<String>>,
    unless: Vec<Vec<String>>,
    with: Vec<Vec<String>>,
}

fn phrases(list: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for item in list.split_whitespace() {
        match item.strip_prefix('@') {
            Some(name) => {
                let words = rules::class(name).unwrap_or_else(|| panic!("unknown class @{name}"));
                out.extend(words.iter().map(|w| phrase(w)));
            }
            None => out.push(phrase(item)),
        }
    }
    out
}

fn set(words: &[&str]) -> Vec<Vec<String>> {
    words.iter().map(|w| phrase(w)).collect()
}

struct Lexicon {
    rules: Vec<Rule>,
    idioms: Vec<(Pattern, Vec<Vec<String>>)>,
    breakers: Vec<Vec<String>>,
    media: Vec<Vec<String>>,
    past: Vec<Vec<String>>,
    present: Vec<Vec<String>>,
    first: Vec<Vec<String>>,
    third: Vec<Vec<String>>,
    subjects: Vec<Vec<String>>,
    verbs: Vec<Vec<String>>,
    distress: Vec<Vec<String>>,
    time: Vec<Vec<String>>,
    place: Vec<Vec<String>>,
    terse: Vec<Vec<String>>,
    neg: Vec<Vec<String>>,
    on_purpose: Vec<Vec<String>>,
    outing: Vec<Vec<String>>,
    setbacks: Vec<Vec<String>>,
    /// Every stem a pattern starts an alternative with, numbered.
    vocab: std::collections::HashMap<String, u32>,
    /// For each word id, the rules a match may start with it (in rule order): a clause is only
    /// tried against the rules its words can begin.
    by_first: Vec<Vec<usize>>,
}

static LEXICON: LazyLock<Lexicon> = LazyLock::new(|| {
    let first = set(rules::FIRST);
    let mut vocab: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut intern = |w: &str| {
        let n = vocab.len() as u32;
        *vocab.entry(w.to_owned()).or_insert(n)
    };
    let rules = rules::specs()
        .into_iter()
        .map(|spec| {
            let pat = Pattern::compile(spec.pat, &rules::class, &mut intern);
            let self_bound = spec.pat.split_whitespace().any(|step| {
                !step.starts_with('~')
                    && step
                        .split('|')
                        .all(|alt| alt.split('_').any(|w| rules::FIRST.contains(&w)))
            });
            let names_negation = spec.pat.split([' ', '|', '_']).any(|w| {
                matches!(
                    w,
                    "not"
                        | "never"
                        | "no"
                        | "nobody"
                        | "nothing"
                        | "none"
                        | "@neg"
                        | "@gone"
                        | "@ending"
                        | "@die"
                        | "@goon"
                        | "@life"
                        | "can_not"
                        | "could_not"
                        | "will_not"
                )
            });
            Rule {
                names_negation,
                self_bound,
                unless_next: phrases(spec.unless_next),
                unless: phrases(spec.unless),
                with: phrases(spec.with),
                pat,
                spec,
            }
        })
        .collect();
    let mut lex = Lexicon {
        rules,
        idioms: rules::IDIOMS
            .iter()
            .map(|p| match p.split_once(" !") {
                Some((p, unless)) => (Pattern::compile(p, &rules::class, &mut intern), phrases(unless)),
                None => (Pattern::compile(p, &rules::class, &mut intern), Vec::new()),
            })
            .collect(),
        breakers: set(rules::BREAKERS),
        media: set(rules::MEDIA),
        past: set(rules::PAST),
        present: set(rules::PRESENT),
        first,
        third: set(rules::THIRD),
        subjects: set(rules::SUBJECTS),
        verbs: set(rules::VERBS),
        distress: set(rules::DISTRESS),
        time: phrases("@time"),
        place: phrases("@place"),
        terse: set(rules::TERSE_MEANS),
        neg: phrases("@neg"),
        on_purpose: set(&[
            "on purpose",
            "deliberately",
            "intentionally",
            "purposely",
            "so i could feel",
            "to feel something",
        ]),
        outing: set(rules::OUTING),
        setbacks: set(rules::SETBACKS),
        by_first: Vec::new(),
        vocab,
    };
    let mut by_first = vec![Vec::new(); lex.vocab.len()];
    for (i, rule) in lex.rules.iter().enumerate() {
        for &id in rule.pat.firsts() {
            if let Some(list) = by_first.get_mut(id as usize) {
                list.push(i);
            }
        }
    }
    lex.by_first = by_first;
    lex
});

/// The clauses of `text`, with the lexicon's word ids.
fn clauses_of(lex: &Lexicon, text: &str) -> Vec<Vec<Tok>> {
    text::clauses_with(text, &|w| lex.vocab.get(w).copied().unwrap_or(text::UNKNOWN))
}

/// Whether `phrase` starts at `i`.
fn at(toks: &[Tok], i: usize, phrase: &[String]) -> bool {
    i + phrase.len() <= toks.len() && phrase.iter().zip(&toks[i..]).all(|(w, t)| t.word() == Some(w))
}

fn holds(toks: &[Tok], list: &[Vec<String>]) -> bool {
    (0..toks.len()).any(|i| list.iter().any(|p| at(toks, i, p)))
}

fn is(tok: &Tok, list: &[Vec<String>]) -> bool {
    list.iter().any(|p| p.len() == 1 && tok.word() == Some(p[0].as_str()))
}

/// Who a match is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Me,
    Other,
    /// No one named ("want to die"): in a journal, the writer.
    Unsaid,
}

fn who(lex: &Lexicon, clause: &[Tok], start: usize, end: usize, self_bound: bool) -> Who {
    let span = &clause[start..end];
    if self_bound || span.iter().any(|t| is(t, &lex.first)) {
        return Who::Me;
    }
    // Someone else as the subject: "she", "someone", or a person followed by what they do
    // ("my brother *wants*", "a man *jumped*"). A person as an object ("see grandma to say
    // goodbye", "use dad's gun") changes nothing.
    let other = |toks: &[Tok], i: usize| {
        is(&toks[i], &lex.subjects) || (is(&toks[i], &lex.third) && toks.get(i + 1).is_some_and(|n| is(n, &lex.verbs)))
    };
    if (0..span.len()).any(|i| other(span, i)) {
        return Who::Other;
    }
    for i in (start.saturating_sub(8)..start).rev() {
        if clause[i] == Tok::Comma {
            break;
        }
        if is(&clause[i], &lex.first) {
            return Who::Me;
        }
        if other(clause, i) {
            return Who::Other;
        }
    }
    Who::Unsaid
}

/// A negation within five words before `start`, with nothing between that ends its reach.
fn negated(lex: &Lexicon, clause: &[Tok], start: usize) -> bool {
    for (k, t) in clause[..start].iter().rev().enumerate() {
        if k >= 5 || *t == Tok::Comma || is(t, &lex.breakers) {
            return false;
        }
        if is(t, &lex.neg) {
            return true;
        }
    }
    false
}

/// What one match comes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hit {
    Crisis(Category),
    Weak(Category),
    /// The subject, said in the writer's own voice, with nothing more.
    Topic,
    /// Lowered: negated, someone else's, fiction or news, over, or hyperbole about a setback.
    Concern,
}

fn cut_idioms(lex: &Lexicon, clause: &mut Vec<Tok>) {
    for (idiom, unless_next) in &lex.idioms {
        let mut from = 0;
        while let Some((s, e)) = idiom.find(&clause[from..]).first().map(|&(s, e)| (s + from, e + from)) {
            if unless_next.iter().any(|p| at(clause, e, p)) {
                from = s + 1;
                continue;
            }
            clause.drain(s..e);
            from = s;
        }
    }
}

/// The clauses as the rules see them and each rule that matched, for someone tuning the
/// lexicon (never logged: it holds the text).
#[doc(hidden)]
pub fn explain(text: &str) -> String {
    let lex = &*LEXICON;
    let mut out = String::new();
    for mut clause in clauses_of(lex, text) {
        cut_idioms(lex, &mut clause);
        let words: Vec<&str> = clause.iter().map(|t| t.word().unwrap_or(",")).collect();
        out.push_str(&format!("[{}]\n", words.join(" ")));
        for rule in &lex.rules {
            for (s, e) in rule.pat.find(&clause) {
                out.push_str(&format!("  {:?} {:?} at {s}..{e}\n", rule.spec.cat, rule.spec.pat));
            }
        }
    }
    out.push_str(&format!("{:?}\n", assess(text)));
    out
}

/// Reads `text` for suicide and self-harm risk.
pub fn assess(text: &str) -> Assessment {
    let lex = &*LEXICON;
    let mut hits: Vec<Hit> = Vec::new();
    // Weak matches that overlap one already counted are the same signal read twice.
    let mut weak_spans: Vec<(usize, usize, usize)> = Vec::new();
    let mut distress = false;
    let mut timed = false;
    let mut placed = false;
    let clauses: Vec<Vec<Tok>> = clauses_of(lex, text)
        .into_iter()
        .map(|mut c| {
            cut_idioms(lex, &mut c);
            c
        })
        .collect();
    // An outing, a race, a new job: "I'm going to do it!" said of those is not intent.
    let outing = clauses.iter().any(|c| holds(c, &lex.outing));
    // A setback named anywhere: "my life is over" beside it is catastrophising, not risk.
    let setback = clauses.iter().any(|c| holds(c, &lex.setbacks));
    for (ci, clause) in clauses.iter().enumerate() {
        if clause.is_empty() {
            continue;
        }
        let media = holds(clause, &lex.media);
        let over = holds(clause, &lex.past) && !holds(clause, &lex.present);
        let on_purpose = holds(clause, &lex.on_purpose);
        distress |= holds(clause, &lex.distress);
        let digits = clause
            .iter()
            .any(|t| t.word().is_some_and(|w| w.chars().any(|c| c.is_ascii_digit())));
        timed |= holds(clause, &lex.time) || digits;
        placed |= holds(clause, &lex.place);
        let has_self = clause.iter().any(|t| is(t, &lex.first));
        // The (rule, start) pairs this clause's words can begin, in rule order.
        let mut candidates: Vec<(usize, usize)> = clause
            .iter()
            .enumerate()
            .flat_map(|(start, t)| {
                lex.by_first
                    .get(t.id() as usize)
                    .into_iter()
                    .flatten()
                    .map(move |&r| (r, start))
            })
            .collect();
        candidates.sort_unstable();
        let mut next = 0;
        while next < candidates.len() {
            let r = candidates[next].0;
            let run_end = candidates[next..]
                .iter()
                .position(|c| c.0 != r)
                .map_or(candidates.len(), |n| next + n);
            let starts: Vec<usize> = candidates[next..run_end].iter().map(|c| c.1).collect();
            next = run_end;
            let rule = &lex.rules[r];
            let spec = &rule.spec;
            if spec.needs_self && !has_self {
                continue;
            }
            if !rule.with.is_empty() && !holds(clause, &rule.with) {
                continue;
            }
            for (s, e) in starts
                .into_iter()
                .filter_map(|s| rule.pat.at(clause, s).map(|e| (s, e)))
            {
                if rule.unless_next.iter().any(|p| at(clause, e, p)) {
                    continue;
                }
                let benign = !rule.unless.is_empty()
                    && !on_purpose
                    && (holds(clause, &rule.unless)
                        || (spec.cat == Some(Category::Intent) && clauses.iter().any(|c| holds(c, &rule.unless))));
                if benign {
                    hits.push(Hit::Concern);
                    continue;
                }
                // A negation inside the match counts too ("I am not suicidal"), unless the rule
                // itself speaks in negations ("I wish I was not here").
                let denied =
                    negated(lex, clause, s) || (!rule.names_negation && clause[s..e].iter().any(|t| is(t, &lex.neg)));
                let lowered = (spec.negatable && denied)
                    || (!spec.anyone && who(lex, clause, s, e, rule.self_bound) == Who::Other)
                    || media
                    || over
                    || (spec.hyperbole && setback);
                if !lowered && spec.weak && spec.cat.is_some() {
                    if weak_spans.iter().any(|&(c, a, b)| c == ci && s < b && a < e) {
                        continue;
                    }
                    weak_spans.push((ci, s, e));
                }
                hits.push(match (lowered, spec.cat, spec.weak) {
                    (true, _, _) => Hit::Concern,
                    (false, None, _) => Hit::Topic,
                    (false, Some(c), false) => Hit::Crisis(c),
                    (false, Some(c), true) => Hit::Weak(c),
                });
            }
        }
        // A means or a place said as a fragment of its own ("the rope.", "friday, from the
        // parking garage roof", "2am. the overpass."): an elliptical plan, weak on its own.
        if !media && !over && !outing {
            for fragment in clause.split(|t| *t == Tok::Comma) {
                let content = fragment
                    .iter()
                    .filter(|t| {
                        t.word().is_some_and(|w| {
                            !matches!(w, "the" | "my" | "a" | "from" | "off" | "of" | "on" | "at" | "in")
                        })
                    })
                    .count();
                // A noun phrase ("the railway line behind the hostel"), not a clause with a verb
                // of its own ("cried in the car park").
                let noun_phrase = fragment.first().is_some_and(|t| {
                    t.word()
                        .is_some_and(|w| matches!(w, "the" | "my" | "a" | "from" | "off" | "at" | "in" | "on"))
                        || is(t, &lex.terse)
                });
                if content > 0 && content <= 4 && noun_phrase && holds(fragment, &lex.terse) {
                    hits.push(Hit::Weak(Category::Plan));
                    weak_spans.push((ci, usize::MAX - 1, usize::MAX));
                }
            }
        }
    }
    let strong: BTreeSet<Category> = hits
        .iter()
        .filter_map(|h| match h {
            Hit::Crisis(c) => Some(*c),
            _ => None,
        })
        .collect();
    let weak: BTreeSet<Category> = hits
        .iter()
        .filter_map(|h| match h {
            Hit::Weak(c) => Some(*c),
            _ => None,
        })
        .collect();
    let topic = hits.contains(&Hit::Topic);
    let mut categories = strong.clone();
    // Weak signals count beside risk said elsewhere, or beside each other ("deleted my accounts,
    // wanted to leave quietly"), and an elliptical plan beside a time ("the rope. saturday.").
    let weak_hits = weak_spans.len();
    if !strong.is_empty() || topic || weak_hits >= 2 || (weak.contains(&Category::Plan) && timed && !outing) {
        categories.extend(weak.iter().copied());
    }
    // An act said beside a time or a place is a plan ("tonight … the pills", "from the roof").
    let acts = [
        Category::Method,
        Category::Intent,
        Category::ActiveIdeation,
        Category::Preparation,
    ];
    if categories.iter().any(|c| acts.contains(c)) && (timed || placed) {
        categories.insert(Category::Plan);
    }
    // First-person crisis language in the other languages the gate reads.
    categories.extend(lang::crisis(text));
    let unreadable = if categories.is_empty() {
        lang::unreadable(text)
    } else {
        None
    };
    let signals = (hits.len() + usize::from(distress) + usize::from(unreadable.is_some())) as u32;
    let level = if !categories.is_empty() {
        Level::Crisis
    } else if signals > 0 {
        Level::Concern
    } else {
        Level::None
    };
    Assessment {
        level,
        categories: categories.into_iter().collect(),
        signals,
        unreadable,
    }
}

#[cfg(test)]
mod tests;
