//! First-person crisis language in German, Spanish, French, Portuguese and Italian: a lexicon per
//! language, read on lower-case text with accents folded. The English rules (stems, clauses,
//! subject and tense) are far richer; these lexicons name the common ways of saying a wish to be
//! dead, ideation, a method, preparation, self-harm, farewell and the indirect forms, with
//! each language's idioms of exaggeration cut out first ("me muero de risa", "je meurs de faim")
//! and a negation just before a phrase ("nunca me mataría") making it no crisis.
//!
//! Text in a language the gate cannot read at all is reported ([`unreadable`]) so it is counted
//! and never silently treated as safe.

use std::sync::LazyLock;

use regex::Regex;

use super::Category::{self, *};

/// A language's lexicon: idioms cut first, negations, then (category, phrase) patterns.
struct Lexicon {
    idioms: Regex,
    negations: &'static [&'static str],
    phrases: Vec<(Category, Regex)>,
}

fn re(pattern: &str) -> Regex {
    // The patterns are constants; a test compiles every one of them.
    Regex::new(&format!(r"\b(?:{pattern})\b")).unwrap_or_else(|e| panic!("lexicon pattern {pattern:?}: {e}"))
}

fn lexicon(idioms: &str, negations: &'static [&'static str], phrases: &[(Category, &str)]) -> Lexicon {
    Lexicon {
        idioms: re(idioms),
        negations,
        phrases: phrases.iter().map(|(c, p)| (*c, re(p))).collect(),
    }
}

