//! The safety gate: a deterministic pass over a person's words for crisis language (suicide,
//! self-harm), run before anything would reframe them. Crisis text is never reframed; the
//! answer carries crisis resources instead (from configuration, not from here).
//!
//! How it reads: the text is lower-cased, contractions are spelled out ("don't" → "do not"),
//! and it is cut into clauses (at . , ! ? ; and "but"). Each clause is matched against phrases:
//! - *crisis* phrases ("kill myself", "end my life", "better off dead") are crisis unless a
//!   negation comes shortly before them in the same clause ("I would never hurt myself");
//! - *wish* phrases ("want to live", "want to be here") are crisis only when negated
//!   ("I do not want to live anymore", "I am not sure I want to be here");
//! - *always* phrases carry their own negation ("no reason to live", "nothing to live for");
//! - idioms are removed first ("dying to", "died laughing", "killing me").
//!
//! A clause that mentions the subject without a first-person phrase ("a talk on suicide
//! prevention") is a *concern*, not a crisis. The gate errs towards crisis: a person wrongly
//! shown resources loses little; one whose crisis is reframed could lose much. The table in the
//! tests pins the behaviour, including the misses it is known to have.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Nothing found.
    None,
    /// The subject comes up, not as the writer's own intent: reframing may go on.
    Concern,
    /// The writer may be at risk: never reframe; answer with crisis resources.
    Crisis,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub level: Level,
    /// The phrases that decided it (for the `safety.crisis_detected` event; never the text).
    pub matched: Vec<&'static str>,
}

impl Assessment {
    pub fn is_crisis(&self) -> bool {
        self.level == Level::Crisis
    }
}

/// Crisis unless negated.
const CRISIS: &[&str] = &[
    "kill myself",
    "killing myself",
    "end my life",
    "ending my life",
    "end my own life",
    "take my own life",
    "take my life",
    "taking my own life",
    "commit suicide",
    "committing suicide",
    "am suicidal",
    "feel suicidal",
    "feeling suicidal",
    "been suicidal",
    "suicidal thoughts",
    "thoughts of suicide",
    "want to die",
    "wanted to die",
    "wish i was dead",
    "wish i were dead",
    "better off dead",
    "better off without me",
    "hurt myself",
    "hurting myself",
    "harm myself",
    "harming myself",
    "thinking of self harm",
    "thinking about self harm",
    "i self harm",
    "cut myself",
    "cutting myself",
    "overdose on",
    "end it all",
    "ending it all",
    "hang myself",
    "slit my wrists",
    "jump off a bridge",
    "jump in front of a train",
    "disappear forever",
    "not wake up",
    "never wake up",
    "goodbye forever",
    "plan to die",
];

/// Crisis only when negated: "I do not want to live".
const WISH: &[&str] = &[
    "want to live",
    "want to be alive",
    "want to be here",
    "want to exist",
    "see a way out",
    "go on",
];

/// Crisis as they stand: the negation is part of them.
const ALWAYS: &[&str] = &[
    "no reason to live",
    "nothing to live for",
    "no point in living",
    "no point living",
    "can not go on",
    "can not do this anymore",
    "can not take it anymore",
    "no way out",
    "everyone would be better off",
    "nobody would miss me",
    "no one would miss me",
];

/// Words that mention the subject; without a first-person phrase they are a concern.
const SUBJECT: &[&str] = &[
    "suicide",
    "suicidal",
    "self harm",
    "overdose",
    "kill himself",
    "kill herself",
    "kill themselves",
];

/// Idioms removed before matching.
const IDIOMS: &[&str] = &[
    "dying to",
    "died laughing",
    "die laughing",
    "die of embarrassment",
    "died of embarrassment",
    "killing me",
    "kill for a",
    "dead tired",
    "to die for",
];

const NEGATIONS: &[&str] = &["not", "never", "no"];
/// How many words before a phrase a negation may stand and still negate it.
const NEGATION_WINDOW: usize = 5;

