//! Validated value objects. A command carries only these, so once a command exists its data is
//! valid. Each `parse` trims where a person would expect it and says what is wrong otherwise.
//!
//! Deserialising (from the event log) does not re-validate: events were validated when written,
//! and a later, stricter rule must never make history unreadable.

use serde::{Deserialize, Serialize};

use crate::DomainError;

fn bounded(field: &'static str, raw: &str, min: usize, max: usize) -> Result<String, DomainError> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min {
        return Err(DomainError::invalid(
            field,
            format!("must be at least {min} characters"),
        ));
    }
    if n > max {
        return Err(DomainError::invalid(field, format!("must be at most {max} characters")));
    }
    if s.chars().any(forbidden_control) {
        return Err(DomainError::invalid(field, "must not contain control characters"));
    }
    Ok(s.to_owned())
}

/// Control characters no text field takes (NUL above all: Postgres refuses `\u0000` in
/// JSON). Line breaks and tabs are text.
fn forbidden_control(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\r' | '\t')
}

/// Characters that change how the text around them is displayed without showing anything:
/// direction overrides and isolates (which can make a name read as someone else's).
fn bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{200E}' | '\u{200F}')
}

/// Characters that show nothing: spaces, zero-width and other format characters.
fn invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || bidi_control(c)
        || matches!(
            c,
            '\u{00AD}' | '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}'
                | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{206A}'..='\u{206F}'
                | '\u{2800}' | '\u{3164}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FE00}'..='\u{FE0F}'
                | '\u{1D159}' | '\u{1D173}'..='\u{1D17A}' | '\u{E0000}'..='\u{E007F}'
        )
}

/// A name people see next to content (a person, a workspace, a doc title): one line, at least
/// one visible character, no direction overrides.
fn name(field: &'static str, raw: &str, max: usize) -> Result<String, DomainError> {
    let s = bounded(field, raw, 1, max)?;
    if s.chars()
        .any(|c| matches!(c, '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}'))
    {
        return Err(DomainError::invalid(field, "must be one line"));
    }
    if s.chars().any(bidi_control) {
        return Err(DomainError::invalid(field, "must not contain text-direction controls"));
    }
    if s.chars().all(invisible) {
        return Err(DomainError::invalid(field, "must contain a visible character"));
    }
    Ok(s)
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_value!(
    /// An email address, lower-cased so that uniqueness is case-insensitive.
    Email
);
impl Email {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim().to_lowercase();
        let err = || DomainError::invalid("email", "is not a valid email address");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(err());
        }
        let (local, domain) = s.split_once('@').ok_or_else(err)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !domain.contains('@');
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(err());
        }
        Ok(Self(s))
    }
}

string_value!(
    /// An uploaded file's name: its last path segment (a client's `C:\\x\\a.pdf` is `a.pdf`),
    /// 1–255 characters on one line, no control or direction characters.
    FileName
);
impl FileName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
        let s = name("name", last, 255)?;
        if s == "." || s == ".." {
            return Err(DomainError::invalid("name", "is not a file name"));
        }
        Ok(Self(s))
    }
}

/// How many files one message or doc may carry.
pub const MAX_ATTACHMENTS: usize = 10;

string_value!(
    /// A person's display name: 1–80 characters.
    DisplayName
);
impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        name("name", raw, 80).map(Self)
    }
}

string_value!(
    /// A workspace name: 1–80 characters.
    WorkspaceName
);
impl WorkspaceName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        name("name", raw, 80).map(Self)
    }
}

string_value!(
    /// A channel name: 1–80 of lower-case letters, digits, `-` and `_`, as chat apps do, so that
    /// `#general` is one channel however it is typed.
    ChannelName
);
impl ChannelName {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim().trim_start_matches('#').to_lowercase();
        let s = bounded("name", &s, 1, 80)?;
        if !s.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
            return Err(DomainError::invalid(
                "name",
                "may contain only letters, digits, '-' and '_'",
            ));
        }
        Ok(Self(s))
    }
}

string_value!(
    /// A message body: 1–40,000 characters.
    MessageBody
);
impl MessageBody {
    pub const MAX_CHARS: usize = 40_000;
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded("body", raw, 1, Self::MAX_CHARS).map(Self)
    }
}