static LEXICONS: LazyLock<Vec<(&'static str, Lexicon)>> = LazyLock::new(|| {
    vec![
        (
            "de",
            lexicon(
                r"sterbe vor \w+|zu tode \w+|todmude|totlachen|tot gelacht|sterbenslangweilig|schluss machen mit (ihm|ihr|dir)",
                &["nicht", "nie", "niemals", "kein", "keine", "keinesfalls"],
                &[
                    (
                        WishDead,
                        r"(will|mochte|moechte|wunschte|wuensche|wunsche) (ich )?(nicht mehr leben|sterben|tot sein)|ich ware (lieber )?tot|ware ich (doch )?tot|lieber tot|tot sein will|will nicht mehr leben|nicht mehr leben (will|mochte)",
                    ),
                    (
                        WishDead,
                        r"(nicht mehr|nie wieder|nie mehr) (aufwache|aufwachen|aufzuwachen|da sein|existieren|hier sein)|will tot sein|(erlebe|erleben) ich nicht mehr|nur noch einen ausweg|fur immer (schlafen|einschlafen)|lebensmude",
                    ),
                    (
                        ActiveIdeation,
                        r"mich (selbst )?(umbringen|umzubringen|toten|zu toten|erhangen|aufhangen|aufzuhangen|vergiften)|mir das leben (nehmen|zu nehmen)|selbstmord|suizidgedanken|suizidal|mich um\w*bringen|(ich )?bring\w* mich um\b|(vor|unter) (den|einen)( \w+)? zug( zu)? werfen|bevor ich spring\w*|ich spring\w* (jetzt|gleich|heute)",
                    ),
                    (
                        Intent,
                        r"(meinem|dem) leben ein ende|allem ein ende (setzen|machen|bereiten)|es (heute|morgen|endlich|jetzt) beenden|alles beenden|ich mache schluss( mit allem| mit dem leben)?$",
                    ),
                    (
                        Method,
                        r"(von|vor) (der|die|den) (brucke|bruecke|zug|gleise|u bahn)|vom (dach|hochhaus|balkon) springen|springe? (ich )?(von|vom)|pulsadern|strick|uberdosis|ueberdosis|alle (meine )?\w*tabletten|\w*tabletten (sammeln|gesammelt|horten|gehortet|schlucken|zusammen)|(sammle|sammel|horte|hamstere|zahle)( \w+){0,5} \w*tabletten|(ganze|alle) (packung|tabletten|pillen)\w*( \w+)? (geschluckt|genommen)",
                    ),
                    (
                        Preparation,
                        r"abschiedsbrief\w*|abschiedsbriefe|testament (gemacht|geschrieben|aufgesetzt|aktualisiert)|lebt wohl|mich verabschieden fur immer|wenn ich nicht mehr da bin|brauch\w* ich (sie|es|ihn|das)( eh| dann| sowieso)? nicht mehr|wenn ich es( \w+){1,2} tue|mein letzter eintrag( \| \w+){0,1} danke fur alles",
                    ),
                    (
                        SelfHarm,
                        r"(ich )?ritze mich|mich( \w+){0,3} (geritzt|ritzen|zu ritzen|verletzt|verletzen|zu verletzen|geschnitten|schneiden)|absichtlich( \w+){0,6} verbrannt|bis es blutet|bis ich blute",
                    ),
                    (
                        Indirect,
                        r"ohne mich (besser|besser dran)|(allen|nur)( noch)? (eine )?last|kein(en)? (grund|sinn) mehr (zu leben|weiterzuleben|weiterzumachen)|nicht mehr weiterleben",
                    ),
                ],
            ),
        ),
        (
            "es",
            lexicon(
                r"(intente|intento de) (suicidarme|matarme|quitarme la vida)|mor\w* de (risa|verguenza|hambre|sueno|calor|frio|aburrimiento|ganas|envidia|amor|miedo|la risa)|me mata de (risa|verguenza)",
                &["no", "nunca", "jamas", "ni"],
                &[
                    (
                        WishDead,
                        r"(quiero|quisiera|quería|queria) (morir\w*|estar muert[oa]|dejar de existir|desaparecer para siempre|no despertar)|me quiero morir|ganas de morir\w*|ojala (me muriera|estuviera muert[oa]|no despertar\w*)|prefiero estar muert[oa]|mejor muert[oa]|no quiero (vivir|seguir viviendo|seguir aqui|despertar|seguir)",
                    ),
                    (
                        WishDead,
                        r"dormir para siempre|no despertar (nunca|mas|jamas)|no volver a despertar|deseando no despertar|sentido a seguir viv[oa]|que (todo )?se acabe( todo)? para mi",
                    ),
                    (
                        ActiveIdeation,
                        r"matarme|me voy a matar|me mataria|suicidarme|me voy a suicidar|me suicid(o|are|aria)|quitarme la vida|ahorcarme|tirarme (del|de un|de la|por la|al|a las vias)|me tiro (del|de un|de la|por)|lanzarme (del|de un|al)",
                    ),
                    (
                        Intent,
                        r"acabar con (mi vida|todo)|terminar con (mi vida|todo)|ponerle fin a (mi vida|todo)|esta noche (lo hago|se acaba)|acabar conmigo|otra salida que|me voy del todo|ya tengo (la )?fecha|cuando me mate|irme con (el|ella) para siempre|me vaya para siempre|dejarlos libres de mi",
                    ),
                    (
                        Method,
                        r"(juntando|guardando|acumulando|ahorrando|junte|guarde) (las |mis )?(pastillas|pildoras|medicamentos)|todas (las|mis) pastillas|sobredosis|cortarme las venas|una soga|la cuerda|(bebiendo|tomando) hasta que|(tome|tomado|tomar) (el bote|la caja|el frasco|todas)( entero| entera)?|cornisa del",
                    ),
                    (
                        Preparation,
                        r"carta(s)? de despedida|me despido (de todos|para siempre)|adios para siempre|cuando ya no este|cuando yo no este|a donde voy no (los|las|lo|la) necesito|ultima vez que te escribo",
                    ),
                    (
                        SelfHarm,
                        r"me (volvi a )?cort(o|e|ar)|cortarme|(vuelto|volvi) a cortar(me)?|me (hago|hice) dano|hacerme dano|me lastim(o|e)|lastimarme|me autolesiono|autolesionarme|me quem(o|e) (a proposito|el brazo)",
                    ),
                    (
                        Indirect,
                        r"soy (una carga|un estorbo)|sin mi( \w+){0,2} (estarian|estaran|vivirian) (mucho )?mejor|(estarian|estaran|vivirian) mejor sin mi|mejor sin mi|no (tiene|hay) (sentido|razon) (para )?(vivir|seguir)",
                    ),
                ],
            ),
        ),
        (
            "fr",
            lexicon(
                r"(meurs|mourir|mourrais|meurt|crever) de (rire|faim|honte|chaud|froid|envie|peur|sommeil|ennui|soif)|mort de rire|(va|vont|allait|allaient) me tuer|en finir avec (ce|cette|ces|le|la|les|mon|ma|mes) (projet|rapport|travail|dossier|semaine|examen|examens|boulot|demenagement)",
                &["ne", "jamais", "pas", "non"],
                &[
                    (
                        WishDead,
                        r"(je veux|je voudrais|j aimerais|envie de) (mourir|etre mort|etre morte|disparaitre pour toujours|ne plus (me reveiller|exister))|je ne veux plus vivre|(plus|pas) envie de vivre|marre de vivre|je prefererais etre mort[e]?|mieux vaut que je meure",
                    ),
                    (
                        WishDead,
                        r"dormir pour toujours|ne plus jamais me reveiller|ne jamais me reveiller|ne pas me reveiller demain|ne plus me reveiller|envie de crever|idees suicidaires|aucune issue (a part|sauf) (mourir|la mort)",
                    ),
                    (
                        ActiveIdeation,
                        r"me tuer|me suicider|je me suicide|mettre fin a (mes jours|ma vie)|me pendre|me jeter (du|d un|de la|sous|par)|me foutre en l air|je me tue|je passe a l acte|me laisser tomber|jusqu a ce que tout s arrete|jusqu a ne plus avoir pied",
                    ),
                    (
                        Intent,
                        r"en finir( avec la vie| avec tout| une bonne fois| pour de bon)?$|je veux en finir|je vais en finir|mettre fin a tout|c est (decide|ce soir)",
                    ),
                    (
                        Method,
                        r"(garde|stocke|accumule|mis de cote|garder|stocker|accumuler) (des |mes |les )?(cachets|medicaments|comprimes)|tous (mes|les) (cachets|medicaments|comprimes)|surdose|me couper les veines|une corde",
                    ),
                    (
                        Preparation,
                        r"lettre(s)? d adieu|adieu a tous|quand je ne serai plus (la|ici)|apres ma mort|pour apres moi|quand je serai parti\w* pour (de bon|toujours)|et de tout le reste",
                    ),
                    (
                        SelfHarm,
                        r"me (scarifie|scarifier|mutile|mutiler|taillade|taillader)|je me (suis )?(coupe|coupee|brule|brulee)|me faire du mal|je me fais du mal|automutil\w*|je me frappe|me frapper",
                    ),
                    (
                        Indirect,
                        r"je suis un fardeau|(seraient|serait|vivraient)( tous)? (plus heureux|mieux) sans moi|mieux sans moi|(plus|aucune) raison de vivre",
                    ),
                ],
            ),
        ),
        (
            "pt",
            lexicon(
                r"(vai|vao|ainda vai) me matar|(morrer|morri|morrendo|morro|morrer) de (rir|vergonha|fome|medo|calor|frio|sono|saudade|inveja|tedio|cansaco)",
                &["nao", "nunca", "jamais"],
                &[
                    (
                        WishDead,
                        r"(quero|queria|gostaria de) (morrer|estar mort[oa]|sumir para sempre|deixar de existir|nao acordar)|vontade de morrer|nao quero (mais )?viver|prefiro estar mort[oa]|melhor mort[oa]|nao aguento mais viver",
                    ),
                    (
                        WishDead,
                        r"dormir para sempre|nunca mais acordar|nao acordar mais|cansei de viver|nao quero mais estar aqui|se eu morresse|deixar de existir|nao chego (no|ao) meu aniversario|(outra|nenhuma) saida( \w+){0,4} (morrer|a morte)",
                    ),
                    (
                        ActiveIdeation,
                        r"me matar|matar me|me suicidar|suicidar me|tirar (a )?minha (propria )?vida|me enforcar|me jogar (da|de|do|na frente)|pular (da|de|do) (ponte|predio|janela|viaduto)|antes de pular",
                    ),
                    (
                        Intent,
                        r"acabar com (a minha vida|minha vida|tudo)|por fim (a|na) (minha vida|tudo)|vou acabar com tudo",
                    ),
                    (
                        Method,
                        r"(juntando|guardando|acumulando|juntei|guardei|escondendo) (os |meus )?(remedios|comprimidos|pilulas)|(tomar|tomei|tomado) a cartela|todos os (meus )?(remedios|comprimidos)|cortar os pulsos|uma corda",
                    ),
                    (
                        Preparation,
                        r"carta(s)? de despedida|me despedir de todos|adeus para sempre|quando eu nao estiver mais (aqui|ai)|depois que eu me for|nao vou (mais )?estar aqui|(minha )?ultima entrada|encontrar (meu|minha) \w+ do outro lado",
                    ),
                    (
                        SelfHarm,
                        r"me (cortei|corto|cortar|machuquei|machuco|machucar|ferir|feri|queimei|queimo)|me autolesion\w*|automutila\w*|autolesao|me batendo",
                    ),
                    (
                        Indirect,
                        r"sou um (fardo|peso)|(ficariam|estariam|viveriam) melhor sem mim|melhor sem mim|mais feliz sem mim|deixar de ser um problema|(nenhum|sem) motivo para viver|nao (ha|tem) razao para viver",
                    ),
                ],
            ),
        ),
        (
            "it",
            lexicon(
                r"(morire|muoio|morendo|morto|morta) (dal ridere|di fame|di noia|dalla vergogna|di caldo|di freddo|di sonno|d invidia|di paura|dalle risate)",
                &["non", "mai"],
                &[
                    (
                        WishDead,
                        r"non ho piu voglia di vivere|vorrei( \w+)? essere mort[oa]|(voglio|vorrei) (morire|essere mort[oa]|sparire per sempre|non svegliarmi|smettere di esistere)|voglia di morire|non voglio piu vivere|preferirei essere mort[oa]|meglio mort[oa]",
                    ),
                    (
                        WishDead,
                        r"dormire per sempre|non svegliarmi( mai)? piu|non risvegliarmi|il mio ultimo (inverno|natale|compleanno|anno)|raggiungere (il nonno|la nonna|mio padre|mia madre)|(via d uscita|soluzione) tranne la morte",
                    ),
                    (
                        ActiveIdeation,
                        r"uccidermi|ammazzarmi|mi ammazzo|mi uccido|suicidarmi|mi suicido|togliermi la vita|impiccarmi|buttarmi (dal|da|sotto|giu)|(di|prima di) buttarmi|quando mi uccidero|contro un muro|lanciarmi (dal|da|sotto)",
                    ),
                    (
                        Intent,
                        r"farla finita|farmi fuori|porre fine alla mia vita|finirla (stasera|oggi|per sempre)",
                    ),
                    (
                        Method,
                        r"(mettendo da parte|accumulando|conservando|messo da parte|accumulato) (le |delle |mie )?(pillole|pasticche|medicine|compresse)|tutte le (mie )?(pillole|pasticche|compresse|pastiglie)|finche non si spegne tutto|tagliarmi le vene|una corda",
                    ),
                    (
                        Preparation,
                        r"lettera d addio|lettere d addio|addio a tutti|quando non ci saro piu|non ci saro piu|ultima volta che ti scrivo|dopo la mia morte",
                    ),
                    (
                        SelfHarm,
                        r"mi (taglio|tagliata|tagliato|brucio|bruciata|bruciato)|mi sono (tagliat[oa]|bruciat[oa])|tagliarmi|farmi del male|mi faccio del male|autolesion\w*|sigaretta sul braccio|mi prendo a pugni|finche non sanguino",
                    ),
                    (
                        Indirect,
                        r"sono (solo )?un peso|(starebbero|vivrebbero) meglio senza di me|meglio senza di me|nessun motivo per vivere",
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
    let mut found = Vec::new();
    for (_, lex) in LEXICONS.iter() {
        let cut = lex.idioms.replace_all(&norm, " ");
        for (cat, pattern) in &lex.phrases {
            for m in pattern.find_iter(&cut) {
                let before: Vec<&str> = cut[..m.start()]
                    .split_whitespace()
                    .rev()
                    .take(3)
                    .take_while(|w| *w != "|")
                    .collect();
                // Any of the languages' negations: "suicid…" is a word of four of them.
                let negation = |w: &str| LEXICONS.iter().any(|(_, l)| l.negations.contains(&w));
                let negated = before.iter().any(|w| negation(w)) && !m.as_str().split(' ').next().is_some_and(negation);
                if !negated && !found.contains(cat) {
                    found.push(*cat);
                }
            }
        }
    }
    found
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