fn normalise(text: &str) -> String {
    let lower = text.to_lowercase().replace(['’', '‘', '`'], "'");
    let mut out = String::with_capacity(lower.len() + 16);
    for c in lower.chars() {
        if c.is_alphanumeric() || c == '\'' || c.is_whitespace() {
            out.push(c);
        } else if matches!(c, '.' | '!' | '?' | ';' | ',' | '\n') {
            out.push_str(" . ");
        } else {
            out.push(' ');
        }
    }
    let mut words: Vec<String> = Vec::new();
    for w in out.split_whitespace() {
        let expanded = match w {
            "can't" | "cant" | "cannot" => "can not",
            "won't" | "wont" => "will not",
            "don't" | "dont" => "do not",
            "doesn't" | "doesnt" => "does not",
            "didn't" | "didnt" => "did not",
            "wouldn't" | "wouldnt" => "would not",
            "shouldn't" => "should not",
            "couldn't" => "could not",
            "isn't" => "is not",
            "aren't" => "are not",
            "wasn't" => "was not",
            "i'm" | "im" => "i am",
            "i've" => "i have",
            "i'd" => "i would",
            "i'll" => "i will",
            "wanna" => "want to",
            "gonna" => "going to",
            "self-harm" => "self harm",
            other => other,
        };
        words.push(expanded.trim_matches('\'').to_owned());
    }
    words.join(" ")
}

/// The word index at which `phrase` starts in `words`, each time it does.
fn find(words: &[&str], phrase: &str) -> Vec<usize> {
    let p: Vec<&str> = phrase.split(' ').collect();
    if p.len() > words.len() {
        return Vec::new();
    }
    (0..=words.len() - p.len())
        .filter(|&i| words[i..i + p.len()] == p[..])
        .collect()
}

fn negated(words: &[&str], at: usize) -> bool {
    words[at.saturating_sub(NEGATION_WINDOW)..at]
        .iter()
        .any(|w| NEGATIONS.contains(w))
}

