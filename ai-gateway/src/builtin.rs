//! The built-in provider: cue phrases find the fragments, templates write the reframes.
//!
//! A fragment is the sentence that holds a cue, tagged with the cue's distortion; its
//! confidence is the cue's weight, raised a little for each further cue of the same kind in
//! that sentence. Where cues overlap ("they must think" is mind reading, not a should
//! statement), the longer cue wins. Reframes are chosen from templates by a hash of the text,
//! so the same words always get the same answer.

use std::collections::BTreeMap;

use crate::{estimate_tokens, Distortion, Fragment, GatewayError, Provider, Reframe, Usage, WeekSummary};

use Distortion::*;

/// (cue, distortion, weight). Cues are whole words, lower case, apostrophes straight.
const CUES: &[(&str, Distortion, f32)] = &[
    ("always", AllOrNothing, 0.7),
    ("never", AllOrNothing, 0.7),
    ("completely", AllOrNothing, 0.6),
    ("totally", AllOrNothing, 0.6),
    ("nothing ever", AllOrNothing, 0.8),
    ("everything is", AllOrNothing, 0.6),
    ("total failure", AllOrNothing, 0.85),
    ("perfect", AllOrNothing, 0.55),
    ("everyone", Overgeneralisation, 0.65),
    ("everybody", Overgeneralisation, 0.65),
    ("nobody", Overgeneralisation, 0.7),
    ("no one", Overgeneralisation, 0.7),
    ("every time", Overgeneralisation, 0.75),
    ("all the time", Overgeneralisation, 0.7),
    ("disaster", Catastrophising, 0.75),
    ("catastrophe", Catastrophising, 0.8),
    ("the worst", Catastrophising, 0.7),
    ("terrible", Catastrophising, 0.6),
    ("ruined", Catastrophising, 0.7),
    ("end of the world", Catastrophising, 0.85),
    ("can't handle", Catastrophising, 0.7),
    ("unbearable", Catastrophising, 0.7),
    ("they think", MindReading, 0.7),
    ("he thinks", MindReading, 0.7),
    ("she thinks", MindReading, 0.7),
    ("must think", MindReading, 0.8),
    ("everyone thinks", MindReading, 0.8),
    ("judging me", MindReading, 0.8),
    ("they hate me", MindReading, 0.8),
    ("should", ShouldStatements, 0.65),
    ("shouldn't", ShouldStatements, 0.65),
    ("must", ShouldStatements, 0.55),
    ("have to", ShouldStatements, 0.5),
    ("ought to", ShouldStatements, 0.7),
    ("i'm a failure", Labelling, 0.9),
    ("i am a failure", Labelling, 0.9),
    ("i'm an idiot", Labelling, 0.9),
    ("i'm stupid", Labelling, 0.85),
    ("i'm useless", Labelling, 0.85),
    ("i'm worthless", Labelling, 0.9),
    ("i'm a loser", Labelling, 0.9),
    ("i'm such a", Labelling, 0.75),
    ("my fault", Personalisation, 0.8),
    ("because of me", Personalisation, 0.8),
    ("i ruined", Personalisation, 0.75),
    ("i caused", Personalisation, 0.7),
    ("blame myself", Personalisation, 0.8),
];

