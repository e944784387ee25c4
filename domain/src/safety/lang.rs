//! First-person crisis language in German, Spanish, French, Portuguese and Italian: a lexicon per
//! language, read on lower-case text with accents folded. The English rules (stems, clauses,
//! subject and tense) are far richer; these lexicons name the common ways of saying a wish to be
//! dead, ideation, a method, preparation, self-harm, farewell and the indirect forms, by family
//! (a verb in its persons and tenses, reflexive forms, euphemisms, chat spellings and typos).
//! Each language's view of the text is read in this order:
//!
//! 1. chat spellings are spelled out ("q" → "que", "jveux" → "je veux", "nn" → "non");
//! 2. idioms of exaggeration are cut out ("me muero de risa", "je meurs de faim", "questo
//!    lavoro mi ammazza");
//! 3. a phrase then counts unless a negation stands just before it or inside it ("nunca me
//!    mataría", "ich will nicht sterben"), or its clause says it is over, a story or the news, or
//!    an accident ("vor zwei Jahren", "beim Rasieren"), or, for a farewell or a giving away, the
//!    text gives an ordinary reason (a move, a retirement).
//!
//! Text in a language the gate cannot read at all is reported ([`unreadable`]) so it is counted
//! and never silently treated as safe.

use std::sync::{LazyLock, OnceLock};

use regex::{Regex, RegexBuilder};

use super::Category::{self, *};

/// What a language's lexicon reads besides its phrases, as patterns over the normalised text.
struct Context {
    /// Chat spellings and short forms, read as the words they stand for ("q" → "que", "nn" →
    /// "non"), word by word, before anything else.
    spellings: &'static [(&'static str, &'static str)],
    /// Idioms of exaggeration ("ich sterbe vor Hunger"), cut out before anything is read.
    idioms: &'static str,
    /// A negation among the three words before a phrase, or inside it where the phrase does not
    /// say one itself, denies it.
    negations: &'static [&'static str],
    /// Another language's negations that are ordinary words here (Portuguese "no": "in the").
    not_negations: &'static [&'static str],
    /// Words a negation does not reach past: a new clause ("il sait pas *que* tout est prêt").
    /// Only the phrase's own language's: French "mais" (but) is Portuguese "mais" (more).
    breakers: &'static [&'static str],
    /// In a phrase's clause: it is over ("vor zwei Jahren"), a story or the news.
    over: &'static str,
    /// In a phrase's clause: an accident ("beim Rasieren", "picando cebolla")...
    accident: &'static str,
    /// ...unless it was done on purpose ("mit Absicht").
    on_purpose: &'static str,
    /// Anywhere in the text: a farewell or a giving away has an ordinary reason (a move, a
    /// retirement, a trip), and is no preparation.
    explained: &'static str,
}

/// A language's lexicon: its [`Context`] compiled, and (category, phrase) patterns.
struct Lexicon {
    spellings: &'static [(&'static str, &'static str)],
    idioms: Regex,
    negations: &'static [&'static str],
    not_negations: &'static [&'static str],
    breakers: &'static [&'static str],
    over: Regex,
    accident: Regex,
    on_purpose: Regex,
    explained: Regex,
    phrases: Vec<Phrase>,
}

struct Phrase {
    cat: Category,
    re: Regex,
    /// The pattern's top-level alternatives. A negation an alternative says itself ("nicht mehr
    /// leben") is the phrase, not a denial of it: a match with a negation inside counts only if
    /// an alternative that names that negation matches all of it.
    alts: Vec<Alternative>,
}

struct Alternative {
    words: Vec<String>,
    source: String,
    /// Compiled when first needed (a negation inside a match is rare).
    anchored: OnceLock<Regex>,
}

impl Alternative {
    fn matches_all_of(&self, said: &str) -> bool {
        self.anchored
            .get_or_init(|| compile(&format!(r"^(?:{})$", expand(&self.source))))
            .is_match(said)
    }
}