string_value!(
    /// A reaction: a `:shortcode:` or one short emoji sequence.
    Emoji
);
impl Emoji {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let s = raw.trim();
        let err = || DomainError::invalid("emoji", "must be one emoji or a :shortcode:");
        if s.is_empty()
            || s.len() > 64
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || bidi_control(c))
        {
            return Err(err());
        }
        let is_shortcode = s.len() >= 3
            && s.starts_with(':')
            && s.ends_with(':')
            && s[1..s.len() - 1]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+' || c == '-');
        // A unicode emoji sequence (with skin tones, ZWJ joins) is non-ASCII and short.
        let is_unicode = !s.is_ascii() && s.chars().count() <= 10;
        if is_shortcode || is_unicode {
            Ok(Self(s.to_owned()))
        } else {
            Err(err())
        }
    }
}

string_value!(
    /// A doc title: 1–200 characters.
    DocTitle
);
impl DocTitle {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        name("title", raw, 200).map(Self)
    }
}

string_value!(
    /// A doc body: up to 200,000 characters (may be empty).
    DocBody
);
impl DocBody {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        // Bodies keep their leading/trailing whitespace: it can be meaningful in a document.
        if raw.chars().count() > 200_000 {
            return Err(DomainError::invalid("body", "must be at most 200000 characters"));
        }
        if raw.chars().any(forbidden_control) {
            return Err(DomainError::invalid("body", "must not contain control characters"));
        }
        Ok(Self(raw.to_owned()))
    }
}

string_value!(
    /// A workspace join code: what an invitee types to join.
    JoinCode
);
impl JoinCode {
    /// Codes are made by the application layer from a CSPRNG; the domain only stores them.
    pub fn from_generated(code: String) -> Self {
        Self(code)
    }
    pub fn matches(&self, candidate: &str) -> bool {
        // Join codes are case-insensitive to be easy to read aloud.
        self.0.eq_ignore_ascii_case(candidate.trim())
    }
}

/// A password as typed at registration; never stored or serialised, only checked then hashed.
#[derive(Clone)]
pub struct Password(String);
impl Password {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let n = raw.chars().count();
        if n < 10 {
            return Err(DomainError::invalid("password", "must be at least 10 characters"));
        }
        if n > 256 {
            return Err(DomainError::invalid("password", "must be at most 256 characters"));
        }
        let distinct: std::collections::HashSet<char> = raw.chars().collect();
        if distinct.len() < 5 {
            return Err(DomainError::invalid("password", "is too easy to guess"));
        }
        Ok(Self(raw.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}
impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// How many people one text may notify by mention (a message naming the whole workspace is
/// what a channel is for).
pub const MAX_MENTIONS: usize = 20;

/// The handles `text` mentions: each `@word` not glued to a word before it (so an address such
/// as `a@b.c` mentions no one), lowercased, deduplicated, at most [`MAX_MENTIONS`]. A word is
/// letters, digits, `_`, `-` and inner dots; `@` followed by a user id names that user.
pub fn mentioned_handles(text: &str) -> Vec<String> {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == '.';
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let glued = prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '@');
        prev = Some(c);
        if c != '@' || glued {
            continue;
        }
        let rest = &text[i + 1..];
        let end = rest.find(|c: char| !word(c)).unwrap_or(rest.len());
        let handle = rest[..end].trim_end_matches('.').to_lowercase();
        if !handle.is_empty() && !out.contains(&handle) {
            out.push(handle);
            if out.len() == MAX_MENTIONS {
                break;
            }
        }
        while chars.peek().is_some_and(|(j, _)| *j < i + 1 + end) {
            prev = chars.next().map(|(_, c)| c);
        }
    }
    out
}