/// Three reframes and a micro-action per distortion; several variants each.
fn templates(d: Distortion) -> (&'static [[&'static str; 3]], &'static [&'static str]) {
    match d {
        AllOrNothing => (
            &[
                [
                    "Things are rarely all one way: what went even a little right?",
                    "\"Always\" and \"never\" leave out the times it went differently.",
                    "A partial success is still a success; what would 60% look like?",
                ],
                [
                    "Between total success and total failure there is a lot of ground.",
                    "Name one exception to the \"always\".",
                    "You can be imperfect and still be doing well.",
                ],
            ],
            &[
                "Write down one time this went better than you expected.",
                "Rate today on a 0–10 scale instead of pass or fail.",
            ],
        ),
        Overgeneralisation => (
            &[
                [
                    "One event is one event, not a rule about every time.",
                    "Who is an exception to \"everyone\"?",
                    "What would you tell a friend who drew this conclusion from one day?",
                ],
                [
                    "This time went badly; that is information about this time.",
                    "Count the times it happened and the times it did not.",
                    "\"Nobody\" is a big word: is there one person?",
                ],
            ],
            &[
                "List two times this did not happen.",
                "Message one person who has been there for you.",
            ],
        ),
        Catastrophising => (
            &[
                [
                    "What is the most likely outcome, not the worst one?",
                    "You have handled hard things before; which one comes to mind?",
                    "How much will this matter in a month?",
                ],
                [
                    "It feels huge now; feelings are real, forecasts are guesses.",
                    "What would you do if the worst happened? You would still have options.",
                    "What is one part of this you can influence today?",
                ],
            ],
            &[
                "Write the worst, best and most likely outcomes side by side.",
                "Take five slow breaths, then name one next step.",
            ],
        ),
        MindReading => (
            &[
                [
                    "You cannot see into their head; what do you actually know?",
                    "What else might they be thinking about?",
                    "Could you ask them instead of guessing?",
                ],
                [
                    "Your guess about their thoughts is a hypothesis, not a fact.",
                    "What evidence points the other way?",
                    "People are usually thinking about themselves more than about us.",
                ],
            ],
            &[
                "Write one question you could ask them to find out.",
                "Note one neutral explanation for what they did.",
            ],
        ),
        ShouldStatements => (
            &[
                [
                    "\"Should\" turns a wish into a rule; what do you want here?",
                    "Would you hold a friend to this rule?",
                    "Try \"I would like to\" instead of \"I should\".",
                ],
                [
                    "Rules about how things must be can add pressure without adding help.",
                    "What is realistic given today?",
                    "Being kind to yourself is not the same as giving up.",
                ],
            ],
            &[
                "Rewrite one \"should\" as \"I would like to\".",
                "Pick the smallest version of the task and do only that.",
            ],
        ),
        Labelling => (
            &[
                [
                    "You did something you regret; that is not who you are.",
                    "Would you call a friend that name for the same thing?",
                    "Describe what happened instead of naming yourself.",
                ],
                [
                    "A label sums up a whole person from one moment.",
                    "What are three things you have done well lately?",
                    "You are more than this mistake.",
                ],
            ],
            &[
                "Write one sentence about the behaviour, not about you.",
                "Name one strength someone has seen in you.",
            ],
        ),
        Personalisation => (
            &[
                [
                    "Many things led here; which of them were not yours to control?",
                    "Taking responsibility for your part is different from taking all of it.",
                    "What would a fair observer say about who did what?",
                ],
                [
                    "It is not all on you.",
                    "List everything that played a role, not just you.",
                    "What can you learn, without carrying it all?",
                ],
            ],
            &[
                "Draw a pie chart of everything that contributed.",
                "Say one kind sentence to yourself about this.",
            ],
        ),
    }
}

