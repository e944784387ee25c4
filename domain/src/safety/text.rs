//! From a person's words to the tokens the rules match: lower-cased, contractions and chat
//! spellings spelled out, common misspellings of the words that matter corrected, each word
//! reduced to its Snowball (Porter 2) stem, and cut into clauses.
//!
//! Rules are written in plain words and go through the same [`stem`] when they are compiled,
//! so "killing myself", "killed myself" and "kill myself" meet in one pattern.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// One token of a clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// A word's stem, and its id in the lexicon's vocabulary ([`UNKNOWN`] for a word no rule
    /// names): rules rule out most positions by comparing ids.
    Word(String, u32),
    /// A comma (or a dash): patterns may span it, a negation's scope ends at it.
    Comma,
}

impl Tok {
    pub fn word(&self) -> Option<&str> {
        match self {
            Tok::Word(w, _) => Some(w),
            Tok::Comma => None,
        }
    }

    pub fn id(&self) -> u32 {
        match self {
            Tok::Word(_, id) => *id,
            Tok::Comma => UNKNOWN,
        }
    }
}

/// The id of a word no rule names.
pub const UNKNOWN: u32 = u32::MAX;

/// The stem of one already normalised word.
pub fn stem(word: &str) -> String {
    STEMMER.stem(word).into_owned()
}

/// Contractions, chat spellings and common misspellings, spelled out (after lower-casing).
fn expand(word: &str) -> Option<&'static str> {
    Some(match word {
        "can't" | "cant" | "cannot" | "cnt" => "can not",
        "won't" | "wont" => "will not",
        "don't" | "dont" | "dnt" => "do not",
        "doesn't" | "doesnt" => "does not",
        "didn't" | "didnt" => "did not",
        "wouldn't" | "wouldnt" => "would not",
        "shouldn't" | "shouldnt" => "should not",
        "couldn't" | "couldnt" => "could not",
        "isn't" | "isnt" => "is not",
        "aren't" | "arent" => "are not",
        "wasn't" | "wasnt" => "was not",
        "weren't" | "werent" => "were not",
        "haven't" | "havent" => "have not",
        "hasn't" | "hasnt" => "has not",
        "hadn't" | "hadnt" => "had not",
        "ain't" | "aint" => "am not",
        "i'm" | "im" | "i’m" => "i am",
        "i've" | "ive" => "i have",
        "i'd" => "i would",
        "i'll" => "i will",
        "it's" => "it is",
        "that's" | "thats" => "that is",
        "there's" | "theres" => "there is",
        "what's" | "whats" => "what is",
        "life's" => "life is",
        "he's" => "he is",
        "she's" => "she is",
        "they're" | "theyre" => "they are",
        "you're" | "youre" | "ur" => "you are",
        "they'd" => "they would",
        "you'd" => "you would",
        "we'd" => "we would",
        "they'll" => "they will",
        "we'll" => "we will",
        "we're" | "were'" => "we are",
        "she'll" => "she will",
        "he'll" => "he will",
        "you'll" => "you will",
        "wanna" | "wana" | "wannna" => "want to",
        "gonna" | "gunna" | "finna" => "going to",
        "gotta" => "got to",
        "tryna" => "trying to",
        "imma" | "ima" | "i'mma" => "i am going to",
        "kms" | "ctb" => "kill myself",
        "kys" => "kill yourself",
        "unalive" => "kill",
        "unalived" => "killed",
        "unaliving" => "killing",
        "sewerslide" | "suicde" | "sucide" | "suiside" | "sucicide" | "suicied" => "suicide",
        "sucidal" | "suicdal" | "suisidal" | "suicidle" => "suicidal",
        "u" | "ya" | "yu" => "you",
        "r" => "are",
        "rn" => "right now",
        "idk" => "i do not know",
        "idc" => "i do not care",
        "idgaf" => "i do not care",
        "bc" | "cuz" | "coz" | "cos" | "bcuz" | "becuz" => "because",
        "ppl" => "people",
        "every1" => "everyone",
        "no1" | "noone" => "nobody",
        "any1" => "anyone",
        "some1" => "someone",
        "b4" => "before",
        "2moro" | "2morrow" | "tmrw" | "tmr" | "tomoz" | "tomorow" | "tommorow" | "tommorrow" => "tomorrow",
        "2nite" | "2night" | "tonite" | "tonigt" => "tonight",
        "wknd" => "weekend",
        "smth" | "sth" | "smthn" => "something",
        "nvr" => "never",
        "n" => "and",
        "w" => "with",
        "wo" | "w/o" => "without",
        "anymore" | "anymor" | "anymre" => "anymore",
        "dissapear" | "disapear" | "dissappear" => "disappear",
        "myslef" | "mysef" | "myslf" | "meself" | "mself" | "myseld" => "myself",
        "od" | "oding" | "od'ing" => "overdose",
        "sh" => "selfharm",
        "pils" => "pills",
        "bein" | "bieng" => "being",
        "wan" => "want",
        "alive'" => "alive",
        "kil" | "kll" | "kiil" => "kill",
        "cuttin" | "cuting" | "cuttting" => "cutting",
        "cutt" => "cut",
        "lol" | "lmao" | "lmfao" | "haha" | "hahaha" | "rofl" | "xd" => "lol",
        _ => return None,
    })
}

