use super::eval::{parse, score, Label};
use super::*;

const CORPUS: &str = include_str!("../../tests/safety/corpus.tsv");

#[test]
fn every_rule_and_idiom_compiles() {
    assert!(LEXICON.rules.len() > 100);
    assert!(!LEXICON.idioms.is_empty());
}

/// What the rules alone say of a corpus.
fn rules_report(corpus: Vec<(Label, String)>) -> super::eval::Report {
    let judged: Vec<_> = corpus
        .into_iter()
        .map(|(l, t)| {
            let a = assess(&t);
            (l, t, a)
        })
        .collect();
    score(&judged)
}

#[test]
fn the_corpus_meets_its_targets() {
    let corpus = parse(CORPUS).expect("the corpus parses");
    assert!(corpus.len() >= 300, "{} sentences", corpus.len());
    for c in Category::ALL {
        let n = corpus.iter().filter(|(l, _)| *l == Label::Crisis(c)).count();
        assert!(n >= 20, "{} has {n} sentences", c.as_str());
    }
    let report = rules_report(corpus);
    for (l, t) in &report.misses {
        println!("missed  {:<18} {t}", l.as_str());
    }
    for (l, t) in &report.false_alarms {
        println!("alarmed {:<18} {t}", l.as_str());
    }
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
    assert_eq!(report.recall, 1.0, "{} missed", report.misses.len());
    assert!(report.precision >= 0.95, "precision {}", report.precision);
}

/// Sets written by others who never saw the gate, kept as regression sets (see the README in
/// `domain/tests/safety/`): a floor, not the corpus's targets.
#[test]
fn the_held_out_sets_stay_above_their_floor() {
    for (name, text) in [
        ("heldout-a", include_str!("../../tests/safety/heldout-a.tsv")),
        ("heldout-b", include_str!("../../tests/safety/heldout-b.tsv")),
        ("heldout-c", include_str!("../../tests/safety/heldout-c.tsv")),
    ] {
        let report = rules_report(parse(text).expect("parses"));
        for (l, t) in report.misses.iter().chain(&report.false_alarms) {
            println!("{name}: {:<10} {t}", l.as_str());
        }
        println!("{name}: recall {} precision {}", report.recall, report.precision);
        assert!(report.recall >= 0.95, "{name}: recall {}", report.recall);
        assert!(report.precision >= 0.95, "{name}: precision {}", report.precision);
    }
}

#[test]
fn the_assessment_names_categories_never_the_text() {
    let a = assess("Honestly? I want to kill myself and nobody would miss me.");
    assert!(a.is_crisis());
    assert!(a.categories.contains(&Category::ActiveIdeation), "{a:?}");
    assert!(a.categories.contains(&Category::Indirect), "{a:?}");
    let json = serde_json::to_string(&a).unwrap_or_default();
    assert!(!json.contains("kill"), "{json}");
    assert_eq!(assess("A quiet, good day.").level, Level::None);
}

#[test]
fn idioms_negations_other_people_and_the_past_are_not_a_crisis() {
    for text in [
        "I'm killing it at work this week",
        "I'm dying to see that film",
        "I cut myself a slice of cake",
        "I would never kill myself, I have too much to live for",
        "My brother said he wants to die and I'm scared for him",
        "The novel ends with the hero taking his own life",
        "Years ago I wanted to die. Today I'm glad I stayed.",
        "I cut myself shaving this morning",
    ] {
        assert!(!assess(text).is_crisis(), "{text}: {:?}", assess(text));
    }
}

#[test]
fn a_plan_with_a_means_and_a_time_is_a_plan() {
    let a = assess("Tonight after everyone is asleep I'll take all the pills.");
    assert!(a.is_crisis());
    assert!(a.categories.contains(&Category::Plan), "{a:?}");
    let b = assess("I don't want to kill myself but I bought a rope today");
    assert!(b.is_crisis(), "{b:?}");
}

#[test]
fn a_model_can_only_raise() {
    let a = assess("I had a hard day at work");
    let raised = a.clone().raised(Level::Crisis, &[Category::Indirect]);
    assert_eq!(raised.level, Level::Crisis);
    assert_eq!(raised.categories, vec![Category::Indirect]);
    let crisis = assess("I want to kill myself");
    let lowered = crisis.clone().raised(Level::None, &[]);
    assert_eq!(lowered, crisis);
}

#[test]
fn explain_from_the_environment() {
    // SAFETY_EXPLAIN="some text" cargo test -p prism-domain explain_from -- --nocapture
    if let Ok(text) = std::env::var("SAFETY_EXPLAIN") {
        for line in text.split('|') {
            println!("{line}\n{}", explain(line));
        }
    }
}

#[test]
fn timing_from_the_environment() {
    // SAFETY_TIMING=1 cargo test --release -p prism-domain timing_from -- --nocapture
    if std::env::var("SAFETY_TIMING").is_ok() {
        let long = "Work was long and the train was late, so I read on the platform. ".repeat(120);
        let t = std::time::Instant::now();
        for _ in 0..10 {
            assert!(!assess(&long).is_crisis());
        }
        println!("{} chars: {:?} per assessment", long.len(), t.elapsed() / 10);
        let short = "I always mess up presentations and everyone must think I'm useless.";
        let t = std::time::Instant::now();
        for _ in 0..1000 {
            assess(short);
        }
        println!("{} chars: {:?} per assessment", short.len(), t.elapsed() / 1000);
    }
}

/// Catastrophising about a setback is what reframing exists for: a concern with a check-in.
/// Ideation, intent, a method, a plan or preparation in the same entry still make it a crisis.
#[test]
fn hyperbole_about_a_setback_is_a_concern_unless_risk_is_said_as_well() {
    for text in [
        "My boss frowned, so I'm definitely getting fired and my life is over",
        "failed the driving test again, my life is over lol",
        "My phone died on the train and I missed the interview. My life is over.",
        "Got dumped by text. My life is over, honestly, this is hell.",
    ] {
        let a = assess(text);
        assert_eq!(a.level, Level::Concern, "{text}: {a:?}");
        assert!(a.check_in(), "{text}");
    }
    for text in [
        "My boss frowned, so I'm definitely getting fired and my life is over. I want to kill myself.",
        "Failed my exams and my life is over. I've been saving up my pills for this.",
        "My life is over since I got fired, and I'm going to end it tonight.",
        "Failed the test, my life is over and I wish I was dead.",
    ] {
        let a = assess(text);
        assert_eq!(a.level, Level::Crisis, "{text}: {a:?}");
        assert!(!a.check_in());
    }
    // Without a setback named, despair about life itself stays where it was: a crisis.
    assert_eq!(assess("My life is over.").level, Level::Crisis);
    assert!(!assess("I always mess up presentations.").check_in());
}

/// The first fresh set's other languages (the lexicons were tuned on them): a floor.
#[test]
fn the_fresh_sets_other_languages_stay_above_their_floor() {
    for (name, text) in [
        ("de", include_str!("../../tests/safety/fresh-1.de.tsv")),
        ("es", include_str!("../../tests/safety/fresh-1.es.tsv")),
        ("fr", include_str!("../../tests/safety/fresh-1.fr.tsv")),
        ("pt", include_str!("../../tests/safety/fresh-1.pt.tsv")),
        ("it", include_str!("../../tests/safety/fresh-1.it.tsv")),
    ] {
        let report = rules_report(parse(text).expect("parses"));
        println!("{name}: recall {} precision {}", report.recall, report.precision);
        assert!(report.recall >= 0.75, "{name}: recall {}", report.recall);
        assert!(report.precision >= 0.85, "{name}: precision {}", report.precision);
    }
}