/// Reads `text` for crisis language.
pub fn assess(text: &str) -> Assessment {
    let mut norm = format!(" {} ", normalise(text));
    for idiom in IDIOMS {
        norm = norm.replace(&format!(" {idiom} "), " ");
    }
    let mut matched = Vec::new();
    let mut concern = false;
    for clause in norm.split(" . ").flat_map(|c| c.split(" but ")) {
        let words: Vec<&str> = clause.split_whitespace().collect();
        for p in ALWAYS {
            if !find(&words, p).is_empty() {
                matched.push(*p);
            }
        }
        for p in CRISIS {
            let hits = find(&words, p);
            if hits.iter().any(|&at| !negated(&words, at)) {
                matched.push(*p);
            } else if !hits.is_empty() {
                concern = true;
            }
        }
        for p in WISH {
            if find(&words, p).iter().any(|&at| negated(&words, at)) {
                matched.push(*p);
            }
        }
        concern |= SUBJECT.iter().any(|s| !find(&words, s).is_empty());
    }
    matched.sort_unstable();
    matched.dedup();
    let level = if !matched.is_empty() {
        Level::Crisis
    } else if concern {
        Level::Concern
    } else {
        Level::None
    };
    Assessment { level, matched }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (text, truly a crisis, what the gate says): the gate's answers are pinned, and where
    /// they differ from the truth the row says so and counts against precision or recall.
    const TABLE: &[(&str, bool, Level)] = &[
        // Crisis, plainly said.
        ("I want to kill myself.", true, Level::Crisis),
        ("i want to die", true, Level::Crisis),
        ("Sometimes I think about ending my life.", true, Level::Crisis),
        ("I've been feeling suicidal for weeks", true, Level::Crisis),
        ("Everyone would be better off without me.", true, Level::Crisis),
        ("I wish I was dead", true, Level::Crisis),
        ("I don't want to live anymore", true, Level::Crisis),
        ("I can't go on like this", true, Level::Crisis),
        ("There is no reason to live.", true, Level::Crisis),
        ("I have nothing to live for", true, Level::Crisis),
        ("I keep cutting myself when it gets bad", true, Level::Crisis),
        ("I hurt myself again last night", true, Level::Crisis),
        ("I'm going to take my own life", true, Level::Crisis),
        ("I'm planning to overdose on my pills", true, Level::Crisis),
        ("I just want to end it all", true, Level::Crisis),
        ("Nobody would miss me if I was gone", true, Level::Crisis),
        ("I'm not sure I want to be here anymore", true, Level::Crisis),
        ("I would be better off dead", true, Level::Crisis),
        ("I think about suicide every day", true, Level::Concern), // known miss: no first-person phrase
        (
            "I can't do this anymore, I want to disappear forever",
            true,
            Level::Crisis,
        ),
        ("I hope I don't wake up tomorrow", true, Level::Crisis),
        ("Work was fine. But honestly I want to die.", true, Level::Crisis),
        ("I WANT TO KILL MYSELF", true, Level::Crisis),
        ("i wanna die", true, Level::Crisis),
        ("I’ve thought about killing myself", true, Level::Crisis),
        ("I have suicidal thoughts at night", true, Level::Crisis),
        ("I don't see a way out", true, Level::Crisis),
        ("I'm thinking of self-harm again", true, Level::Crisis),
        ("I can't take it anymore", true, Level::Crisis),
        ("There's no point in living like this", true, Level::Crisis),
        ("I want to go to sleep and never wake up", true, Level::Crisis),
        ("I'm a burden, they'd all be happier if I vanished", true, Level::None), // known miss: indirect
        // Not a crisis: everyday words, idioms, negations.
        ("I had a hard day at work", false, Level::None),
        ("My boss is killing me with these deadlines", false, Level::None),
        ("I'm dying to see that movie", false, Level::None),
        ("I could kill for a coffee right now", false, Level::None),
        ("We died laughing at the party", false, Level::None),
        ("I'm dead tired after the run", false, Level::None),
        ("I would never hurt myself", false, Level::Concern),
        ("I'm not suicidal, just tired", false, Level::Concern),
        ("I am not going to kill myself, I just feel low", false, Level::Concern),
        ("I don't want to die, I want things to change", false, Level::Concern),
        ("I want to live a fuller life", false, Level::None),
        ("I want to be here for my kids", false, Level::None),
        ("My phone died during the call", false, Level::None),
        ("I always fail at everything", false, Level::None),
        ("Nobody ever listens to me", false, Level::None),
        ("I should have known better", false, Level::None),
        ("They must think I'm stupid", false, Level::None),
        ("This is the worst week ever", false, Level::None),
        ("I'll go on a walk later", false, Level::None),
        ("I can go on with the project tomorrow", false, Level::None),
        ("The cake was to die for", false, Level::None),
        ("I never want to go through that exam again", false, Level::None),
        // Mentions without intent: a concern at most.
        ("We had a talk on suicide prevention at school", false, Level::Concern),
        (
            "My friend told me her brother tried to kill himself",
            false,
            Level::Concern,
        ),
        ("The book was about a character's suicide", false, Level::Concern),
        ("I read an article about self-harm in teens", false, Level::Concern),
        ("The nurse said an overdose of that is rare", false, Level::Concern),
        // Tricky negatives and double meanings.
        ("I'm not going anywhere, I want to live", false, Level::None),
        ("I don't want to go on that trip", false, Level::Crisis), // known false alarm: "not … go on"
        ("I no longer think about hurting myself", false, Level::Concern),
        ("Not wanting to get up is normal on Mondays", false, Level::None),
        ("I would kill myself laughing if he tried that", false, Level::Crisis), // known false alarm
        ("There's no way out of this meeting", false, Level::Crisis),            // known false alarm
    ];

    #[test]
    fn the_table_is_pinned_and_its_precision_and_recall_reported() {
        assert!(TABLE.len() >= 60);
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        let off: Vec<String> = TABLE
            .iter()
            .map(|(text, _, expected)| (text, expected, assess(text)))
            .filter(|(_, expected, got)| got.level != **expected)
            .map(|(text, expected, got)| format!("{text:?}: pinned {expected:?}, got {got:?}"))
            .collect();
        assert!(off.is_empty(), "{}", off.join("\n"));
        for (text, truth, _) in TABLE {
            let got = assess(text);
            match (*truth, got.is_crisis()) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => {}
            }
        }
        let precision = tp as f64 / (tp + fp) as f64;
        let recall = tp as f64 / (tp + fn_) as f64;
        println!(
            "safety table: {} sentences, precision {precision:.3} ({tp}/{}), recall {recall:.3} ({tp}/{})",
            TABLE.len(),
            tp + fp,
            tp + fn_
        );
        // What the table pins today; a change to the gate that lowers either shows here.
        assert!(recall >= 0.93, "recall {recall}");
        assert!(precision >= 0.9, "precision {precision}");
    }

    #[test]
    fn the_assessment_names_phrases_never_the_text() {
        let a = assess("Honestly? I want to kill myself and nobody would miss me.");
        assert!(a.is_crisis());
        assert_eq!(a.matched, vec!["kill myself", "nobody would miss me"]);
        assert_eq!(assess("A quiet, good day.").level, Level::None);
    }
}