/// Letters people write as digits or symbols, inside a word that has letters ("k1ll", "d3ad").
fn unleet(word: &str) -> String {
    let as_i = unleet_with(word, 'i');
    if word.contains('1') && expand(&as_i).is_none() && !FUZZY.contains(&as_i.as_str()) {
        let as_l = unleet_with(word, 'l');
        if expand(&as_l).is_some() || LEET_L.contains(&as_l.as_str()) || FUZZY.contains(&as_l.as_str()) {
            return as_l;
        }
    }
    as_i
}

/// Words whose `1`s are `l`s ("ki11", "b1eed").
const LEET_L: &[&str] = &[
    "kill", "killing", "killed", "bleed", "bleeding", "pills", "pill", "self", "blade", "blades", "slit",
];

fn unleet_with(word: &str, one: char) -> String {
    let starts_with_letter = word.chars().next().is_some_and(char::is_alphabetic);
    if !starts_with_letter || word.chars().all(|c| c.is_alphabetic() || c == '\'') {
        return word.to_owned();
    }
    word.chars()
        .map(|c| match c {
            '1' => one,
            '!' => 'i',
            '3' => 'e',
            '0' => 'o',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            c => c,
        })
        .collect()
}

/// Words whose misspellings are corrected: long enough that one slip of the finger does not
/// make another common word of them (so not "pills" → "bills").
const FUZZY: &[&str] = &[
    "suicide",
    "suicidal",
    "myself",
    "overdose",
    "overdosed",
    "overdosing",
    "goodbye",
    "goodbyes",
    "disappear",
    "disappeared",
    "paracetamol",
    "acetaminophen",
    "stockpile",
    "stockpiled",
    "stockpiling",
    "anymore",
    "everyone",
    "everybody",
    "tomorrow",
    "tonight",
    "forever",
    "without",
    "worthless",
    "existing",
    "existence",
    "yourself",
    "anyone",
    "someone",
    "nothing",
    "living",
    "because",
    "really",
    "wrists",
    "killing",
    "hanging",
];