fn hash(text: &str) -> u64 {
    // FNV-1a: small, stable across runs and versions (a std hasher is not).
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Finds the fragments of `text`.
pub fn detect(text: &str) -> Vec<Fragment> {
    let chars: Vec<char> = text.chars().collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|c| {
            if matches!(c, '’' | '‘') {
                '\''
            } else {
                c.to_lowercase().next().unwrap_or(*c)
            }
        })
        .collect();
    let is_word = |c: char| c.is_alphanumeric() || c == '\'';
    // Every cue occurrence on word boundaries: (start, end, distortion, weight).
    let mut hits: Vec<(usize, usize, Distortion, f32)> = Vec::new();
    for (cue, d, w) in CUES {
        let cue: Vec<char> = cue.chars().collect();
        for i in 0..lower.len().saturating_sub(cue.len() - 1) {
            if lower[i..i + cue.len()] == cue[..]
                && (i == 0 || !is_word(lower[i - 1]))
                && lower.get(i + cue.len()).is_none_or(|c| !is_word(*c))
            {
                hits.push((i, i + cue.len(), *d, *w));
            }
        }
    }
    // A cue inside a longer cue of another kind gives way to it.
    let kept: Vec<_> = hits
        .iter()
        .filter(|(s, e, d, _)| {
            !hits
                .iter()
                .any(|(s2, e2, d2, _)| d2 != d && s2 <= s && e <= e2 && (e2 - s2) > (e - s))
        })
        .copied()
        .collect();
    // One fragment per sentence and distortion.
    let sentence = |at: usize| {
        let start = (0..at)
            .rev()
            .find(|&i| matches!(chars[i], '.' | '!' | '?' | '\n'))
            .map_or(0, |i| i + 1);
        let end = (at..chars.len())
            .find(|&i| matches!(chars[i], '.' | '!' | '?' | '\n'))
            .map_or(chars.len(), |i| i + 1);
        // Trim the leading spaces so the span starts at the first word.
        let start = (start..end).find(|&i| !chars[i].is_whitespace()).unwrap_or(start);
        (start, end)
    };
    let mut by: BTreeMap<(usize, usize, Distortion), (f32, usize)> = BTreeMap::new();
    for (s, _, d, w) in kept {
        let (a, b) = sentence(s);
        let e = by.entry((a, b, d)).or_insert((w, 0));
        e.0 = e.0.max(w);
        e.1 += 1;
    }
    by.into_iter()
        .map(|((start, end, category), (w, n))| Fragment {
            category,
            start,
            end,
            confidence: (w + 0.05 * (n as f32 - 1.0)).min(0.95),
        })
        .collect()
}

/// Reframes for `text`, for `category` or else its most confident fragment's.
/// A weekly insight from counts alone: what showed up most, and what went well.
pub fn insight(w: &WeekSummary) -> String {
    let mut parts = Vec::new();
    let written = w.sessions + w.turns;
    if written == 0 {
        parts.push("A quiet week for reflection: even one short entry next week can show you something.".to_owned());
    } else {
        parts.push(format!(
            "You made space to reflect {written} time{} this week.",
            if written == 1 { "" } else { "s" }
        ));
    }
    if let Some((cat, n)) = w
        .fragments
        .iter()
        .max_by_key(|(c, n)| (**n, std::cmp::Reverse(c.as_str())))
    {
        let name = cat.replace('_', " ");
        let hint = match Distortion::parse(cat) {
            Some(AllOrNothing) => "look for the middle ground between always and never",
            Some(Overgeneralisation) => "ask what one exception would look like",
            Some(Catastrophising) => "ask what is most likely, not only what is worst",
            Some(MindReading) => "check what you actually know about what others think",
            Some(ShouldStatements) => "try swapping one \"should\" for \"I'd like to\"",
            Some(Labelling) => "describe the moment instead of labelling yourself",
            Some(Personalisation) => "list what else played a part",
            None => "notice it gently when it comes back",
        };
        parts.push(format!(
            "The pattern that showed up most was {name} ({n}); next week, {hint}."
        ));
    }
    if w.actions_added > 0 {
        parts.push(format!(
            "You completed {} of {} lens actions.",
            w.actions_completed, w.actions_added
        ));
    }
    if w.saved_turns > 0 {
        parts.push(format!(
            "You kept {} reframe{} worth returning to.",
            w.saved_turns,
            if w.saved_turns == 1 { "" } else { "s" }
        ));
    }
    parts.join(" ")
}

pub fn reframe(text: &str, category: Option<Distortion>) -> Reframe {
    let category = category.or_else(|| {
        detect(text)
            .into_iter()
            .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
            .map(|f| f.category)
    });
    let h = hash(text);
    let (sets, actions) = templates(category.unwrap_or(AllOrNothing));
    let generic = [
        "What would you say to a friend who felt this way?",
        "What is one thing that is true and a little kinder?",
        "What do you know for sure, and what are you guessing?",
    ];
    let set = match category {
        Some(_) => sets[(h % sets.len() as u64) as usize],
        None => generic,
    };
    Reframe {
        reframes: set.map(str::to_owned),
        micro_action: actions[(h / 7 % actions.len() as u64) as usize].to_owned(),
    }
}