/// The top-level alternatives of a pattern (its `|` outside groups and classes).
fn alternatives(pattern: &str) -> Vec<&str> {
    let (mut out, mut depth, mut class, mut escaped, mut from) = (Vec::new(), 0i32, false, false, 0);
    for (i, c) in pattern.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' => class = true,
            ']' => class = false,
            '(' if !class => depth += 1,
            ')' if !class => depth -= 1,
            '|' if !class && depth == 0 => {
                out.push(&pattern[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    out.push(&pattern[from..]);
    out
}

/// Compiles a lexicon pattern. Two shorthands keep the phrases readable: ` _ ` stands for up to
/// three other words ("will _ sterben": "will einfach nur sterben"; a negation among them
/// denies the match) and `$` for the end of a clause.
fn re(pattern: &str) -> Regex {
    compile(&format!(r"\b(?:{})(?:\b|$| )", expand(pattern)))
}

fn expand(pattern: &str) -> String {
    pattern.replace(" _ ", r"(?: \w+){0,3}? ").replace('$', r"(?: \||$)")
}

fn compile(pattern: &str) -> Regex {
    // The text is lower-cased with accents folded: ASCII word classes read it, and keep the many
    // gaps cheap (Unicode `\w` makes each one a large class). The patterns are constants; a test
    // compiles every one of them.
    RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .unwrap_or_else(|e| panic!("lexicon pattern {pattern:?}: {e}"))
}

fn lexicon(context: Context, phrases: &[(Category, &str)]) -> Lexicon {
    Lexicon {
        spellings: context.spellings,
        idioms: re(context.idioms),
        negations: context.negations,
        not_negations: context.not_negations,
        breakers: context.breakers,
        over: re(context.over),
        accident: re(context.accident),
        on_purpose: re(context.on_purpose),
        explained: re(context.explained),
        phrases: phrases
            .iter()
            .map(|(cat, p)| Phrase {
                cat: *cat,
                re: re(p),
                alts: alternatives(p)
                    .into_iter()
                    .map(|alt| Alternative {
                        words: alt
                            .split(|c: char| !c.is_ascii_lowercase())
                            .filter(|w| !w.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        source: alt.to_owned(),
                        anchored: OnceLock::new(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

static LEXICONS: LazyLock<Vec<(&'static str, Lexicon)>> = LazyLock::new(|| {
    vec![
        (
            "de",
            lexicon(
                Context {
                    // Chat and dialect: "nich", "ned", "nimmer" (nicht mehr).
                    spellings: &[
                        ("nich", "nicht"),
                        ("ned", "nicht"),
                        ("nimmer", "nicht mehr"),
                        ("nimma", "nicht mehr"),
                        ("is", "ist"),
                        ("selbsmord", "selbstmord"),
                    ],
                    // Exaggeration: "ich sterbe vor Hunger", "das bringt mich um", "für heute mach
                    // ich Schluss", "ich wär am liebsten gestorben" (from shame), "lieber sterben
                    // als".
                    idioms: r"sterbe? vor \w+|sterb gleich|ich dachte( \w+)? ich sterbe|zu tode \w+|todmude|todesangst|tot gelacht|\w*totlachen|\w*totargern|totgetanzt|sterbenslangweilig|todlich langweilig|schluss machen mit (ihm|ihr|dir)|(bringt|bringen|bringst) mich( noch| echt| total| bald)? (um|ins grab)|(fur heute|fur jetzt|fur diese woche|an dieser stelle|mit der arbeit) (mach|mache) ich schluss|am liebsten gestorben|lieber sterben als|(fast|beinahe) (gestorben|ertrunken|umgebracht)|konnte sterben fur|wie tot|ist tot|sind tot|(konnte|koennte|wurde) (ewig|fur immer|tagelang) schlafen",
                    negations: &["nicht", "nich", "nie", "niemals", "kein", "keine", "keinesfalls"],
                    not_negations: &[],
                    breakers: &["dass", "aber", "weil", "sondern"],
                    // Over ("früher", "vor zwei Jahren", "ritzfrei"), a story, the news, a
                    // statistic.
                    over: r"fruher|damals|vor (\w+ )?(jahren|monaten|wochen|jahr)|letztes jahr|als teenager|als ich( \w+){0,4}? (hab|habe|hatte)$|(ritz|clean|symptom)\w*frei|clean seit|krimi|roman|buch|film|serie|letzte folge|nachrichten|gelesen( \w+)? dass|studie|statistik|haufig\w*|bei (mannern|frauen|jugendlichen)|als ich (klein|ein kind|jung) war|bericht|doku|podcast|hauptfigur|tater",
                    // An accident: cooking, shaving, sport, the sun, a hot drink...
                    accident: r"beim (rasieren|kochen|schneiden|klettern|sport|joggen|basteln|putzen|backen|grillen|bugeln|fussball|training|essen)|in der sonne|sonnenbrand|am grill|zunge|lippe|am tee|am kaffee|an der suppe|zwiebel\w*|finger|herdplatte|backofen|bugeleisen|haare|versehen\w*|autsch|total blod",
                    // ...unless on purpose ("mit Absicht", "damit ich was spüre").
                    on_purpose: r"absichtlich|mit absicht|extra|bewusst|damit ich( \w+){0,2}? (was|etwas) spure|um (was|etwas) zu spuren|weil ich es verdient",
                    // A move, a retirement, a trip, a new job.
                    explained: r"in rente|ruhestand|umzug|ziehe( \w+)? (um|nach)|ziehen( \w+)? (um|nach)|im ausland|urlaub|ferien|neuen job|neue stelle|fang\w*( \w+){0,3}? (in|bei) \w+ an",
                },
                &[
                    // A wish to be dead or not to wake, said with "will", "möchte", "wünschte".
                    (
                        WishDead,
                        r"(will|mochte|moechte|mocht|wunschte|wuensche|wunsche|sehne mich)( ich)?( mir)? _ (sterben|tot sein|weg sein)|(will|mochte|moechte|mocht|wunschte|wuensche|wunsche)( ich)?( mir)? _ (nicht mehr (sein|leben|existieren|atmen)|nie wieder aufwachen|einschlafen und nie)|ich ware _ tot|ware ich _ tot|wenn ich tot ware|lieber tot|tot sein will|(will|mochte|moechte)( ich)? _ (nicht|nich) mehr (leben|atmen|existieren|aufwachen|da sein|hier sein)$|nicht mehr leben (will|mochte)|will nicht mehr$",
                    ),
                    (
                        WishDead,
                        r"(nicht mehr|nich mehr|nie wieder|nie mehr) (aufwache|aufwachen|aufzuwachen|existieren|weiterleben)|(erlebe|erleben|uberlebe) ich nicht mehr|nur noch einen ausweg|fur immer (schlafen|einschlafen)|schlafen( \|)? fur immer|lebensmude|lebensuberdrussig|(bin|bins) (es )?leid( \|)? zu leben|(wunsch\w*|mochte|will|sehne mich)( \w+){0,3}?( \|)? tot zu sein|(ware|war) (gern|gerne|lieber) tot|(mude|satt|uberdrussig) (vom|des) leben\w*|das leben satt|(keine lust|kein bock|keinen bock)( mehr)? (auf|aufs) (dieses |das |mein )?leben|nie geboren|aufhoren zu (sein|existieren|atmen|leben)|verschwinden( \|)? fur immer|(will|mochte)( einfach)?( nur)? noch (verschwinden|weg)$|(will|mochte) einfach (nur )?verschwinden$",
                    ),
                    // Death as the way out: "nur der Tod kann mich erlösen", "sehne mich nach dem
                    // Tod".
                    (
                        WishDead,
                        r"sehne mich nach dem tod|todessehnsucht|(nur )?der tod (kann|wurde|ware) (mich|die)( \w+)? (erlosen|erlosung|losung)|der einzige (weg|ausweg)( [\w|]+){0,5}? (ist )?(zu )?sterben|(mein|der) (einziger|letzter) ausweg|gedanken (kreisen|drehen sich)( \w+){0,2}? um (den tod|das sterben|suizid|selbstmord)|(furchte|angst)( \w+)?( \|)? sondern (es|ihn) (will|mochte)|verdien\w* (es )?nicht( mehr)? zu leben|keine zukunft( [\w|]+){0,4}? in der ich (noch )?(lebe|da bin)|(uberlebe|uberstehe)( [\w|]+){0,5}? will ich (es|das) (auch )?nicht|(enttauscht|traurig|wutend|sauer|schade)( [\w|]+){0,2}? dass ich (noch|immer noch) (da bin|lebe|am leben bin|aufgewacht bin)|dass es (aufhort|vorbei ist|endet)( \|)? fur immer|(aufhort|vorbei ist|vorbei)( \|)? fur immer|bereit( \w+)?( \|)? (ihm|ihr) zu folgen|ich bin bereit (zu gehen|zu sterben)$|(mit mir|mein leben) (ist es|ist)( \w+)? (bald )?vorbei|mein leben soll( \w+)? enden|(bald|dann) bin ich (nicht mehr da|weg|tot)",
                    ),
                    // Death as relief or a prayer, "warum lebe ich noch", a last Christmas, not
                    // lasting till tomorrow.
                    (
                        WishDead,
                        r"(der gedanke|die vorstellung|die idee)( \w+)? (zu sterben|an den tod|tot zu sein|an selbstmord|an suizid)( \w+)? (beruhigt|trostet|erleichtert)|sterben (ware|ist|scheint) (leichter|einfacher|besser|eine erlosung)|(warum|wozu|wieso) (lebe ich|bin ich)( \w+){0,2}? noch( am leben| da)?|(mein|das) letzte\w* (weihnachten|weihnachtsfest|geburtstag|silvester|sommer|winter)|(bete|bitte gott|hoffe)( \w+){0,3}?( \|)? (dass ich )?nicht mehr (aufwache|aufzuwachen)|(bete|bitte gott)( \w+){0,3}?( \|)? (dass er mich holt|mich zu holen|mich zu sich zu holen)|halte\w* (es )?nicht (mehr )?bis (morgen|heute abend|zum wochenende) durch|(schaffe|uberstehe|uberlebe) (es )?nicht (mehr )?bis morgen|ich bin nur noch eine last",
                    ),
                    // A season, a loved one who died, one way out I know, a pet given away "and I
                    // will not come back".
                    (
                        WishDead,
                        r"(den|das|die) (sommer|winter|fruhling|herbst|weihnachten|neue jahr|nachste jahr|geburtstag)( \w+){0,3}? nicht mehr (erleben|sehen|erlebe|sehe)|(will|mochte|gehe) (zu )?(meiner|meinem|meine|mein)? ?\w+ in den himmel|(einen|noch einen) (weg|ausweg)( raus)?( [\w|]+){0,4}? (ich kenne ihn|ich weiss (genau )?welche\w*)|(katze|kater|hund|tiere)( [\w|]+){0,8}? (ich )?komme? nicht (mehr )?zuruck|ohne mich (glucklicher|froher)",
                    ),
                    // Killing oneself: "mich umbringen" in its forms and typos, "bring ich mich
                    // um",
                    // hanging, a train, a bridge, a jump, driving into a tree, water.
                    (
                        ActiveIdeation,
                        r"mich( \w+){0,3}? (umbringen|umzubringen|umbringe|umbrigen|umbrignen|umbrinegn|toten|zu toten|erhangen|zu erhangen|aufhangen|aufzuhangen|vergiften|zu vergiften|erschiessen|zu erschiessen|ertranken|zu ertranken|ausloschen|auszuloschen)|(ich )?bring\w* (ich )?mich( \w+){0,3}? um|(tote|toete|erhange|erhaenge|vergifte|erschiesse|ertranke|ertraenke) (ich )?mich|(hange|haenge) (ich )?mich( \w+){0,3}? auf|(sturze|werfe) (ich )?mich (von|vom|vor|unter)( \w+){0,3}? (\w*brucke|dach|hochhaus|zug|gleise|balkon|fenster|klippe|auto|lkw)|(mein|meinen|einen) (suizid|selbstmord)versuch|mir (das|mein) leben (nehmen|zu nehmen)|nehm\w* mir( \w+){0,2}? (das|mein) leben|mir (das|mein) leben (nehme|nehmen|zu nehmen)|(niemand|keiner) (wurde|wird)( es)? (merken|bemerken|auffallen)( \|)? wenn ich (sterbe|weg bin|tot bin|nicht mehr da bin|verschwinde)|(selbstmord|suizid)(gedanken|gedanke|plane|absicht)?|suizidal\w*|(vor|unter) (den|einen|die|ein|eine)( \w+)? (zug|u bahn|s bahn|ubahn|lkw|bus|auto|laster|strassenbahn|tram)( zu)? (werfen|springen|legen)|bevor ich spring\w*|ich spring\w* (jetzt|gleich|heute)|(uberleg\w*|nachgedacht|denk\w*|will|mochte|wollte|drang)( \w+){0,3}? (zu springen|runterzuspringen|runter zu springen|hinunterzuspringen|runterspringen|mich( \w+){0,4}? (zu )?(sturzen|werfen|fallen lassen))|mich( \w+){0,4}? (von|vom|aus)( \w+){1,3}? (sturzen|zu sturzen|werfen|zu werfen|fallen lassen)|(vom|von der|von dem|von einer|von einem|aus dem) (\w+ )?(dach|\w*brucke|\w*bruecke|fenster|hochhaus|balkon|klippe|turm|parkhaus)( \w+){0,2}? (zu )?(springen|sturzen|runterspringen)|(fahr|fahre|fahren|rasen|lenke)( \w+){0,3}? gegen (einen|den|die|eine) (baum|wand|mauer|pfeiler|bruckenpfeiler|lkw)|gegen (einen|den|die|eine) (baum|wand|mauer|pfeiler|bruckenpfeiler|lkw)( \w+){0,2}? (fahr|fahre|fahren|rasen|zu fahren)|lenkrad( \w+){0,2}? (rumreissen|rumzureissen|herumreissen|herumzureissen|verreissen|zu verreissen)|(wasser|see|fluss|meer)( \w+){0,3}? (gehe|gehen|geh|zu gehen)( \w+){0,2}? (und|bis)( \w+){0,3}? (nicht mehr zuruck\w*|untergehen|untergehe|ertrinken|keinen boden)|(geh|gehe) ich in den (see|fluss)|bis ich keinen boden mehr|tu\w* mir( \w+){0,2}? (was|etwas) an|mir (was|etwas) (anzutun|antun)|(gleise|gleisen|brucke|bruecke|zug|dach|abgrund|kante)( [\w|]+){0,8}? hatte den mut|wunsch\w*( \|)? (der|ein|dass der|dass ein|das|dass mich) \w+ (hatte|wurde|mochte) mich( \w+){0,2}? (erwischt|uberfahren|erfasst|getroffen|mitgenommen|uberrollt|erwischen|uberfahrt)",
                    ),
                    // Saying when: "es heute beenden", "mach ich Schluss", "der Plan steht".
                    (
                        Intent,
                        r"(meinem|dem) leben ein ende|allem ein ende (setzen|machen|bereiten)|es (heute|morgen|endlich|jetzt|bald) (beenden|beende|tun|tue|mache)|alles beenden|(mein|das) leben beenden|(beende|beenden|beendige) (ich )?mein leben|(will|werde|mochte|wurde) _ es _ beenden|ich es _ (beende|durchziehe)|(mach|mache) ich schluss$|ich (mach|mache) _ schluss$|schluss (zu )?(machen )?mit (allem|mir|dem leben|meinem leben)|schluss zu machen( \|)? mit allem|(wieder|neu) (mit dem )?ritzen angefangen|auch mit mir$|(angst|vorgenommen|beschlossen|entschieden)( \w+){0,2}?( \|)? (dass )?ich es( \w+){0,3}? (mache|tue|tu|durchziehe)$|(vorgenommen|beschlossen|entschieden)( \|)? es( \w+){0,4}? zu tun|(mein|der) plan steht|das datum steht( fest)?$|wenn (alle|keiner|niemand)( \w+){0,6}? (weg|schlaft|schlafen|sind|ist)( \|)? (mache|mach|tu|tue) ich es|es( \w+){0,2}? nicht getan( [\w|]+){0,3}? morgen|raus hier( \|)? endgultig|(einen|meinen) plan und (ein|das|einen) (datum|termin)|weiss (schon|genau) wie ich es (mache|tue|anstelle)|fehlt (mir )?nur (noch )?der mut|(heute|morgen|bald|heute nacht) (werde|werd) ich es tun|ich (werde|werd) es (heute|morgen|bald|heute nacht) tun|(angst|gefahr)( [\w|]+){0,4}? eine dummheit zu (machen|begehen)|ich (mach|mache) (heute|gleich|noch) eine dummheit|(nicht mehr )?vor( \|)? lange zu (bleiben|leben)|nicht (mehr )?vorhabe( \|)? \d+ zu werden",
                    ),
                    // Means and the search for them: pills hoarded or counted, a rope ready, a
                    // blade, a bridge chosen, the exhaust in a closed garage.
                    (
                        Method,
                        r"(von|vor) (der|die|den) (brucke|bruecke|zug|gleise|u bahn)|pulsadern|strick|uberdosis|ueberdosis|alle (meine )?\w*tabletten|\w*tabletten (sammeln|gesammelt|horten|gehortet|schlucken|zusammen)|(sammle|sammel|horte|hamstere|zahle)( \w+){0,5}? \w*tabletten|(ganze|alle) (packung|tabletten|pillen)\w*( \w+)? (geschluckt|genommen|schlucken|nehmen)|(nehm|nehme|schluck|schlucke) ich (alle|die ganze)|wie (viele|viel) (\w+ )?(tabletten|pillen|mg|milligramm)|(todliche|letale) dosis|(gegoogelt|googel\w*|recherchiert|nachgelesen|nachgeschaut)( \w+){0,2}?( \|)? wie (man|ich)( \w+){0,3}? (stirbt|sterbe|umbringt|umbringe|schnell\w*|schmerzlos\w*)|(seil|strick|schlinge)( \w+){0,2}? (liegt|hangt|ist|hab|habe)( \w+)? (schon|bereit|bereits|versteckt|vorbereitet|geknupft)|(seil|strick|tabletten|pillen|klinge|klingen|messer|gift)( [\w|]+){0,6}? (weiss|weis)( ich)? (genau|schon|ganz genau)( \|)? wofur|meinen (selbstmord|suizid)|(\w*tabletten|pillen|seil|strick|klinge)( \w+){0,2}? (bereitgelegt|bereit gelegt|bereitgestellt|zurechtgelegt|liegen bereit|parat)|(\w*tabletten|pillen|bahnhof|gleise|brucke|seil)( [\w|]+){0,4}? aber nicht( \|)? (zum|um)|(rasier)?klinge\w*( [\w|]+){0,6}? (denk\w*|ausweg|bereit|versteckt|drang)|(welche|die richtige) (\w*brucke|\w*bruecke|stelle|methode)( es)? (wird|nehme)|hochste (\w+ )?(\w*brucke|\w*bruecke|hochhaus|gebaude|dach)( \w+){0,3}? (gegoogelt|gesucht|nachgeschaut|rausgesucht|recherchiert)|(gegoogelt|gesucht|nachgeschaut|recherchiert)( [\w|]+){0,5}? hochste|wie hoch( \w+){0,4}? (\w*brucke|\w*bruecke|hochhaus|dach|turm|balkon)|hoch genug$|(guterzug\w*|zuge|zug)( \w+)? (durchfahr\w*|vorbeifahr\w*)|garage( [\w|]+){0,10}? motor( \w+){0,2}? (laufen|an)|(schlauch|abgase)( \w+){0,3}? auspuff|wie ich( s| es)?( am besten)? (mache|tue|anstelle)( \|)? (damit|dass) es schnell",
                    ),
                    // An act under way: pills just taken, drinking "until everything stops", on the
                    // roof "before I jump", walking into the sea.
                    (
                        Method,
                        r"(eben|grad|gerade|soeben|vorhin) (alle|die ganze|die)( \w+){0,2}? (genommen|geschluckt)|(ganze|alle)( meine| die)? (packung|\w*tabletten|pillen|medikamente)\w*( \w+)? (geschluckt|genommen)|jetzt (wart|warte) ich$|(trink\w*|sauf\w*|nehm\w*|schluck\w*)( [\w|]+){0,4}? bis (alles|ich)( \w+){0,2}? (aufhort|nicht mehr aufwache|schwarz wird|dunkel wird|tot bin|umfalle)|bevor ich (runter|hinunter)?spring\w*|(ins meer|ins wasser|in den see|in den fluss)( [\w|]+){0,5}? (und hore nicht auf|nicht mehr zuruck|bis ich keinen boden|und dann weiter|untergehe)",
                    ),
                    // Looking up how ("wie man sich erhängt"), "kann so nicht weiterleben", "muss
                    // sterben, damit es aufhört", "wenn ich gehe, für immer", "zur Brücke und
                    // spring".
                    (
                        Intent,
                        r"wie man sich( \w+)? (erhangt|aufhangt|umbringt|totet|vergiftet|die pulsadern)|kann (so )?nicht (mehr )?(so )?weiterleben|kann so nicht mehr leben|(muss|sollte) sterben( \|)? damit|sterben( \|)? damit (es|das|der schmerz|alles) aufhort|wenn ich gehe( \|)? fur immer|(zur|zu der|auf die|aufs) (\w*brucke|dach|hochhaus|klippe)( [\w|]+){0,3}? und (spring|springe|spring ich)",
                    ),
                    // Readying for after: goodbye letters, affairs settled, pets and things given
                    // away "because I won't need them", a last entry, a secret farewell.
                    (
                        Preparation,
                        r"abschieds(brief|video|nachricht|text|mail|zeilen|post)\w*|(ich|hab|habe)( \w+){0,4}? testament (gemacht|geschrieben|aufgesetzt|aktualisiert)|lebt wohl|mich verabschieden fur immer|wenn ich (nicht mehr|nich mehr)( da| hier)? (bin|ware)|wenn ich (tot|weg) bin( [\w|]+){0,4}? (endlich|ruhe|frieden|besser)|(vermissen|merken|auffallen)( [\w|]+){0,3}? wenn ich (tot|weg) bin|brauch\w*( ich)?( sie| es| ihn| das| die| den)?( ja)? (eh|sowieso|dann eh|ja eh)( \w+)? nicht(s)? mehr|(verschenkt|gegeben|geschenkt|verkauft|gekundigt|weggegeben|abgemeldet|aufgelost)( [\w|]+){0,10}? (werde|werd) (es|sie|ihn|das|das alles|nichts)( \w+)? (nicht )?mehr brauchen|danach brauch\w* ich( \w+)? nichts mehr|(werd|werde|kann) mich ja( eh| dann)? nicht mehr|mein letzter eintrag|(schon|bereits) alles (vorbereitet|geregelt|organisiert)$|alles geregelt|wer (die|meine|den|meinen) (katze|hund|kinder|tiere) (nimmt|bekommt)|verabschiedet( \|)? ohne dass|(tschuss|lebewohl|auf wiedersehen)( gesagt)?( \|)? fur immer|(gesagt|umarmt|gesehen|angerufen|gekusst|gedruckt)( [\w|]+){0,3}? (es war|das war) das letzte mal|nach mir nichts( \w+)? (ubrig|bleibt)|wer mich findet|wenn (sie|man|jemand) mich (findet|finden)|fur die zeit danach|wenn ich es( \w+){1,2}? tue",
                    ),
                    // Self-harm: cutting ("ritzen", "aufschneiden"), burning, scalding, hitting,
                    // biting, reopening wounds.
                    (
                        SelfHarm,
                        r"(ich )?ritze mich|ich ritz|(mich|mir)( \w+){0,4}? (ritze|ritzen|geritzt|aufgeritzt|aufzuritzen|zu ritzen|aufritzen|rumgeritzt|verletzt|verletzen|zu verletzen|geschnitten|schneiden|aufzuschneiden|aufschneiden|aufgeschnitten|wehtun|weh tun|wehzutun|weh zu tun|wehgetan|weh getan)|(verletze|verletz|schneide|ritze|verbrenne|kratze|schlage) mich|(schneide|ritze) mir (in )?(die|den|meine|meinen) (arme|arm|beine|bein|handgelenke|oberschenkel|haut)|(verletze|schneide|ritze|verbrenne) ich mich|mir( \w+){0,6}? (aufgeschlitzt|aufgeschnitten|aufzuschlitzen)|an mir( \w+)? (rumgeschnitten|rumschneiden|herumgeschnitten|rumgeritzt)|(hab|habe)( \w+){0,2}? wieder geschnitten|(mich|mir)( \w+){0,6}? (verbrannt|verbruht|zu verbrennen|verbrennen)|absichtlich( \w+){0,6}? (verbrannt|verbruht|geschnitten)|bis (es|ich|die \w+|das \w+)( \w+)? (blutet|blutete|geblutet|blute)|(kopf|schadel|faust)( \w+){0,2}? gegen (die|eine|den) (wand|tur|mauer|spiegel)( \w+)? (geschlagen|schlagen|gehauen|gerammt|geknallt)|schlag\w* mir( \w+){0,2}? ins gesicht|(narben|wunden|krusten)( \w+){0,3}? (heilen|verheilen) nie( [\w|]+){0,8}? (aufmache|aufkratze|aufreisse)|(narben|wunden|krusten)( [\w|]+){0,6}? (aufmache|aufkratze|aufreisse|aufmachen|aufkratzen|aufreissen|aufgekratzt|aufgerissen)|kratz\w* mich auf|narben( [\w|]+){0,5}? (neue|dazu)( \w+)? (gemacht|geritzt|geschnitten)",
                    ),
                    // Burden and "better off without me".
                    (
                        Indirect,
                        r"ohne mich (besser|besser dran|leichter)|(allen|nur)( noch)? (eine )?last|(nur )?eine (belastung|zumutung) fur (alle|jeden|meine familie)|kein(en)? (grund|sinn) mehr (zu leben|weiterzuleben|weiterzumachen)|keinen sinn mehr( \|)? weiterzumachen|keinen grund( \w+){0,2}?( \|)? (morgen )?noch (da zu sein|zu leben|weiterzumachen)|nicht mehr weiterleben|(besser|leichter)( [\w|]+){0,4}? wenn ich (nicht mehr|nicht|weg)( da| hier)? (ware|bin)|(besser|am besten|leichter)( [\w|]+){0,4}? wenn ich (einfach )?(sterbe|sterben wurde|tot ware)|keine kraft mehr (zu leben|weiterzuleben|fur das leben)|(keiner|niemand) (wird|wurde) mich vermissen|(niemandem|keinem) (auffallen|fehlen)",
                    ),
                ],
            ),
        ),
        (
            "es",
            lexicon(
                Context {
                    // Chat: "q", "xq", "kiero", "toy", "d".
                    spellings: &[
                        ("q", "que"),
                        ("k", "que"),
                        ("ke", "que"),
                        ("xq", "porque"),
                        ("pq", "porque"),
                        ("porq", "porque"),
                        ("kiero", "quiero"),
                        ("qiero", "quiero"),
                        ("toy", "estoy"),
                        ("stoy", "estoy"),
                        ("estoi", "estoy"),
                        ("aki", "aqui"),
                        ("nunk", "nunca"),
                        ("tb", "tambien"),
                        ("tmb", "tambien"),
                        ("x", "por"),
                        ("d", "de"),
                        ("pa", "para"),
                        ("xa", "para"),
                    ],
                    // Exaggeration: "me muero de risa", "este trabajo me mata" (said of something
                    // else), "me mato a trabajar", "muerta de cansancio", "me tiré a la piscina"
                    // (took the plunge), a past attempt.
                    idioms: r"intento de (suicidarme|matarme|quitarme la vida)|(lanz|tir)\w* a la piscina|mor\w* de (risa|verguenza|la verguenza|hambre|sueno|calor|frio|aburrimiento|ganas|envidia|amor|miedo|la risa|cansancio|pena)|muert[oa]s? de (cansancio|sueno|risa|hambre|frio|calor|miedo|verguenza)|me (mata|matan|esta matando|estan matando|va a matar|van a matar|vas a matar)|me mato (a|de|trabajando|estudiando|entrenando)|casi me (mato|ahogo|ahogue)|(va|van) a acabar conmigo|me va a llevar a la tumba|pense que me moria|casi me muero|(q|que) me muero|mataria por|prefiero morirme antes|hasta morir|de muerte|medio muert[oa]|muertisim[oa]|me dejo muert[oa]|tir\w* a la piscina|(he|me) tirado( \w+){0,3}? (sofa|cama)",
                    negations: &["no", "nunca", "jamas", "ni"],
                    not_negations: &[],
                    breakers: &["que", "q", "pero", "porque"],
                    // Over ("hace dos años", "antes tenía", "llevo seis meses sin"), a story, the
                    // news.
                    over: r"hace (anos|mucho tiempo)|hace (un|una|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|\d+|unos|unas|algunos|muchos|mucho|tiempo)( \w+)?( anos| ano| meses| mes| semanas| tiempo)?|antes (tenia|me \w+aba|era|queria)|de adolescente|el ano pasado|la epoca en (que|la que)|quedo atras|llevo \w+ (meses|anos|semanas|dias) sin|me alegra seguir|novela|libro|pelicula|serie|noticias|reportaje|documental|podcast|capitulo|protagonista|prevencion|lei que|(un|segun|segun un) estudio|estadistica|articulo|mas comun|(en|entre) (los )?(hombres|mujeres|jovenes)|tasa|de (pequen[oa]|nin[oa]|chic[oa])",
                    // An accident: cooking, shaving, a haircut, sport, a hot drink...
                    accident: r"picando|cocinando|cebolla|el dedo|afeitando\w*|afeitarme|el pelo|flequillo|la barba|las unas|sarten|horno|plancha|sin querer|torpe|por accidente|jugando|al futbol|entrenando|la lengua|el te|el cafe|la sopa|(un|el|con) papel|una hoja|un folio|en el gimnasio|me cai|al caer|comiendo|accidentalmente|el sol|la playa",
                    // ...unless on purpose ("a propósito", "para sentir algo").
                    on_purpose: r"a proposito|adrede|aposta|queriendo|para sentir( algo)?|me lo merezco|como castigo",
                    // A move, a retirement, a trip, a new job.
                    explained: r"me jubilo|jubilacion|me mudo|mudanza|me voy a vivir|erasmus|de viaje|vacaciones|empiezo en|nuevo trabajo|me traslad\w*",
                },
                &[
                    // A wish to be dead, not to wake, to stop existing.
                    (
                        WishDead,
                        r"(quiero|kiero|qiero|quisiera|queria|me gustaria|deseo|ganas de|prefiero) _ (morir\w*|estar muert[oa]|estar bajo tierra|dejar de existir|dejar de ser|desaparecer para siempre)|(quiero|quisiera|queria|me gustaria|deseo|ganas de|prefiero) _ (no despertar\w*|no existir|no volver a despertar)|me (quiero|kiero|qiero) morir|ganas de morir\w*|ojala (me muriera|me muera|estuviera muert[oa]|no despertar\w*|no hubiera nacido|no haber nacido)|ojala (el|la|un|una) \w+ me (hubiera|hubiese) (atropellado|arrollado|matado|llevado)|prefiero estar (muert[oa]|bajo tierra)|mejor (estar )?muert[oa]|no quiero (seguir )?(vivir|viviendo|respirando|existiendo|aqui|estar aqui|despertar\w*)$|no quiero seguir (aqui|viv\w*|respirando|existiendo|en este mundo)|no quiero estar en este mundo|no quiero seguir$|no (quiero )?despertar\w* (nunca|mas|jamas)( mas)?|no quiero despertar\w*$|no quiero (vivir|despertar) (mas|nunca)|(cansad[oa]|hart[oa]|agotad[oa]) de (vivir|existir|la vida)|me canse de (vivir|luchar|existir)|(cansad[oa]|hart[oa]) de luchar$",
                    ),
                    (
                        WishDead,
                        r"dormir\w* para siempre|quedarme dormid[oa] para siempre|dormir\w*( \w+){0,3}? y (ya )?no (volver|despertar\w*)|no despertar (nunca|mas|jamas)|no volver a despertar\w*|no quiero volver a despertar\w*|deseando no despertar|sentido a (seguir|estar) viv\w*|razon (para|a) (seguir|estar) viv\w*|no (le )?(encuentro|veo|tengo) (sentido|razon)( \w+)? (a|para|de) (seguir|estar) viv\w*|que (todo )?se acabe( todo)? para mi|(quiero|quisiera|ojala)( \w+)? (que|q) (todo )?(se )?(acabe|termine|apague)( todo)?( ya| para siempre| de una vez)?$|que se apague todo|ganas de (no existir|dejar de existir|desaparecer)|desaparecer para siempre|(decepciona|pena|lastima)( \w+)? (seguir|estar|despertar) viv[oa]|no merezco (vivir|estar viv[oa]|seguir viv[oa])|futuro (en el que|donde) (siga|este|sigo) viv[oa]|(no se si|no creo que) (llego|llegue|llegare) (a|al|hasta)( \w+){1,3}?( [\w|]+){0,5}? (no quiero llegar|tampoco (lo )?(voy a intentar|quiero))|(no tengo|sin) ganas de seguir( viviendo)?$|(no tengo|sin) ganas de vivir|(no puedo mas|no aguanto mas)( [\w|]+){0,3}? quiero desaparecer$|muert[oa] (en vida|por dentro)( [\w|]+){0,4}? (que sea de verdad|quiero acabar)",
                    ),
                    // Death as the way out: "solo la muerte me va a liberar", "la deseo".
                    (
                        WishDead,
                        r"la muerte (me parece|es|seria) (un descanso|la (unica )?(salida|solucion)|una liberacion|un alivio)|(solo )?la muerte (me )?(va a liberar|libera|liberaria|me liberara)|la muerte( [\w|]+){0,5}? la (deseo|quiero)|no le tengo miedo a la muerte( \|)? (la quiero|la deseo)|la (unica )?salida( \w+){0,3}? (es )?(morir\w*|la muerte|matarme|suicidarme)|me imagino mi (funeral|entierro)( [\w|]+){0,3}? (alivio|paz|tranquil\w*)|(reunirme|irme|estar) con (mi|mis) \w+( [\w|]+){0,5}? (que en paz descanse|en el cielo)|falta poco para (irme|matarme|que me vaya|acabar)",
                    ),
                    // Death as relief or a prayer, "¿por qué sigo vivo?", a last Christmas, not
                    // lasting till tomorrow.
                    (
                        WishDead,
                        r"(rezo|pido|le pido a dios|ruego)( \w+){0,3}? (para )?(no despertar\w*|que me lleve|llevarme|morir\w*)|(dios|alguien) (me lleve|que me lleve)|(la idea|pensar) de morir( \w+)? me (calma|tranquiliza|alivia|da paz)|morir (seria|es) (mas facil|mejor|un alivio)|(por que|porque|pa que|para que|xq|pq) (sigo|estoy|sigo estando) viv[oa]|mi ultim[oa] (navidad|cumpleanos|verano|invierno|ano)|no llego (a|al|hasta) (manana|la noche|el lunes|el viernes)$|si (me muriera|muriera|me muero|desapareciera) hoy( \w+)?( \|)? (seria|es) (un alivio|mejor|lo mejor)|nadie (notaria|se daria cuenta|lo notaria|me buscaria)( \w+)?( \|)? si (desapareciera|me muriera|no estuviera|me fuera|me muero)|(me estoy despidiendo|despedirme|me despido) de la vida",
                    ),
                    // A season, a loved one who died, one way out I know, a pet given away "and I
                    // will not come back".
                    (
                        WishDead,
                        r"no (voy a ver|vere|llego a|llegare a|pasare) (el|la|las) (verano|invierno|primavera|otono|navidad|navidades|ano nuevo|proximo ano)|(irme|ir|reunirme)( \w+)? con (mi|mis) \w+( \w+)? al cielo|(irme|ir) al cielo|(solo|una sola) (hay )?una salida( [\w|]+){0,3}? (se|yo se) cual|(gato|perro|mascota)( [\w|]+){0,8}? no (voy a volver|vuelvo|pienso volver)|mas (feliz|felices) sin mi",
                    ),
                    // Killing oneself: the verb's forms ("me mato", "me quiero matar", "quitarme la
                    // vida", "suisidarme"), hanging, jumping, the rails, water, the car.
                    (
                        ActiveIdeation,
                        r"matarme|me (quiero|voy a|pienso|tengo que) (matar|suicidar)|me (mato|matare|mataria|suicido|suicidare|suicidaria)|suicidarme|suisidarme|suicidandome|(pensamientos|ideas|ideacion|impulsos) suicidas?|(el|del|al|en el) suicidio|(soy|estoy|me siento) suicida|quitarme la vida|me (\w+ ){0,2}?(quito|quitar|quitare|quitaria) la vida|quitarme de en medio|me quito de en medio|ahorcarme|colgarme|envenenarme|ahogarme|me ahorco|me enveneno|(pegarme|me pego|me voy a pegar) un tiro|(mi|un) intento de suicidio|me (quiero |voy a )?ahogar|(me daria igual|da igual|prefiero) no despertar\w*|(tirarme|me (quiero |voy a )?tirar|lanzarme|me lanzo|me tiro|aventarme|arrojarme) (del|de un|de una|de la|desde|por|bajo|debajo)|(tirarme|me (quiero |voy a )?tirar|lanzarme|me lanzo|me tiro|aventarme|arrojarme) (al|a la|a las|a los|a un|a una) (vacio|rio|mar|tren|metro|vias|via|trafico|carretera|autopista|coche|camion|autobus|precipicio|barranco|abismo)|pens\w* en (saltar|tirarme|lanzarme)|(quiero|voy a|pienso) saltar( \w+){0,3}? (del|desde|de un|de la)|(meterme|entrar|adentrarme|caminar) (al|en el|hacia el|en la) (mar|rio|lago|agua)( \w+){0,3}? y (no volver|no salir|hundirme)|pens\w* en (dar un volantazo|estrellarme|chocar)|estrellarme (contra|con el coche)|volantazo y (acabar|terminar)|no (pienso |voy a )?tomar la (ultima )?curva|(irme|me voy|me quiero ir|me vaya|voy a ir)( \w+){0,2}? de este mundo|dejar este mundo|(vias|puente|azotea|balcon|tren|precipicio|borde)( [\w|]+){0,8}? (tener|tuviera) el valor",
                    ),
                    // Saying when: "lo hago el viernes", "esta noche se acaba", "acabar con todo".
                    (
                        Intent,
                        r"acabar con (mi vida|todo)|terminar con (mi vida|todo)|ponerle fin a (mi vida|todo)|(quiero|voy a) ponerle fin$|poner fin a (mi vida|todo)|mi vida (debe|tiene que|va a) (terminar|acabar)|esta noche (lo hago|se acaba)|(quiero|voy a|pienso|deberia) acabar conmigo|otra salida que|no (veo|hay|tengo|encuentro) otra salida( que)?|me voy del todo|ya tengo (la )?fecha|cuando me mate|irme con (el|ella) para siempre|me vaya para siempre|(me voy|me quiero ir|irme) para siempre$|dejarlos libres de mi|(el|este|esta) (lunes|martes|miercoles|jueves|viernes|sabado|domingo|noche|finde) lo (hago|hare)|lo voy a hacer( \w+){0,2}? (el|este|esta) (lunes|martes|miercoles|jueves|viernes|sabado|domingo|noche|fin)|lo voy a hacer yo$|(cuando|en cuanto)( \w+){0,5}? (se vaya|se vayan|no haya nadie|no este nadie|esten dormid[oa]s|duerman|me quede sol[oa])( \w+){0,4}?( \|)? lo (hago|hare|voy a hacer)|miedo (de )?hacerlo (hoy|esta noche|de verdad)|no lo hice( [\w|]+){0,2}? manana|ya se como (lo )?(voy a hacer|hacerlo|hacer)|(solo )?me falta (el )?valor|(miedo de|miedo a|ganas de|voy a) hacer una (tonteria|locura|estupidez)|hago una (tonteria|locura) (hoy|esta noche)|tengo un plan y una fecha|tengo (un|el) plan( \w+){0,3}? no tengo miedo|tengo todo (listo|preparado) para irme$|quiero acabar (de verdad|de una vez|ya)$|ya no voy a estar$|(el|este|la proxima) \w+ ya no (voy a estar|estare)|pero (ya )?no voy a volver$",
                    ),
                    // Means: pills hoarded, hidden or counted, a blade kept, a rope "I know what
                    // for", the height of a bridge, the exhaust in a garage.
                    (
                        Method,
                        r"(juntando|guardando|acumulando|ahorrando|escondiendo|escondido|escondi|junte|guarde) (las |mis )?(pastillas|pildoras|medicamentos)|(cuento|conte|contando) (mis|las) (pastillas|somniferos|pildoras|calmantes|capsulas)|todas (las|mis) pastillas|(pastillas|pildoras|medicamentos)( \w+)? (guardadas|escondidas|juntadas|acumuladas)|sobredosis|dosis (letal|mortal)|cuantas (pastillas|pildoras|capsulas)( \w+){0,3}? (hacen falta|hace falta|necesito|son letales|para morir)|cortarme las venas|una soga|mi suicidio|(pastillas|pildoras|medicamentos)( \w+)? (preparadas|listas|separadas)|prepar\w* (las|mis) (pastillas|pildoras)|(cuerda|soga|pastillas|cuchilla|veneno|pistola)( [\w|]+){0,6}? (se|sabia) (muy bien |bien )?para (que|q)|(bebiendo|tomando) hasta que|tom\w* (el bote|la caja|el frasco|todas|todo el bote|toda la caja|todo el frasco|el blister)( entero| entera)?|cornisa del|(cuchilla|cuchillas|hoja de afeitar|navaja)( [\w|]+){0,8}? (pensar|pienso|guardad[ao]|escondid[ao]|salida)|(elegi|escogi) (el|un) (puente|metodo|edificio)|ya tengo (el|la) (puente|metodo|soga|cuerda)|(mirando|mire|calcule|busque|mirar|calcular)( \w+)? la altura (del|de la|de un|de una) (puente|edificio|azotea|balcon|viaducto)|da de sobra$|(hora|horario)( \w+){0,4}? (trenes|tren) de mercancias|(trenes|tren) de mercancias( \w+)? pasan|(busque|mire|googlee|averigue|investigue)( \w+){0,4}? (puente|edificio|torre|azotea|viaducto) mas alt[oa]|garaje( [\w|]+){0,10}? motor (encendido|en marcha|prendido)|si (alcanza|alcanzan|basta|bastan|son suficientes)$",
                    ),
                    // An act under way: pills just taken, drinking "until everything stops", on the
                    // roof "before I jump", walking into the sea.
                    (
                        Method,
                        r"acabo de (tomarme|tomar|tragarme|tragar) (todas|todo|el bote|la caja|las pastillas|mis pastillas)|(beb\w*|tom\w*|trag\w*)( [\w|]+){0,4}? hasta (que )?(todo se (apague|acabe|pare|detenga)|se me pare todo|no despertar|morir)|(azotea|tejado|puente|cornisa|balcon|techo)( [\w|]+){0,8}? antes de (saltar|tirarme|lanzarme)|(hacia el|al|en el) (mar|rio|lago)( [\w|]+){0,4}? (y no paro|y no vuelvo|y no volver|hasta no hacer pie|hasta hundirme)",
                    ),
                    // Looking up how ("cómo ahorcarse"), "no puedo seguir viviendo así", "tengo que
                    // morir para que pare", "que me vaya, para siempre", "al puente y salto".
                    (
                        Intent,
                        r"como (ahorcarse|suicidarse|matarse|colgarse|envenenarse|cortarse las venas)|no puedo (seguir viviendo|seguir vivo|seguir viva|vivir) (asi|mas)|no puedo seguir viviendo$|tengo que morir( \w+)?( \|)? para que|que me vaya( \|)? para siempre|(al|el) (puente|acantilado|tejado|azotea)( [\w|]+){0,3}? y (salto|me tiro|me lanzo)",
                    ),
                    // Readying for after: goodbye letters and videos, affairs settled, things given
                    // away "I won't need", a secret farewell, "when they find me".
                    (
                        Preparation,
                        r"(carta|cartas|video|mensaje|nota|notas)( \w+)? de despedida|me despido (de todos|para siempre)|adios para siempre|cuando (yo )?(ya )?no este( aqui)?|cuando yo falte|cuando (este|ya este) muert[oa]( [\w|]+){0,4}? (por fin|paz|tranquil\w*|mejor|descans\w*)|a donde voy no (los|las|lo|la) necesito|ultima vez que te escribo|(le|les) dejo la carta|decir(le|les) adios de verdad|que va a decir la carta|(quien|quienes) me (va|van) a encontrar|quien me encuentre|cuando me encuentren|(regale|di|deje|done|vendi|di de baja|cancele|regalando)( [\w|]+){0,10}? (ya )?no (la|lo|los|las|me) (voy a necesitar|va a hacer falta|van a hacer falta)|total ya no (la|lo|los|las) voy a necesitar|(deje|dejo|tengo) todo (arreglado|listo|preparado|en orden)|quien se queda con (el perro|el gato|mis \w+)|me despedi de( \w+){0,4}? sin que|(me estoy|estoy|ya me estoy) despidiendo de todos|despidiendome de todos|(buenas noches|adios|abrazo|beso)( [\w|]+){0,4}?( mas \w+ que nunca)?( \|)? (fue|era) la ultima vez|mi ultima entrada|(escribi|hice|redacte) (el|mi) testamento|no (pienso|voy a) (llegar|cumplir) (a )?(los )?\d+|(nada|todo)( \w+){0,2}? cuando me vaya|para no dejar nada",
                    ),
                    // Self-harm: cutting, burning, hitting, biting, scratching until it bleeds.
                    (
                        SelfHarm,
                        r"me (volvi a |he )?cort(o|e|ar|ado)|me he (hecho dano|lastimado|quemado)|cortarme|(vuelto|volvi) a cortar(me)?|(haciendo|hacerme|me hago|me hice|me he hecho) cortes|cortandome|quemandome|lastimandome|golpeandome|me (hago|hice) dano|hacerme dano|me lastim(o|e)|lastimarme|me autolesiono|autolesionarme|me quem(o|e)|quemarme|hasta (sangrar|que sangr\w*|hacerme sangre)|(golpe\w*|pegue|di)( \w+){0,3}? (la cabeza|cabezazos)( \w+){0,2}? contra (la pared|el muro|la puerta)|me (pego|golpeo|golpee|pegue) (a mi mism[oa]|en la cara|en la cabeza|punetazos|contra|cuando)|(me )?arran(que|co|carme) las costras|(costras|heridas)( [\w|]+){0,4}? (arranque|abro|reabro|arranco)|cicatrices( [\w|]+){0,5}? (me hice|hice|otras|dos|tres) (\w+ )?(mas|nuevas)",
                    ),
                    // Burden, "better off without me", nobody would miss me.
                    (
                        Indirect,
                        r"soy (una carga|un estorbo)|sin mi( \w+){0,2}? (estarian|estaran|vivirian) (mucho )?mejor|(estarian|estaran|vivirian) mejor sin mi|mejor sin mi|mejor( \w+){0,3}? si (yo )?(no existiera|no estuviera|ya no estuviera|desapareciera|me muriera|muriera)|no (tiene|hay) (sentido|razon) (para )?(vivir|seguir)|nadie me (extranaria|echaria de menos|va a extranar)|a nadie le importaria|para (que|q) seguir$|dejar de molestar",
                    ),
                ],
            ),
        ),
        (
            "fr",
            lexicon(
                Context {
                    // Chat: "jveux", "jvais", "chuis", "jpp" (j'en peux plus), "pk".
                    spellings: &[
                        ("jveux", "je veux"),
                        ("jvais", "je vais"),
                        ("chui", "je suis"),
                        ("chuis", "je suis"),
                        ("jsuis", "je suis"),
                        ("jpp", "j en peux plus"),
                        ("jen", "j en"),
                        ("jai", "j ai"),
                        ("jme", "je me"),
                        ("jsp", "je sais pas"),
                        ("pk", "pourquoi"),
                        ("pq", "pourquoi"),
                        ("ct", "c etait"),
                    ],
                    // Exaggeration: "je meurs de faim", "ce boulot me tue" (said of something
                    // else), "je m'ennuie à mourir", "plutôt mourir que …", "je me suis jetée à
                    // l'eau", "la mort dans l'âme", a project "fini".
                    idioms: r"(meurs|mourir|mourrais|meurt|crever|mort|morte|morts) de (rire|faim|honte|chaud|froid|envie|peur|sommeil|ennui|soif|fatigue)|meurs d envie|mort de rire|(ce|cette|ces|le|la|les|mon|ma|mes|ca|ton|ta|tes)( \w+){0,3}? (me (tue|tuent)|(va|vont|allait|allaient) me tuer|m a (tue|tuee|achevee?))|(va|vont|allait|allaient) me tuer|en finir avec (ce|cette|ces|le|la|les|mon|ma|mes) (projet|rapport|travail|dossier|semaine|examen|examens|boulot|demenagement)|(cru|failli|ennuie a|a en|fait|faire) mourir|en train de mourir|plutot mourir que|faim( \w+){0,2}? crever|disparaitre sous terre|jet\w* a l eau|la mort dans l ame|chuis mort\w*|failli (me noyer|me tuer)|(n ai|n avoir|je n ai) plus (d idees|de pensees) suicidaires|a moitie mort\w*",
                    negations: &["ne", "jamais", "pas", "non"],
                    not_negations: &[],
                    breakers: &["que", "qu", "mais", "parce"],
                    // Over ("il y a deux ans", "avant j'avais", "c'est derrière moi"), a story, the
                    // news.
                    over: r"il y a (un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|\d+|quelques|des|longtemps)( \w+)?( ans| an| mois| semaines)?|avant (j avais|je \w+ais|elle|il)|l epoque ou|la periode ou|c est loin|derriere moi|ca fait \w+ (mois|ans|semaines) que|l an dernier|l annee derniere|a l adolescence|repense|roman|livre|film|serie|episode|reportage|documentaire|podcast|infos|prevention|personnage|heroine|tele|sa tentative|lu que|etude|statistique|article|plus frequent|chez les (hommes|femmes|jeunes)|taux|quand j etais (petit\w*|enfant|jeune|ado)",
                    // An accident: cooking, shaving, a haircut, sport, a hot drink...
                    accident: r"doigt|epluch\w*|patates|cuisin\w*|en bricolant|en jardinant|en me rasant|rasage|cheveux|poele|four|fer a repasser|soleil|trop nulle?|par accident|sans faire expres|maladroit\w*|au foot|en jouant|en tombant|la langue|le the|du the|le cafe|la soupe|papier|une feuille|au sport|a la salle|en mangeant",
                    // ...unless on purpose ("exprès", "pour sentir").
                    on_purpose: r"expres|volontairement|pour sentir|je le merite|pour me punir",
                    // A move, a retirement, a trip, a new job.
                    explained: r"demenage\w*|retraite|erasmus|en vacances|je pars (en|a|trois|pour)|je commence a|nouveau (job|travail|poste)|mutation",
                },
                &[
                    // A wish to be dead, not to wake, to stop existing; colloquial forms without
                    // "ne" ("je veux plus vivre", "jveux crever").
                    (
                        WishDead,
                        r"(je veux|jveux|veux|je voudrais|voudrais|j aimerais|envie de|je souhaite|je prefererais|je prefere) _ (mourir|mourrir|mourire|etre mort|etre morte|crever|disparaitre pour (toujours|de bon)|cesser d exister|cesser de vivre|m endormir pour toujours|etre six pieds sous terre|six pieds sous terre)|(je veux|jveux|veux|je voudrais|voudrais|j aimerais) m endormir et ne plus|je ne veux plus jamais me reveiller|(je veux|jveux|veux|voudrais|envie de) (ne )?plus (me reveiller|exister|respirer|etre la|etre ici)|je ne (veux|voudrais) plus (me reveiller|exister|respirer|etre la|etre ici|vivre)|(je veux|jveux|veux|voudrais|envie de) (ne )?plus vivre$|je ne veux plus vivre|(plus|pas) envie de vivre|marre de vivre|(fatigue|fatiguee|epuise|epuisee|las|lasse) (de vivre|d exister)|marre de me battre|je (serais|serai) mieux mort[e]?|je prefererais etre mort[e]?|mieux vaut que je meure|(ne )?jamais naitre|n etre jamais ne[e]?",
                    ),
                    (
                        WishDead,
                        r"dormir pour toujours|ne plus jamais me reveiller|ne jamais me reveiller|ne pas me reveiller demain|ne plus me reveiller|envie de crever|idees suicidaires|pensees suicidaires|aucune issue (a part|sauf) (mourir|la mort)|(je )?(ne )?(vois|trouve)( plus)? aucune (issue|solution|sortie)( \w+){0,2}? (a part|sauf|que) (mourir|la mort|en finir)|je (ne )?(passerai|verrai|vivrai|tiendrai) (pas|plus|jamais) (l hiver|l ete|le printemps|l automne|noel|l annee|la semaine|le mois)|(vivre|la vie|exister) me pese|(retrouver|rejoindre) \w+( \w+)? (la haut|au ciel|au paradis)|disparaitre pour (toujours|de bon)|et (de )?(ne )?(plus|jamais|plus jamais) revenir|(si|quand|bientot|demain|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|ce soir|la semaine prochaine) je (ne )?(serai|serais|suis|etais) plus (la|ici)|(decu|decue|triste|degoute\w*)( \w+)? (d etre (encore|toujours) (en vie|vivant\w*|la)|de m etre reveille\w*)|(je )?(ne )?merite (pas|plus) de vivre|avenir ou je (suis|serai|serais) (encore|toujours) (vivant\w*|en vie|la)|(je )?(ne )?sais pas si je (tiendrai|tiens|vais tenir) jusqu( a| au)( \w+){1,3}?( [\w|]+){0,5}? (je veux pas|je (ne )?veux (pas|plus)|j ai pas envie)|(tiendrai|tienne|tenir) jusqu( a| au)( \w+){1,3}?( [\w|]+){0,5}? (je veux pas|je (ne )?veux (pas|plus)|j ai pas envie)|mort[e]? a l interieur( [\w|]+){0,6}? (devienne vrai|pour de vrai|pour de bon)|(veux|voudrais|jveux|envie) que tout s arrete|tout arreter( \|)? (definitivement|pour toujours|pour de bon)|(partir|parte|quitter) pour (de bon|toujours)|(en peux plus|plus la force)( [\w|]+){0,3}? (je veux|jveux|envie de) disparaitre$|(partir|quitter|partirai) (de )?ce monde|(tout est|tout) pret pour (que je parte|partir)",
                    ),
                    // Death as the way out: "seule la mort pourra me libérer", "je la désire".
                    (
                        WishDead,
                        r"(seule|derniere|unique) (issue|solution|sortie)( [\w|]+){0,8}? (mourir|la mort|me tuer|en finir)|seule la mort (pourra|peut|va|pourrait) me (liberer|delivrer|soulager)|la mort( [\w|]+){0,5}? je la (desire|veux)|la mort me (parait|semble) (un repos|une delivrance|une liberation|la seule)|(plus|pas) peur de la mort( \|)? je la (veux|desire)|(j imagine|imaginer) mon (enterrement|funerailles)( [\w|]+){0,4}? (soulage|apaise|soulagement|paix)|pens\w* a (mourir|la mort)( \w+){0,3}? (et )?j en ai envie|je pense a mourir",
                    ),
                    // Death as relief or a prayer, "pourquoi je suis encore en vie", a last
                    // Christmas, not lasting till tomorrow.
                    (
                        WishDead,
                        r"(prie|je prie|demande a dieu|supplie)( \w+){0,3}? (pour )?(ne pas me reveiller|ne plus me reveiller|de me prendre|qu il me prenne)|(l idee|penser) de mourir( \w+)? me (calme|apaise|soulage|rassure)|mourir (serait|est) (plus facile|mieux|un soulagement)|(pourquoi|pk|pq|pourquoi est ce que) (je suis|suis je|je suis toujours|je vis) (encore|toujours)( en vie| vivant\w*| la)?|mon dernier (noel|anniversaire|ete|hiver|nouvel an)|je (ne )?tiendrai (pas|plus) jusqu( a| au) (demain|ce soir|lundi)$|si je (mourais|disparaissais)( \w+){0,2}?( \|)? (ce serait|ca serait|ca ferait) (un soulagement|mieux)|personne ne (remarquerait|verrait|s en rendrait compte)( \w+)?( \|)? si je",
                    ),
                    // A season, a loved one who died, one way out I know, a pet given away "and I
                    // will not come back".
                    (
                        WishDead,
                        r"(qu )?une (seule )?issue( [\w|]+){0,3}? je sais laquelle|(chat|chien)( [\w|]+){0,8}? je (ne )?reviendrai (pas|plus|jamais)|plus heureu\w* sans moi|(rejoindre|retrouver) (maman|papa|mamie|papi|mon \w+|ma \w+) (la haut|au ciel|au paradis)",
                    ),
                    // Killing oneself: "me tuer", "je me tue", "me suicider" (and "me suicidé"),
                    // "me foutre en l'air", hanging, jumping, a train, the car, water.
                    (
                        ActiveIdeation,
                        r"me tuer|je me (tuerai|tuerais)|me noyer|(m )?ouvrir les veines|ouvert les veines|me suicid\w*|je me suicide|(au|le) suicide|mettre fin a (mes jours|ma vie)|me pendre|me jeter (du|d un|de la|sous|par|dans)|me f(ou|ous|out|outre) en l air|je me tue|me supprimer|je passe a l acte|je me (pends|jette|noie)|(me tirer|je me tire|je vais me tirer) une balle|me (flinguer|buter)|je me (flingue|bute)|(ma|une) tentative de suicide|jusqu a ce que tout s arrete|jusqu a ne plus avoir pied|pens\w* a (sauter|me jeter|me pendre|me tuer|me suicider|en finir)|sauter (du|de la|d un|depuis) (pont|toit|balcon|immeuble|fenetre|falaise)|je (saute|sauterai|vais sauter) (du|de la|d un|depuis) (\w+ )?(pont|toit|balcon|immeuble|fenetre|falaise|viaduc)|mon suicide|coup de volant( [\w|]+){0,4}? (tout arreter|en finir|foncer)|foncer dans (un|le) (arbre|mur|pilier)|(bord|falaise|pont|toit|balcon|fenetre)( [\w|]+){0,8}? me laisser tomber|me laisser tomber (du|de la|d un|dans le vide)|que (le|la|un|une) (bus|train|camion|voiture|metro) me (renverse|percute|ecrase|fauche|tue)|garage( [\w|]+){0,10}? (laisser )?tourner le moteur|(rails|voies|pont|toit|balcon|quai)( [\w|]+){0,8}? (avoir|j avais) le courage|(entrer|marcher|aller) dans (la mer|la riviere|le lac|l eau)( \w+){0,3}? et (de )?(ne )?(plus|jamais|plus jamais) revenir",
                    ),
                    // Saying when: "je vais en finir", "je le fais vendredi", "c'est moi qui vais
                    // le
                    // faire".
                    (
                        Intent,
                        r"en finir( avec la vie| avec tout| une bonne fois| pour de bon)?$|(veux|vais|allais|voudrais|envie d) en finir|mettre fin a tout|c est decide( \|)? je (le fais|vais le faire)|je le fais (ce soir|cette nuit|demain|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|ce week end)|(ce soir|cette nuit|demain|lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)( \|)? je le fais|peur de (vraiment )?le faire|je l ai pas fait( [\w|]+){0,2}? demain|c est moi qui vais le faire|quand il n y aura personne( \w+){0,3}?( \|)? je le fais|(choisi|fixe) (la|une) date$|(j ai|ai) un plan( \w+){0,4}? plus peur|ma vie (doit|va) (s arreter|se terminer|finir|prendre fin)|mais je (ne )?reviendrai (pas|plus|jamais)|je sais (deja )?comment (je vais faire|le faire|faire|je vais le faire)|(il me manque|me manque|manque) (juste |seulement |plus que )?le courage|(peur de|envie de|vais|je vais) faire une (betise|connerie)|je fais une (betise|connerie) (ce soir|aujourd hui|cette nuit)|un plan et une date",
                    ),
                    // Means: pills put aside, hidden or counted, a rope "I know what for", a blade
                    // in the drawer, a bridge chosen, the exhaust in a garage, freight trains.
                    (
                        Method,
                        r"(garde|stocke|accumule|mis de cote|garder|stocker|accumuler|cache|caches|planque) (des |mes |les )?(cachets|medicaments|comprimes|somniferes)|(mis|mets|mettre) (des |mes |les )?(cachets|medicaments|comprimes|somniferes) de cote|quelle (quantite|dose)( \w+){0,4}? (dangereu\w*|mortel\w*|letal\w*|toxique)|(regarde|verifie|cherche|calcule)( \w+){0,3}? la hauteur (du|de la|d un|de l) (pont|viaduc|immeuble|toit|falaise|balcon)|tous (mes|les) (cachets|medicaments|comprimes|somniferes)|(compte|compter|comptant) (mes|les) (cachets|comprimes|somniferes|medicaments)|surdose|dose (mortelle|letale)|me couper les veines|(avale|avaler|prendre|pris) toute la (boite|plaquette)|combien de (cachets|comprimes|medicaments|somniferes|pilules)( \w+){0,3}? (il faut|faut|pour mourir|pour en finir)|(corde|cachets|lame|medicaments|somniferes)( [\w|]+){0,4}? je sais (tres bien |bien )?pour( )?quoi|(lame|lames|rasoir|cutter|corde)( [\w|]+){0,6}? (arrete pas d y penser|y pense|cachee|rangee|prete)|(choisi|trouve) (le|un) (pont|endroit|immeuble|methode)|(heure|horaires?)( \w+){0,4}? trains? de marchandises|trains? de marchandises( \w+)? passent|(prepare|mis de cote) (les|mes) (cachets|medicaments|comprimes|somniferes)|(cachets|medicaments|comprimes|somniferes) (prets|prepares)|(cherche|regarde|google|verifie)( \w+){0,4}? (pont|immeuble|tour|batiment|viaduc) le plus haut",
                    ),
                    // An act under way: pills just taken, drinking "until everything stops", on the
                    // roof "before I jump", walking into the sea.
                    (
                        Method,
                        r"je viens d (avaler|prendre) (tous|toutes|toute|la boite|mes)|(bois|boire|avale|prends)( [\w|]+){0,4}? jusqu (a ce que tout s (arrete|eteigne)|a ne plus me reveiller|a en mourir)|(toit|pont|balcon|rebord|falaise)( [\w|]+){0,8}? avant de (sauter|me jeter|me laisser tomber)|dans la mer( [\w|]+){0,4}? (et je ne m arrete pas|jusqu a ne plus avoir pied|et ne pas revenir|et ne plus revenir)",
                    ),
                    // Looking up how ("comment se pendre"), "je ne peux plus vivre comme ça", "je
                    // dois mourir pour que ça s'arrête", "que je parte pour toujours", "au pont et
                    // je saute".
                    (
                        Intent,
                        r"comment (se pendre|se suicider|se tuer|mourir sans|s ouvrir les veines)|je (ne )?peux plus (vivre|continuer a vivre) (comme ca|ainsi)|je (ne )?peux plus vivre$|je dois mourir( \w+)? pour que|que je parte( \|)? pour (toujours|de bon)|(au|le) (pont|toit|viaduc|falaise)( [\w|]+){0,3}? et je (saute|me jette)",
                    ),
                    // Readying for after: goodbye letters and videos, affairs settled, things given
                    // away "I won't need", a secret farewell, "when they find me".
                    (
                        Preparation,
                        r"(lettre|lettres|video|message|mot)( \w+)? d adieu|adieu a tous|quand je (ne )?serai plus (la|ici)|quand je serai mort[e]?( [\w|]+){0,4}? (enfin|calme|paix|tranquille|mieux)|apres ma mort|pour apres moi|quand je serai parti\w* pour (de bon|toujours)|et de tout le reste|(dire|dit) adieu pour de vrai|(lui|leur) laisse la lettre|ce que dirait ma lettre|qui me trouver(ait|a)|quand on me trouvera|(donne|offert|vendu|resilie|annule|laisse)( [\w|]+){0,10}? (j en|je n en) aurai (plus|pas) besoin|de toute facon j en aurai (plus|pas) besoin|j ai tout regle|qui (prendra|gardera) (le chat|le chien|mes \w+)|sans (qu|que) (elle|il|ils|elles|on|personne)( \w+){0,2}? (rende|rendent|sache|sachent|remarque)|(dis|dit) (au revoir|adieu) a tout le monde|(calin|bisou|au revoir|bonne nuit)( [\w|]+){0,10}? c etait (le dernier|la derniere)|ma derniere entree|(compte|pense|vais) (pas|plus) (feter|atteindre|arriver a) (mes )?\d+|quand je partirai$|ne rien laisser( \w+){0,2}? quand je|mon frere garde tout",
                    ),
                    // Self-harm: cutting ("me scarifier", "entailles"), burning, hitting, biting,
                    // scratching until it bleeds.
                    (
                        SelfHarm,
                        r"me (scarifie|scarifier|mutile|mutiler|taillade|taillader)|me (suis )?(encore )?scarifi\w*|je me (suis )?(encore )?(coupe|coupee|recoupe|recoupee|brule|brulee)|je me coupe|me (fais|faire|fait) des entailles|me faire du mal|je me fais du mal|me suis( \w+)? fait du mal|automutil\w*|je me frappe|me frapper|je me brule|jusqu (au sang|a saigner|a ce que ca saigne)|pour que ca saigne|(tape|cogne|frappe) la tete contre|arrache (mes|les) croutes|cicatrices( [\w|]+){0,5}? (fait|fais|ajoute) (\w+ )?(de plus|nouvelles)",
                    ),
                    // Burden, "better off without me", no reason to go on.
                    (
                        Indirect,
                        r"je suis un (fardeau|poids)|(seraient|serait|vivraient)( tous)? (plus heureux|mieux) sans moi|mieux sans moi|(plus|aucune) raison de (vivre|continuer)|(je )?(ne )?(vois|trouve)( plus)? aucune raison (de|d)( \w+){0,3}?|raison d etre (encore )?(vivant\w*|en vie|la)|mieux pour tout le monde si je|personne ne (me regretterait|me regrettera|me manquerait)|arreter d embeter tout le monde",
                    ),
                ],
            ),
        ),
        (
            "pt",
            lexicon(
                Context {
                    // Chat: "n"/"nn" (não), "q", "pq", "hj", "dnv", "msm".
                    spellings: &[
                        ("n", "nao"),
                        ("nn", "nao"),
                        ("q", "que"),
                        ("pq", "porque"),
                        ("vc", "voce"),
                        ("msm", "mesmo"),
                        ("hj", "hoje"),
                        ("dnv", "de novo"),
                        ("mt", "muito"),
                        ("mto", "muito"),
                        ("tb", "tambem"),
                        ("cmg", "comigo"),
                        ("dps", "depois"),
                        ("td", "tudo"),
                        ("tds", "todos"),
                        ("qdo", "quando"),
                        ("qnd", "quando"),
                        ("vdd", "verdade"),
                        ("nd", "nada"),
                    ],
                    // Exaggeration: "morri de rir", "esse calor tá me matando", "vai acabar
                    // comigo", "me mato de trabalhar", "matar a saudade", "sumir do whatsapp".
                    idioms: r"(morr\w*|mort[oa]s?|a morrer) de (rir|vergonha|fome|medo|calor|frio|sono|saudade\w*|inveja|tedio|cansaco|ansiedade)|(vai|vao|ainda vai|ta|esta|tao|estao) me (matar|matando)|(vai|vao|ainda vai) acabar comigo|(me )?matou de (rir|tanto rir)|mort[oa] de cansad[oa]|da cabo de mim|me mato de (trabalhar|estudar|rir)|matar (a saudade|a sede|aula)|matei (aula|a sede|a saudade|a planta)|quase (morri|me afoguei|me matei)|morri (umas|no)|morrer do coracao|sumir (do|da|das|dos|daquela|daquele|debaixo) \w+",
                    negations: &["nao", "nn", "nunca", "jamais"],
                    not_negations: &["no"],
                    breakers: &["que", "mas", "porque"],
                    // Over ("há dois anos", "antigamente", "fiz cinco anos sem"), a story, the
                    // news.
                    over: r"antigamente|antes eu (queria|pensava|tinha|me \w+va)|quando eu era (crianca|pequen[oa]|adolescente|mais nov[oa])|li que|(um|segundo|segundo um) estudo|mais comum|entre (homens|mulheres|jovens)|taxa|casos de|ha (um|uma|dois|duas|tres|quatro|cinco|seis|sete|oito|nove|dez|\d+|uns|umas|alguns|algumas|muitos|muito)( \w+)? (anos|ano|meses|mes|semanas|tempo)|na adolescencia|no ensino medio|desde que comecei|(fiz|faz|fez) \w+ (anos|meses|semanas) sem|se cortava|eu pensava em|uma fase|livro|filme|novela|serie|jornal|noticia|artigo|aula|personagem|protagonista|camus|sisifo|cinema|sonhei|pesadelo|no jogo",
                    // An accident: cooking, the sun, a haircut, sport, a hot drink...
                    accident: r"descascando|batata|cozinh\w*|fazendo comida|cebola|o dedo|cabelo|forno|fogao|no sol|praia|sem querer|bicicleta|joelho|de leve|comendo|jogando|no futebol|no treino|a lingua|o cha|o cafe|a sopa|papel|uma folha",
                    // ...unless on purpose ("de propósito", "pra sentir").
                    on_purpose: r"de proposito|propositalmente|(pra|para) sentir|mereco",
                    // A move, a retirement, a trip, a new job.
                    explained: r"\w*mudar|mudanca|morar (fora|no|na|em)|viajar|viagem|ferias|empresa nova|emprego novo|aposent\w*|intercambio",
                },
                &[
                    // A wish to be dead, not to wake, to vanish for good ("sumir de vez").
                    (
                        WishDead,
                        r"(quero|queria|gostaria de|vontade de|so quero|preferia|apetece me) _ (morrer|estar mort[oa]|sumir (de vez|para sempre|pra sempre|desse mundo|deste mundo)|desaparecer (para sempre|pra sempre|de vez|deste mundo|desse mundo)|deixar de existir)|(quero|queria|gostaria de|vontade de|so quero|preferia|apetece me) _ (nao existir|nao ter nascido|nao acordar|dormir e nunca mais acordar)|vontade de morrer|nao (quero|queria) (mais )?(viver|existir)|nao quero (mais )?acordar( amanha| nunca mais| mais)?$|(se eu )?nao acordar amanha|nao quero (ca|aqui) estar|nao quero (mais )?estar (ca|aqui)|prefiro estar mort[oa]|melhor mort[oa]|(devia|deveria) estar mort[oa]|nao aguento mais viver|(nao tenho|sem)( mais)? vontade de viver|(nao aguento mais|aguento mais)( [\w|]+){0,3}? (quero|queria) (desaparecer|sumir)$|(cansad[oa]|fart[oa]|exaust[oa]) de (viver|existir|respirar|lutar)$|cansei de (viver|respirar|lutar|existir)|(sumir|sumisse|desaparecer) (de vez|pra sempre|para sempre)",
                    ),
                    (
                        WishDead,
                        r"dormir para sempre|nunca mais acordar|nao acordar mais|(nao )?(acordar|abrir)( os olhos)? nunca mais|nunca mais (acordar|abrir)|(rezo|peco|oro) (pra|para|a deus)( \w+)? (nao acordar|me levar)|peco a deus( \w+){0,4}? (pra|para) me levar|se (amanha )?eu nao acordar( \w+)?( \|)? tudo bem|cansei de viver|nao quero mais estar aqui|se eu (morresse|sumisse|nao existisse|me matasse)|deixar de existir|nao chego (no|ao) meu aniversario|(nao (tem|ha|vejo) )?(outra|nenhuma) saida( \w+){0,4}? (a nao ser |senao |alem de )?(morrer|a morte)|(pq|por que|porque) (eu )?ainda (to|estou|tou) viv[oa]|morrer seria (mais facil|melhor|um alivio)|a ideia de morrer me (acalma|conforta|alivia)|(desistir|desisto) (da vida|de viver)|(morrer|morte|desistir da vida|suicidio|me matar)( \w+){0,3}? (parece|e|seria) a unica saida|(unica|ultima) saida( [\w|]+){0,5}? (morrer|a morte|me matar)|nem que seja morrendo|(como seria|pensando em) nao existir|nao mereco viver|(que|q) a minha vida acabe|(quero|queria) (muito )?que (tudo|isso|tudo isso) acab\w*( [\w|]+){0,2}? eu junto|nao vejo (mais )?(motivo|razao|sentido) (pra|para) (continuar|viver)|nao vejo futuro( nenhum)?|(nao tenho|sem) (mais )?forcas? (pra|para) (viver|continuar)|nao (vou|sei se vou) aguentar ate (amanha|la)$|nao sei se (ainda )?vou estar (aqui|viv[oa])|nao (quero|vou) chegar aos \d+|(meu|o meu) ultimo (natal|aniversario|ano|verao|inverno)|me despedindo da vida|a unica coisa que me segura",
                    ),
                    // Disappointed to be alive, death as rest or release, imagining my funeral,
                    // dead inside.
                    (
                        WishDead,
                        r"(decepcionad[oa]|triste|frustrad[oa])( \w+)? (por|de|em) (ainda )?(estar viv[oa]|acordar|continuar viv[oa])|a morte (me parece|e|seria) (um descanso|a (unica )?saida|uma libertacao|um alivio)|so a morte (vai|pode|iria) me (libertar|salvar|aliviar)|(imagino|imaginando) (o )?meu (funeral|enterro|velorio)( [\w|]+){0,3}? (alivio|paz)|nao mereco (estar viv[oa]|viver|a vida)|mort[oa] por dentro( [\w|]+){0,4}? de verdade|prefiro morrer (a|do que|que) (continuar|viver|seguir)",
                    ),
                    // A season, a loved one who died, one way out I know, a pet given away "and I
                    // will not come back".
                    (
                        WishDead,
                        r"nao (vou ver|verei|chego (a|ao|no)|vou chegar (a|ao|no)|passo) (o|a) (verao|inverno|primavera|outono|natal|ano novo|proximo ano)|(ir|ficar|encontrar)( \w+){0,2}? com (a minha|minha|o meu|meu) \w+ no ceu|(uma|so tem uma|so ha uma) saida( [\w|]+){0,3}? sei qual|(gato|cachorro|cao)( [\w|]+){0,8}? nao (vou voltar|volto)",
                    ),
                    // Killing oneself: "me matar" / "matar-me" / "mato-me", "tirar a minha vida",
                    // "pôr termo à vida", "dar cabo da minha vida", hanging, drowning, a bridge,
                    // rails.
                    (
                        ActiveIdeation,
                        r"me matar|matar me|mato me|vou me matar|vou me matar|me mato|me matasse|me suicidar|suicidar me|(pensamentos|ideias|ideacao|vontade)( de)? suicid\w*|suicidio nao sai|tirar (a )?minha (propria )?vida|dar cabo da (minha )?vida|por (termo|fim) (a|na) (minha )?vida|me (enforcar|afogar)|me enforco|(me dar|dar|me dou) um tiro( na cabeca)?|(minha|uma) tentativa de suicidio|enforcar me|afogar me|me (jogar|atirar) (da|de|do|na frente|para debaixo|debaixo|no|na)|atirar me (da|de|do|para)|(pular|saltar) (da|de|do) (ponte|predio|janela|viaduto|varanda|terraco)|antes de pular|(eu )?(pulo|salto|me jogo|me atiro) (da|de|do) (\w+ )?(ponte|predio|janela|viaduto|varanda|terraco)|meu suicidio|(pensando|pensei|penso|pensar) em (pular|saltar|me jogar|me atirar|me enforcar|me afogar|cair)|(pensando|penso) como seria cair|coragem de (me matar|saltar|pular|me jogar|me atirar)|(deitad[oa]|deitar|deitar me)( \w+)? nos trilhos|(linha do comboio|linha do trem|trilhos)( [\w|]+){0,6}? penso|(jogar|atirar|lancar) o carro (contra|no|num|da|pela|pelo)|(melhor|queria) ser atropelad[oa]|(entrar|ir) (no|ate o|ate a|para o) (mar|rio|ponte)( [\w|]+){0,4}? (nao voltar|nao volto)|(fazer|faco|faca|fizer) (alguma|uma) besteira",
                    ),
                    // Saying when and how: "acabar com tudo", "já escolhi o dia", "já sei como".
                    (
                        Intent,
                        r"acabar com (a minha vida|minha vida|tudo)|por fim (a|na) (minha vida|tudo)|vou acabar com tudo|vida( [\w|]+){0,3}? acabar com ela|suficientes?( [\w|]+){0,3}? acabo com isto|dar (um )?fim (nisso|nisto|a isto|a isso|a tudo|na minha vida|a minha vida|a vida)|(escolhi|marquei) (o dia|a data)|tenho um plano e (tenho )?uma data|ja sei como (vou fazer|fazer)|ja tenho tudo decidido|(quando|assim que)( \w+){0,5}? (viajarem|sairem|dormirem|estiverem fora|nao estiverem)( \w+){0,3}?( \|)? eu (faco|vou fazer)|ja (ta|esta) tudo (pensado|planejado|decidido)|so falta coragem|(partir|ir embora) de vez|melhor eu (partir|sumir|morrer)|mas nao vou voltar$|dessa vez nao volto|(queria|quero) que (um|uma|o|a) \w+ (acabasse|acabe) comigo",
                    ),
                    // Means: pills kept, hidden or counted, a blade put away, the highest bridge.
                    (
                        Method,
                        r"(juntando|guardando|guardado|acumulando|juntei|guardei|escondendo|escondi) (os |meus |as |minhas |o |meu )?(remedios|remedio|comprimidos|pilulas)|(tomar|tomei|tomo) (tudo|todos|todas)( os| as)?( \w+)? de uma vez|(comprimidos|remedios|pilulas) (separados|prontos|preparados)|separei (os )?(comprimidos|remedios)|(caixa|caixas|comprimidos|remedios)( [\w|]+){0,6}? escondid[oa]s|(tomar|tomei|tomado|tomo|tomando) a (cartela|caixa inteira)|(tomar|tomei|tomo|tomando) todos( os)?( \w+)? de uma vez|todos os (meus )?(remedios|comprimidos)|(contando|contei|conto) (os |meus )?(remedios|comprimidos|calmantes)|quant[oa]s (comprimidos|remedios|pilulas|caixas)( \w+){0,3}? (precis\w*|seriam|sao necessarios|para morrer|matam)|cortar os pulsos|corda( \w+){0,3}? (e )?escondi|escondi a corda|(guardei|escondi|tenho) a lamina|lamina( \w+){0,4}? (gaveta|pra mais tarde|escondida)|(pesquisei|procurei)( \w+){0,3}? (a ponte|o predio|o viaduto) mais alt[oa]|(horas|horario)( \w+){0,3}? (passam|passa)( \w+)? (os )?(trens|trem|comboios?) de (carga|mercadorias)|(trens|trem|comboios?) de (carga|mercadorias) (passam|passa)|garagem( [\w|]+){0,10}? motor (ligado|a trabalhar|funcionando)|(escondi|escondido|guardei) (os )?(remedios|comprimidos)( \w+){0,5}? (pro|para o) dia|(vendo|vi|pesquisei|olhei|calculei)( \w+){0,3}? a altura (da|do|de) (ponte|predio|viaduto|varanda|janela|penhasco)",
                    ),
                    // An act under way: pills just taken, drinking "until everything stops", on the
                    // roof "before I jump", walking into the sea.
                    (
                        Method,
                        r"acabei de tomar (todos|todas|a cartela|a caixa|os|meus)|(beber|bebo|tomar|tomo)( [\w|]+){0,4}? ate (tudo apagar|tudo acabar|nao acordar|morrer|apagar de vez)|(no|pro|para o) (mar|rio|lago)( [\w|]+){0,4}? (e nao parar|e nao voltar|ate nao dar pe)",
                    ),
                    // Looking up how ("como se enforcar"), "não consigo mais viver assim", "preciso
                    // morrer pra isso parar", "ir embora pra sempre", "até a ponte e pulo".
                    (
                        Intent,
                        r"como (se enforcar|se matar|se suicidar|morrer sem dor)|nao (consigo|posso|aguento) mais viver (assim|desse jeito)|nao (consigo|posso) (continuar|seguir) vivendo|preciso morrer( \w+)? (pra|para)|(ir embora|partir|sumir)( \|)? (pra|para) sempre|(a|ate a) (ponte|beira|laje)( [\w|]+){0,3}? e (pulo|me jogo|salto)",
                    ),
                    // Readying for after: goodbye letters, things given away "I won't need",
                    // affairs settled, a last time, a secret farewell.
                    (
                        Preparation,
                        r"carta(s)? de despedida|mensage\w* de (adeus|despedida)|escrevi o bilhete|deixar uma carta( \w+){0,4}? explicando|me despedir de todos|adeus para sempre|quando eu nao estiver mais (aqui|ai)|depois que eu me for|quando eu (morrer|estiver mort[oa]|for mort[oa])( [\w|]+){0,4}? (finalmente|paz|sossego|melhor|descans\w*)|nao vou (mais )?estar aqui|nao vou estar mais aqui|nao vou (mais )?estar viv[oa]|ja nao vou estar$|minha ultima entrada|encontrar (meu|minha) \w+ do outro lado|(dei|doei|vendi|cancelei|deixei|entreguei)( [\w|]+){0,10}? nao vou (mais )?precisar|(pra|para) onde (eu )?vou nao (preciso|vou precisar)|quem fica com (o gato|o cao|o cachorro|as minhas coisas|minhas coisas)|deixei tudo organizado|testamento( [\w|]+){0,8}? nao e por precaucao|ultima vez que (escrevo|te escrevo|vos escrevo)|uma ultima vez$|(era|seria|foi) a ultima vez$|me despedi de( \w+){0,3}? sem (eles|ninguem|que)( \w+)? perceb\w*|(pra|para) ninguem ter que lidar( com isso)? depois|quem (vai|iria) me (encontrar|achar)|quando me (encontrarem|acharem)|(estou|to|tou) me despedindo de (todo mundo|todos)|despedindo de todos",
                    ),
                    // Self-harm: cutting (and where), burning, hitting, scratching until it bleeds.
                    (
                        SelfHarm,
                        r"me (cortei|corto|cortar|cortando|machuquei|machuco|machucar|ferir|feri|queimei|queimo)|me automutil\w*|automutila\w*|autolesao|me batendo|me (bato|bati) ate|(corto|cortando) (os|as|meus|minhas) (bracos|pulsos|pernas|coxas|pulso|braco)|cortei (os|as|o|a|meus|minhas) (bracos|braco|pernas|perna|coxas|coxa|pulsos|pulso|barriga)|cheio de cortes|(fiz|fazendo|faco) (mais )?cortes|queimei (o|a|meu|minha) (braco|perna|mao|pele)|ate (sangrar|abrir a pele|ficar tont[oa]|sair sangue)|(bati|bato|batendo) (a|com a) cabeca (na|contra a) parede|cicatrizes( [\w|]+){0,4}? fiz mais|arranquei (as )?(casquinhas|crostas|cascas|feridas)",
                    ),
                    // Burden and "better off without me".
                    (
                        Indirect,
                        r"sou um (fardo|peso)|(ser|de ser) um peso|(ficariam|estariam|viveriam|vao ficar) melhor sem mim|melhor sem mim|mais feliz sem mim|deixar de ser um problema|(nenhum|sem) motivo para viver|nao (ha|tem) razao para viver|ninguem (ia|vai|iria) (notar|sentir (a )?(minha )?falta)|seria melhor (pra|para) todo mundo se eu",
                    ),
                ],
            ),
        ),
        (
            "it",
            lexicon(
                Context {
                    // Chat and dialect: "nn", "nun" (non), "xké", "cmq", "vojo morì".
                    spellings: &[
                        ("nn", "non"),
                        ("nun", "non"),
                        ("xke", "perche"),
                        ("xk", "perche"),
                        ("xche", "perche"),
                        ("cmq", "comunque"),
                        ("ke", "che"),
                        ("k", "che"),
                        ("x", "per"),
                        ("vojo", "voglio"),
                        ("mori", "morire"),
                        ("tt", "tutto"),
                        ("sn", "sono"),
                    ],
                    // Exaggeration: "muoio di fame", "questo lavoro mi ammazza" (said of something
                    // else), "mi ammazzo di lavoro", "stanco morto", "farla finita con le
                    // sigarette", "ammazzare il tempo", "sparire sotto le coperte".
                    idioms: r"(morire|muoio|morendo|morto|morta|morti|morte|morta) (dal ridere|di fame|di noia|dalla vergogna|di caldo|di freddo|di sonno|d invidia|di paura|dalle risate|di nostalgia|d infarto)|da morire|mi (ammazza|ammazzano|uccide|uccidono|fa morire|fanno morire)|mi ammazzo di (lavoro|studio|fatica)|stanc[oa] mort[oa]|sono mort[oa]$|(ammazzato|ammazzare) (il tempo|una zanzara)|ucciso la pianta|fatto fuori|fatto morire|(farla|la faccio|falla) finita con \w+|volevo sprofondare|stavo per (morire|annegare)|quasi annegat[oa]|sparit[oa]( un po)? dai social|sparisco per|sparire sotto|non ce la faccio piu con|ne posso piu di (sto|questo|questa|quel|quella)",
                    negations: &["non", "nn", "nun", "mai"],
                    not_negations: &["ne"],
                    breakers: &["che", "perche", "pero"],
                    // Over ("due anni fa", "da adolescente", "da quando vado in terapia"), a story,
                    // the news.
                    over: r"\w+ (anni|mesi|settimane) fa|una volta (volevo|pensavo|mi tagliavo|mi facevo)|ho letto che|(uno|secondo|secondo uno) studio|piu comune|tra (gli uomini|le donne|i giovani)|tasso|casi di|da (piccol[oa]|bambin[oa])|da adolescente|al liceo|(sono|da) \w+ anni che non|da quando vado in terapia|romanzo|libro|film|serie|telegiornale|articolo|lezione|documentario|camus|sisifo|cinema|personaggio|protagonista|sognato|incubo|videogioco|prevenzione|fattori di rischio|rischio suicidario|anti suicidio",
                    // An accident: cooking, shaving, the sea, sport, a hot drink...
                    accident: r"affettavo|cipoll\w*|cucinando|forno|facendo la torta|al mare|capelli|barba|mentre mi facevo|dalla bici|in bici|ginocchio|per sbaglio|senza volerlo|il dito|padella|niente di grave|mangiando|giocando|a calcio|la lingua|col te|il te|il caffe|la minestra|foglio di carta|un foglio",
                    // ...unless on purpose ("apposta", "per sentire").
                    on_purpose: r"apposta|di proposito|volutamente|per sentire|mi merito",
                    // A move, a retirement, a trip, a new job.
                    explained: r"mi trasferisco|si trasferisce|trasferirmi|trasloco|vado a vivere|vacanze|in viaggio|nuovo lavoro|in pensione|erasmus|parto per|parto domani",
                },
                &[
                    // A wish to be dead, not to wake, not to be there any more.
                    (
                        WishDead,
                        r"non ho piu voglia di vivere|ho perso la voglia di vivere|vorrei( \w+)? essere mort[oa]|(voglio|vorrei|vojo)( solo| soltanto)? _ (morire|mori|essere mort[oa]|sparire (per sempre|da questo mondo)|smettere di (vivere|respirare|esistere)|chiudere gli occhi per sempre|andarmene( per sempre)?$|scomparire)|(voglio|vorrei|vojo)( solo| soltanto)? _ (non (svegliarmi|esserci|esistere)( piu)?|addormentarmi e non svegliarmi|non essere mai nat[oa]|sparire e non tornare|non esistere)|voglia di (morire|scomparire|non esistere)|non voglio piu (vivere|esistere)|non voglio (piu )?vivere$|non voglio vivere( \|)? mai piu|preferirei essere mort[oa]|meglio mort[oa]|dovrei (morire|essere mort[oa])|(stanc[oa]|stuf[oa]|esaust[oa]) di (vivere|lottare|respirare|esistere)$|non ne posso piu di (esistere|vivere)|non merito di vivere|come sarebbe non (esistere|esserci)( piu)?|(perche|xke) (non|nn) posso morire|non vedo l ora di morire|la vita non fa per me|(non ce la faccio piu|ce la faccio piu|non ne posso piu)( [\w|]+){0,3}? (voglio|vorrei) (sparire|scomparire)$",
                    ),
                    (
                        WishDead,
                        r"dormire per sempre|non svegliarmi( mai)? piu|non (voglio|vorrei) (piu )?svegliarmi( mai)?( piu)?$|non voglio (piu )?svegliarmi (mai )?piu|non risvegliarmi|non svegliar(mi|si) (piu|proprio|domani|domattina)|(prego|spero) di non svegliarmi|se (domani )?non mi sveglio( \w+)?( \|)? (va bene|meglio)|il mio ultimo (inverno|natale|compleanno|anno)|raggiungere (il nonno|la nonna|mio padre|mia madre)|(via d uscita|soluzione) tranne la morte|non ci saro piu|(non so se )?ci saro ancora$|se (morissi|sparissi|mi uccidessi|non ci fossi)|(perche|xke) sono ancora viv[oa]|l idea di morire mi (calma|conforta|rassicura)|morire sarebbe (piu )?(facile|meglio|un sollievo)|(unica|sola|ultima) (via d uscita|soluzione|uscita)( [\w|]+){0,3}? (morire|la morte|farla finita|uccidermi)|(morire|la morte|farla finita|uccidermi)( \w+){0,3}? (l )?(unica|sola) (via d uscita|soluzione)|anche se significa morire|non vedo( piu)? (un )?(motivo|senso|ragione) per (continuare a )?vivere|non (voglio|ci) arriv\w* ai? \d+|non (arrivo|arrivero|ci arrivo) a (domani|stasera|natale|lunedi)$|saro mort[oa] prima|chiedo a dio di prendermi|(vorrei|spero) che (un|una|il|la) \w+ mi (portasse via|investisse|uccidesse|prenda)|(mi farei|farmi) investire|(me ne vada|andarmene|me ne vado) per sempre|sparire per sempre|pensieri di morte",
                    ),
                    // Disappointed to be alive, death as rest or release, imagining my funeral,
                    // dead inside.
                    (
                        WishDead,
                        r"(delus[oa]|triste|dispiaciut[oa])( \w+)? (di|per) (essere )?(ancora )?(viv[oa]|svegliat[oa]|essermi svegliat[oa])|la morte (mi sembra|e|sarebbe) (un riposo|la (sola|unica) (via|soluzione)|una liberazione|un sollievo)|solo la morte (mi )?(liberera|puo liberarmi|mi salvera)|(immagino|immaginando) il mio funerale( [\w|]+){0,3}? (sollievo|pace)|non merito di (essere viv[oa]|vivere|stare al mondo)|mort[oa] dentro( [\w|]+){0,4}? (diventi vero|davvero|sul serio)|preferisco morire (che|piuttosto che) (andare avanti|continuare|vivere)",
                    ),
                    // A season, a loved one who died, one way out I know, a pet given away "and I
                    // will not come back".
                    (
                        WishDead,
                        r"non (vedro|arrivero a|passero|arrivo a) (l estate|l inverno|la primavera|l autunno|natale|l anno nuovo|il prossimo anno)|raggiungere (il|la|mio|mia|i miei) \w+( \w+)? (in cielo|lassu|in paradiso)|(una|sola) via d uscita( [\w|]+){0,3}? so qual|(gatto|cane)( [\w|]+){0,8}? non (tornero|torno piu)|(piu felice|meglio) senza di me",
                    ),
                    // Killing oneself: "uccidermi", "ammazzarmi", "mi ammazzo", "togliermi la
                    // vita",
                    // hanging, jumping, the rails, water, the car, "levarmi di mezzo".
                    (
                        ActiveIdeation,
                        r"uccidermi|ammazzarmi|mi ammazzo|mi uccido|mi ammazzero|mi uccidero|suicidarmi|mi suicido|togliermi la vita|mi (tolgo|togliero|toglierei) la vita|impiccarmi|buttarmi (dal|da|sotto|giu)|(mi butto|mi lancio|gettarmi|mi getto) (dal|dalla|da un|da una|sotto|giu dal|giu dalla) (\w+ )?(ponte|tetto|balcone|finestra|palazzo|treno|autobus|macchina|dirupo|scogliera|terrazzo|piano)|mi (voglio|vorrei|devo|vado a) (ammazzare|uccidere|suicidare|togliere la vita|impiccare|buttare)|(di|prima di) buttarmi|quando mi uccidero|contro un muro|lanciarmi (dal|da|sotto)|pensieri suicid\w*|il mio suicidio|il suicidio (nn|non) mi esce|(io|me) sui binari|(ferrovia|binari)( [\w|]+){0,6}? (ci penso|penso)|schiantar\w*( \w+){0,4}? contro (un albero|un muro|un palo)|(entrare|andare) (in mare|nel lago|nel fiume)( \w+){0,2}? e non tornare|lasciarmi annegare|annegarmi|mi butto nel (fiume|lago|mare)|mi (impicco|annego)|spararmi|mi sparo in testa|(spararmi|mi sparo|tirarmi) un colpo|(il mio|un) tentativo di suicidio|come sarebbe cadere|saltare (dal|dalla|da) (balcone|tetto|ponte|finestra)|coraggio di (ammazzarmi|uccidermi|saltare|buttarmi)|mi manca solo il coraggio|(levarmi|levare|togliermi) di mezzo|fare (qualche|una) (cazzata|sciocchezza|stupidaggine)|faccio una (sciocchezza|cazzata|stupidaggine)",
                    ),
                    // Saying when and how: "farla finita", "ho già scelto il giorno", "so già
                    // come".
                    (
                        Intent,
                        r"farla finita|farmi fuori|porre fine alla mia vita|finirla (stasera|oggi|per sempre)|la faccio finita|vita( [\w|]+){0,3}? (chiuderla|finirla)|ho gia scelto il giorno|ho un piano e ho una data|so gia come faro|ho gia deciso tutto|ho deciso( \|)? mi ammazzo|(quando|appena)( \w+){0,5}? (vanno|escono|partono|dormono|sono fuori|non ci sono)( \w+){0,3}?( \|)? lo faccio|ma non tornero$|non tornare mai piu",
                    ),
                    // Means: pills put aside, hidden or counted, a blade put away, a rope hidden,
                    // the highest bridge.
                    (
                        Method,
                        r"(mettendo da parte|metto da parte|accumulando|conservando|messo da parte|accumulato|nascondendo) (le |delle |mie )?(pillole|pasticche|medicine|compresse|pastiglie|gocce|boccette)|(pillole|pastiglie|gocce|boccetta|corda|lametta)( [\w|]+){0,8}? so (bene )?a cosa (mi )?serv\w*|(conto|contando|contato) (le |i )?(mie |miei )?(pillole|pastiglie|compresse|sonniferi|gocce)|(palazzo|ponte|edificio)( \w+){0,2}? piu alto|tetto( \w+)? (e )?accessibile|tutte le (mie )?(pillole|pasticche|compresse|pastiglie)|finche non si spegne tutto|tagliarmi le vene|corda( \w+){0,3}? (e )?l ho nascost[oa]|(nascosto|nascosta) la lametta|lametta( \w+){0,3}? (nel cassetto|per dopo|nascost[oa])|(confezione|confezioni|pillole|scatole)( [\w|]+){0,6}? nascost[ei]|quant[ei] (pillole|pastiglie|compresse|farmaci|scatole)( \w+){0,2}? (servono|bastano|ci vogliono)|(preso|prendere|prenderle|prendo) (tutta la scatola|tutte insieme|tutte le pillole)|contando le pillole|(preparato|preparate|messo pronte) (le|i) (pillole|farmaci|pastiglie)|(pillole|farmaci|pastiglie) (pronte|preparate|pronti)|quale ponte( \w+){0,2}? (il )?piu alto|(ora|orari\w*)( \w+){0,4}? treni merci|treni merci( \w+)? passano|garage( [\w|]+){0,10}? motore acceso|(nascosto|nascosti|messo da parte) (i|le) (farmaci|medicine|pillole|pastiglie)( \w+){0,5}? (per il giorno|per quando)",
                    ),
                    // An act under way: pills just taken, drinking "until everything stops", on the
                    // roof "before I jump", walking into the sea.
                    (
                        Method,
                        r"ho appena preso tutt[ei]|(bevo|bere|prendo)( [\w|]+){0,4}? (finche|fino a quando) (tutto si spegne|non si spegne tutto|non mi sveglio piu|muoio)|(tetto|ponte|balcone|cornicione|terrazzo)( [\w|]+){0,8}? prima di (saltare|buttarmi|lanciarmi)|(in mare|nel lago|nel fiume)( [\w|]+){0,4}? (e non mi fermo|e non tornare|e non torno)",
                    ),
                    // Looking up how ("come impiccarsi"), "non posso più vivere così", "devo morire
                    // perché finisca", "me ne vada per sempre", "al ponte e salto".
                    (
                        Intent,
                        r"come (impiccarsi|uccidersi|suicidarsi|ammazzarsi|tagliarsi le vene)|non (posso|riesco a) (piu )?vivere cosi|non (riesco|posso) (piu )?(a )?(continuare|andare avanti) a vivere|devo morire( \w+)? (perche|per far)|(me ne vada|andarmene)( \|)? per sempre|al (ponte|tetto|dirupo)( [\w|]+){0,3}? e (salto|mi butto)",
                    ),
                    // Readying for after: goodbye letters, things given away "I won't need",
                    // affairs settled, a last time, a secret farewell.
                    (
                        Preparation,
                        r"(lettera|lettere|messaggio) d addio|addio a tutti|quando non ci saro|ultima volta che (ti )?scrivo|dopo la mia morte|lascero una lettera( \w+){0,4}? (per spiegar\w*|il perche)|ho scritto il biglietto|tanto non mi serv\w*( piu)?|(regalato|dato via|venduto|disdetto|lasciato|cancellato)( [\w|]+){0,10}? non mi (servira|serviranno)( piu)?|dove vado non mi serv\w*|(chi si prende|chi prende) (il gatto|il cane|le mie cose)|chi deve ricevere le mie cose|testamento( [\w|]+){0,8}? non e per prudenza|un ultima volta$|era l ultima volta$|salutato tutti senza che|nessuno dovra occuparsene|quando (saro mort[oa]|moriro)( [\w|]+){0,4}? (finalmente|pace|meglio|nessuno)|chi mi trovera|quando mi troveranno|(sto salutando|saluto) tutti( piano piano| poco a poco)?",
                    ),
                    // Self-harm: cutting (and where), burning, a cigarette on the skin, hitting,
                    // scratching until it bleeds.
                    (
                        SelfHarm,
                        r"mi (taglio|tagliata|tagliato|brucio|bruciata|bruciato)|mi sono (tagliat[oa]|bruciat[oa])|tagliarmi|farmi (del )?male|mi faccio (del )?male|mi sto facendo del male|ferirmi|mi ferisco|mi autolesiono|autolesionarmi|sigaretta sul(la)? (braccio|pelle)|spent[oa] (una|la) sigaretta|mi prendo a pugni|mi picchio (da sol[oa]|quando|fino)|finche non (sanguino|mi girava tutto)|fino (a|ad) (sanguinare|aprire la pelle)|sbattuto la testa contro|pieno di tagli|mi sono fatt[oa] un taglio|(strappat[oa]|strappo) (le )?croste",
                    ),
                    // Burden and "better off without me".
                    (
                        Indirect,
                        r"sono (solo )?un peso|(essere|di essere) un peso|(starebbero|vivrebbero|staranno) meglio senza di me|meglio senza di me|nessun motivo per vivere|nessuno se ne accorgerebbe|nessuno (sentira|sentirebbe) la mia mancanza|sarebbe meglio per tutti se",
                    ),
                ],
            ),
        ),
    ]
});

/// Lower case, accents folded, anything but letters and digits a space.
fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push(' ');
    for c in text.chars().flat_map(char::to_lowercase) {
        let folded = match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
            'ç' => "c",
            'è' | 'é' | 'ê' | 'ë' => "e",
            'ì' | 'í' | 'î' | 'ï' => "i",
            'ñ' => "n",
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => "o",
            'ù' | 'ú' | 'û' | 'ü' => "u",
            'ß' => "ss",
            'œ' => "oe",
            c if c.is_alphanumeric() => {
                out.push(c);
                continue;
            }
            // A clause ends: a negation before it does not reach past (see `crisis`).
            '.' | ',' | ';' | '!' | '?' | ':' | '\n' => " | ",
            _ => " ",
        };
        out.push_str(folded);
    }
    out.push(' ');
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The crisis categories first-person language in German, Spanish, French, Portuguese or
/// Italian says in `text`, from each language's lexicon.
pub fn crisis(text: &str) -> Vec<Category> {
    let norm = normalise(text);
    // The contexts are every language's: one language's phrase can match another's text ("mi
    // ammazzo" is Italian, "me mato" Spanish, "suicid…" a word of four of them).
    let any = |pick: fn(&Lexicon) -> &Regex, text: &str| LEXICONS.iter().any(|(_, l)| pick(l).is_match(text));
    let explained = any(|l| &l.explained, &norm);
    let mut found = Vec::new();
    for (_, lex) in LEXICONS.iter() {
        let respelled = respell(&norm, lex.spellings);
        let cut = lex.idioms.replace_all(&respelled, " ");
        let negation = |w: &str| {
            lex.negations.contains(&w)
                || (!lex.not_negations.contains(&w) && LEXICONS.iter().any(|(_, l)| l.negations.contains(&w)))
        };
        for phrase in &lex.phrases {
            if explained && phrase.cat == Preparation {
                continue;
            }
            for m in phrase.re.find_iter(&cut) {
                let said = m.as_str().trim_end_matches([' ', '|']);
                let (start, end) = (m.start(), m.start() + said.len());
                // A negation among the three words before, within the clause ("nunca me
                // mataría"), unless the phrase itself starts with one ("no quiero vivir").
                let before: Vec<&str> = cut[..start]
                    .split_whitespace()
                    .rev()
                    .take(3)
                    .take_while(|w| *w != "|" && !lex.breakers.contains(w))
                    .collect();
                let denied = before.iter().any(|w| negation(w)) && !said.split(' ').next().is_some_and(negation);
                // A negation inside that the phrase does not say itself ("will nicht sterben"
                // against "will _ sterben").
                let named = |w: &str| {
                    phrase
                        .alts
                        .iter()
                        .any(|alt| alt.words.iter().any(|p| p == w) && alt.matches_all_of(said))
                };
                let denied_inside = said.split(' ').any(|w| negation(w) && !named(w));
                // The clause says it is over, a story, or an accident not done on purpose.
                let from = cut[..start].rfind('|').map_or(0, |i| i + 1);
                let to = cut[end..].find('|').map_or(cut.len(), |i| end + i);
                let clause = cut[from..to].trim();
                let lowered =
                    any(|l| &l.over, clause) || (any(|l| &l.accident, clause) && !any(|l| &l.on_purpose, clause));
                if !denied && !denied_inside && !lowered && !found.contains(&phrase.cat) {
                    found.push(phrase.cat);
                }
            }
        }
    }
    found
}

/// `norm` with a language's chat spellings spelled out, word by word.
fn respell(norm: &str, spellings: &[(&str, &str)]) -> String {
    norm.split(' ')
        .map(|w| {
            spellings
                .iter()
                .find(|(short, _)| *short == w)
                .map_or(w, |(_, long)| *long)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The language of `text` when it is reliably one the gate cannot read (not English, German,
/// Spanish, French, Portuguese or Italian): its ISO 639-3 code, for counting.
pub fn unreadable(text: &str) -> Option<&'static str> {
    use whatlang::Lang::*;
    let info = whatlang::detect(text)?;
    if !info.is_reliable() {
        return None;
    }
    match info.lang() {
        Eng | Deu | Spa | Fra | Por | Ita => None,
        other => Some(other.code()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lexicon_compiles() {
        assert_eq!(LEXICONS.len(), 5);
        for (_, lex) in LEXICONS.iter() {
            for phrase in &lex.phrases {
                for alt in &phrase.alts {
                    alt.matches_all_of("");
                }
            }
        }
    }

    #[test]
    fn first_person_crisis_is_read_and_idioms_and_negations_are_not() {
        for text in [
            "Ich will nicht mehr leben.",
            "Quiero morirme, ya no puedo más.",
            "Je veux mourir, je n'en peux plus.",
            "Não quero mais viver.",
            "Voglio morire, non ce la faccio più.",
            "Ich habe schon alle meine Tabletten gesammelt.",
        ] {
            assert!(!crisis(text).is_empty(), "{text}");
        }
        for text in [
            "Ich sterbe vor Hunger!",
            "Me muero de risa con este vídeo.",
            "Je meurs de faim, vivement le dîner.",
            "Morri de vergonha na reunião.",
            "Sto morendo dal ridere.",
            "Nunca me suicidaría, amo demasiado a mi familia.",
            "Je ne veux pas mourir, je veux aller mieux.",
        ] {
            assert!(crisis(text).is_empty(), "{text}: {:?}", crisis(text));
        }
    }

    #[test]
    fn a_language_the_gate_cannot_read_is_named() {
        assert_eq!(
            unreadable("Я больше не хочу жить, всё бессмысленно и я устал от всего этого."),
            Some("rus")
        );
        assert_eq!(
            unreadable("I am tired of everything and want to rest for a while."),
            None
        );
        assert_eq!(
            unreadable("Ich bin heute sehr müde und gehe früh ins Bett, gute Nacht."),
            None
        );
    }
}