/// Optimal string alignment distance, stopping early above `max`.
fn distance(a: &[char], b: &[char], max: usize) -> usize {
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > max {
            return max + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// A misspelled word that matters, corrected; anything else as it is.
fn correct(word: &str) -> &str {
    let n = word.chars().count();
    if n < 6 || FUZZY.contains(&word) {
        return word;
    }
    let w: Vec<char> = word.chars().collect();
    let max = if n >= 9 { 2 } else { 1 };
    FUZZY
        .iter()
        .find(|k| {
            let k: Vec<char> = k.chars().collect();
            // The first letter is rarely the one mistyped, and keeping it rules out most
            // real words that sit one edit away.
            k.first() == w.first() && distance(&w, &k, max) <= max
        })
        .copied()
        .unwrap_or(word)
}

/// Pairs of words that mean one thing.
fn merge(words: &mut Vec<String>) {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let next = words.get(i + 1).map(String::as_str);
        let merged = match (words[i].as_str(), next) {
            ("my", Some("self")) => Some("myself"),
            ("self", Some("harm" | "harming" | "harmed" | "injury" | "injure" | "injuring" | "mutilation")) => {
                Some("selfharm")
            }
            ("no", Some("one")) => Some("nobody"),
            ("sewer", Some("slide")) => Some("suicide"),
            _ => None,
        };
        let id = words[i] == "id"
            && matches!(
                next,
                Some(
                    "be" | "rather"
                        | "prefer"
                        | "just"
                        | "never"
                        | "love"
                        | "like"
                        | "been"
                        | "do"
                        | "have"
                        | "honestly"
                        | "pick"
                        | "choose"
                )
            );
        match merged {
            _ if id => {
                out.extend(["i", "would"].map(str::to_owned));
                i += 1;
            }
            Some(m) => {
                out.extend(m.split(' ').map(str::to_owned));
                i += 2;
            }
            None => {
                out.push(std::mem::take(&mut words[i]));
                i += 1;
            }
        }
    }
    *words = out;
}

/// Letters from other alphabets that look like Latin ones, invisible characters, a few emoji
/// that name a means, and a capital I inside a lower-case word (a disguised l: "kiII").
fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let prev_lower = out.chars().last().is_some_and(char::is_lowercase);
        match c {
            '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => {}
            'I' if prev_lower => out.push('l'),
            'і' | 'İ' | 'ı' | 'Ι' | 'ι' | 'І' => out.push('i'),
            'е' | 'Е' | 'ε' => out.push('e'),
            'о' | 'О' | 'ο' | 'Ο' => out.push('o'),
            'а' | 'А' | 'α' => out.push('a'),
            'с' | 'С' => out.push('c'),
            'р' | 'Р' | 'ρ' => out.push('p'),
            'у' | 'У' => out.push('y'),
            'х' | 'Х' => out.push('x'),
            'к' | 'К' | 'κ' => out.push('k'),
            'ѕ' => out.push('s'),
            '🔫' => out.push_str(" gun "),
            '🔪' => out.push_str(" knife "),
            '💊' => out.push_str(" pills "),
            '🪢' => out.push_str(" rope "),
            '🩸' => out.push_str(" blood "),
            c => out.push(c),
        }
    }
    out
}

/// Letters spelled out one by one ("k i l l", "k.i.l.l", "K-I-L-L", "s_u_i_c_i_d_e") joined
/// back into the word.
fn join_spelled(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let sep = |c: char| matches!(c, ' ' | '.' | '-' | '_' | '*' | '·');
    let lone = |i: usize| {
        chars[i].is_alphabetic()
            && (i == 0 || !chars[i - 1].is_alphanumeric())
            && chars.get(i + 1).is_none_or(|n| !n.is_alphanumeric())
    };
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        // A run of three or more lone letters, each one separator apart.
        let mut j = i;
        let mut letters = Vec::new();
        while j < chars.len() && lone(j) {
            letters.push(chars[j]);
            if j + 2 < chars.len() && sep(chars[j + 1]) && lone(j + 2) {
                j += 2;
            } else {
                j += 1;
                break;
            }
        }
        if letters.len() >= 3 {
            out.extend(letters);
            i = j;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Runs of three or more of one letter shortened to one ("dieeee", "killl"): chat stretches
/// words, the lexicon does not.
fn unstretch(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let mut j = i;
        while j < chars.len() && chars[j] == chars[i] {
            j += 1;
        }
        let run = j - i;
        let keep = if run >= 3 && chars[i].is_alphabetic() { 1 } else { run };
        out.extend(std::iter::repeat_n(chars[i], keep));
        i = j;
    }
    out
}

/// Normalised words (not yet stemmed), with `","` for commas and `"."` for clause ends.
pub fn words(text: &str) -> Vec<String> {
    let lower = join_spelled(&fold(text)).to_lowercase();
    let mut raw: Vec<String> = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, raw: &mut Vec<String>| {
        let w = cur.trim_matches(|c| c == '\'' || c == '*');
        if !w.is_empty() {
            raw.push(w.replace('*', ""));
        }
        cur.clear();
    };
    let chars: Vec<char> = lower.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let c = if matches!(c, '’' | '‘' | '`' | 'ʼ') {
            '\''
        } else {
            c
        };
        let inside = |i: usize| {
            chars.get(i.wrapping_sub(1)).is_some_and(|p| p.is_alphanumeric())
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
        };
        let digits_around = c == ':'
            && chars.get(i.wrapping_sub(1)).is_some_and(char::is_ascii_digit)
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if c.is_alphanumeric() || c == '\'' || c == '*' || (matches!(c, '@' | '$' | '!') && inside(i)) || digits_around
        {
            cur.push(c);
        } else if c == '-' && inside(i) {
            // "un-alive", "sui-cide": one word when the joined one matters; otherwise two
            // ("self-harm" is merged below).
            let next: String = chars[i + 1..].iter().take_while(|c| c.is_alphanumeric()).collect();
            let joined = format!("{cur}{next}");
            if expand(&joined).is_none() && !FUZZY.contains(&joined.as_str()) {
                flush(&mut cur, &mut raw);
            }
        } else {
            flush(&mut cur, &mut raw);
            match c {
                '.' | '!' | '?' | ';' | ':' | '\n' | '(' | ')' | '"' | '“' | '”' => raw.push(".".into()),
                ',' | '–' | '—' | '-' | '/' => raw.push(",".into()),
                _ => {}
            }
        }
    }
    flush(&mut cur, &mut raw);
    let mut out: Vec<String> = Vec::with_capacity(raw.len() + 8);
    for w in raw {
        let w = unstretch(&unleet(&w));
        match expand(&w) {
            Some(e) => out.extend(e.split(' ').map(str::to_owned)),
            None => {
                let w = w.trim_end_matches("'s").trim_matches('\'');
                let w = correct(w);
                match expand(w) {
                    Some(e) => out.extend(e.split(' ').map(str::to_owned)),
                    None if !w.is_empty() => out.push(w.to_owned()),
                    None => {}
                }
            }
        }
    }
    merge(&mut out);
    out
}