/// The handle a display name answers to in a mention: lowercased, without whitespace
/// ("Ada Lovelace" is `@adalovelace`).
pub fn handle_of(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn mentions_are_words_after_an_at_sign_not_addresses() {
        use super::{handle_of, mentioned_handles};
        assert_eq!(
            mentioned_handles("hi @Ada, see @bob.smith. and mail x@y.z @ada again @@no"),
            vec!["ada".to_owned(), "bob.smith".to_owned()]
        );
        assert_eq!(mentioned_handles("(@Zoë)"), vec!["zoë".to_owned()]);
        assert!(mentioned_handles("no one here @ all").is_empty());
        assert_eq!(handle_of("Ada  Lovelace"), "adalovelace");
        let many: String = (0..50).map(|i| format!("@u{i} ")).collect();
        assert_eq!(mentioned_handles(&many).len(), super::MAX_MENTIONS);
    }

    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ").map(|e| e.into_inner()),
            Ok("ann@example.com".into())
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.io",
            "ann@x",
            "a b@x.io",
            "ann@x..io",
            "ann@.x.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn control_characters_bidi_overrides_and_invisible_names_are_refused() {
        assert!(DocBody::parse("a\u{0}b").is_err(), "NUL");
        assert!(DocBody::parse("line one\r\nline two\ttab").is_ok());
        assert!(MessageBody::parse("bell\u{7}").is_err());
        assert!(MessageBody::parse("windows\r\nline").is_ok());
        assert!(
            MessageBody::parse("مرحبا \u{200F}").is_ok(),
            "direction marks are fine in text"
        );
        for bad in [
            "\u{202E}nimda",
            "ann\u{2066}x",
            "\u{200B}\u{200B}",
            "\u{FEFF}",
            " \u{200D} ",
            "a\nb",
        ] {
            assert!(DisplayName::parse(bad).is_err(), "{bad:?}");
            assert!(WorkspaceName::parse(bad).is_err(), "{bad:?}");
            assert!(DocTitle::parse(bad).is_err(), "{bad:?}");
        }
        assert!(DisplayName::parse("Zoë 😀").is_ok());
        assert!(WorkspaceName::parse("مساحة العمل").is_ok());
    }

    #[test]
    fn names_are_bounded() {
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"x".repeat(81)).is_err());
        assert_eq!(DisplayName::parse(" Ann ").map(|n| n.into_inner()), Ok("Ann".into()));
    }

    #[test]
    fn channel_names_are_normalised() {
        assert_eq!(
            ChannelName::parse("#General").map(|n| n.into_inner()),
            Ok("general".into())
        );
        assert!(ChannelName::parse("two words").is_err());
        assert!(ChannelName::parse("").is_err());
    }

    #[test]
    fn message_bodies_have_a_limit() {
        assert!(MessageBody::parse(&"a".repeat(40_000)).is_ok());
        assert!(MessageBody::parse(&"a".repeat(40_001)).is_err());
        assert!(MessageBody::parse("  ").is_err());
    }

    #[test]
    fn emoji_are_one_emoji_or_a_shortcode() {
        for ok in ["👍", ":thumbsup:", "👍🏽", ":+1:"] {
            assert!(Emoji::parse(ok).is_ok(), "{ok} refused");
        }
        for bad in ["", "hello", ":a b:", "👍 👍", "::"] {
            assert!(Emoji::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn weak_passwords_are_refused() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("aaaaaaaaaaaa").is_err());
        assert!(Password::parse("correct horse battery").is_ok());
    }
}

string_value!(
    /// What a person writes in their journal (a mirror message, a turn, a reflection):
    /// 1–8,000 characters.
    JournalText
);
impl JournalText {
    pub const MAX_CHARS: usize = 8_000;
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded("text", raw, 1, Self::MAX_CHARS).map(Self)
    }
}

string_value!(
    /// A lens goal's or action's title: 1–200 characters.
    GoalTitle
);
impl GoalTitle {
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        bounded("title", raw, 1, 200).map(Self)
    }
}

/// A subscription plan: it sets the daily allowances of the reflection features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    #[default]
    Free,
    Prism,
    PrismPlus,
}

impl Plan {
    pub const ALL: [Plan; 3] = [Plan::Free, Plan::Prism, Plan::PrismPlus];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Prism => "prism",
            Plan::PrismPlus => "prism_plus",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        Plan::ALL
            .into_iter()
            .find(|p| p.as_str() == raw)
            .ok_or_else(|| DomainError::invalid("plan", "must be one of free, prism, prism_plus"))
    }
}