/// The deterministic provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct Builtin;

impl Provider for Builtin {
    async fn detect(&self, text: &str) -> Result<(Vec<Fragment>, Usage), GatewayError> {
        let found = detect(text);
        let usage = Usage {
            prompt_tokens: estimate_tokens(text),
            completion_tokens: 12 * found.len() as u32,
        };
        Ok((found, usage))
    }

    async fn reframe(&self, text: &str, category: Option<Distortion>) -> Result<(Reframe, Usage), GatewayError> {
        let r = reframe(text, category);
        let out: usize = r.reframes.iter().map(|s| s.len()).sum::<usize>() + r.micro_action.len();
        let usage = Usage {
            prompt_tokens: estimate_tokens(text),
            completion_tokens: (out as u32).div_ceil(4),
        };
        Ok((r, usage))
    }
}

/// The Lens affirmation templates: what Lens shows when no model writes the day's set.
pub const AFFIRMATIONS: &[&str] = &[
    "Small steps count. Today, one is enough.",
    "You can notice a thought without obeying it.",
    "Progress, not perfection.",
    "Be as kind to yourself as you would be to a friend.",
    "Done is a kind of brave.",
    "Your worth is not measured by today's to-do list.",
    "You have handled hard days before.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Distortion> {
        let mut k: Vec<_> = detect(text).into_iter().map(|f| f.category).collect();
        k.dedup();
        k
    }

    #[test]
    fn each_distortion_is_found_in_its_sentence() {
        let cases = [
            ("I always mess up presentations.", AllOrNothing),
            ("Nobody ever calls me back.", Overgeneralisation),
            ("If I fail this exam it will be a disaster.", Catastrophising),
            ("They must think I'm incompetent.", MindReading),
            ("I should be further along by now.", ShouldStatements),
            ("I'm such a failure at this.", Labelling),
            ("The team lost the client and it's my fault.", Personalisation),
        ];
        for (text, d) in cases {
            assert!(kinds(text).contains(&d), "{text:?}: {:?}", detect(text));
        }
        assert!(
            !kinds("They must think I'm incompetent.").contains(&ShouldStatements),
            "the longer cue wins"
        );
        assert!(detect("We had lunch by the river.").is_empty());
    }

    #[test]
    fn spans_are_character_offsets_of_the_sentence() {
        let text = "Café was fine. Then I ruined everything, as always!";
        let fragments = detect(text);
        let chars: Vec<char> = text.chars().collect();
        for f in &fragments {
            let span: String = chars[f.start..f.end].iter().collect();
            assert_eq!(span, "Then I ruined everything, as always!", "{f:?}");
            assert!((0.0..=0.95).contains(&f.confidence));
        }
        assert!(fragments.iter().any(|f| f.category == AllOrNothing));
        assert!(fragments.iter().any(|f| f.category == Personalisation));
        // Two cues of one kind in a sentence raise its confidence.
        let one = detect("I never finish.")[0].confidence;
        let two = detect("I never finish and never start.")[0].confidence;
        assert!(two > one);
    }

    #[test]
    fn reframes_are_three_and_deterministic() {
        let a = reframe("I always mess up presentations.", None);
        let b = reframe("I always mess up presentations.", None);
        assert_eq!(a, b);
        assert!(a.reframes.iter().all(|r| !r.is_empty()) && !a.micro_action.is_empty());
        let other = reframe("It will be a disaster.", Some(Catastrophising));
        assert_ne!(a.reframes, other.reframes);
        for d in Distortion::ALL {
            let (sets, actions) = templates(d);
            assert!(!sets.is_empty() && !actions.is_empty());
        }
    }
}