/// The clauses of `text`, each a run of stemmed tokens. Clauses end at sentence punctuation and
/// at the words that turn an argument ("but", "though", "however"): what comes after them is
/// said afresh.
pub fn clauses(text: &str) -> Vec<Vec<Tok>> {
    clauses_with(text, &|_| UNKNOWN)
}

/// [`clauses`], each word with its id from `vocab`.
pub fn clauses_with(text: &str, vocab: &dyn Fn(&str) -> u32) -> Vec<Vec<Tok>> {
    let mut out = Vec::new();
    let mut cur: Vec<Tok> = Vec::new();
    for w in words(text) {
        match w.as_str() {
            "." | "but" | "though" | "although" | "however" | "except" | "yet" => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            "," => {
                if !cur.is_empty() && cur.last() != Some(&Tok::Comma) {
                    cur.push(Tok::Comma);
                }
            }
            w => {
                let stem = stem(w);
                let id = vocab(&stem);
                cur.push(Tok::Word(stem, id));
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_spellings_contractions_and_typos_become_words() {
        assert_eq!(
            words("i cant do this, kms"),
            ["i", "can", "not", "do", "this", ",", "kill", "myself"]
        );
        assert_eq!(
            words("Im gonna k1ll myslef"),
            ["i", "am", "going", "to", "kill", "myself"]
        );
        assert_eq!(words("thinking about sucide"), ["thinking", "about", "suicide"]);
        assert_eq!(words("self-harm again"), ["selfharm", "again"]);
        assert_eq!(words("I’ve got bills"), ["i", "have", "got", "bills"]);
        assert_eq!(words("suiciide tomorow"), ["suicide", "tomorrow"]);
    }

    #[test]
    fn disguised_words_are_read_as_written() {
        for (disguised, plain) in [
            ("k i l l myself", "kill myself"),
            ("k.i.l.l myself", "kill myself"),
            ("K-I-L-L myself", "kill myself"),
            ("ki11 myself", "kill myself"),
            ("kiII myself", "kill myself"),
            ("un-alive myself", "kill myself"),
            ("i want to dieeee", "i want to die"),
            ("d\u{200B}ie", "die"),
            ("dіe", "die"),
        ] {
            assert_eq!(words(disguised).join(" "), plain, "{disguised}");
        }
        // Ordinary words keep their letters.
        assert_eq!(
            words("I'll see you at noon, a cool idea").join(" "),
            "i will see you at noon , a cool idea"
        );
        assert_eq!(words("a b, plan B").join(" "), "a b , plan b");
    }

    #[test]
    fn clauses_end_at_punctuation_and_at_but() {
        let c = clauses("Work was fine. But honestly I want to die");
        assert_eq!(c.len(), 2);
        assert_eq!(
            c[1].iter().filter_map(Tok::word).collect::<Vec<_>>(),
            ["honest", "i", "want", "to", "die"]
        );
    }
}
