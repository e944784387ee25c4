//! The semantic stage with its real model (fetched by `scripts/test`, found through
//! `PRISM_SAFETY_MODEL_DIR`) and the shipped classifier.

use std::path::PathBuf;

use prism_safety_model::{sentences, sha256_hex, Classifier, Semantic, DIMENSIONS};

fn model_dir() -> PathBuf {
    std::env::var("PRISM_SAFETY_MODEL_DIR")
        .map(PathBuf::from)
        .expect("PRISM_SAFETY_MODEL_DIR: run scripts/test, which fetches the model")
}

fn semantic() -> Semantic {
    Semantic::load(&model_dir()).expect("the model and the shipped classifier load")
}

#[test]
fn embeddings_are_unit_vectors_that_put_meaning_before_words() {
    let s = semantic();
    let e = s
        .embedder()
        .embed(&[
            "I want to end my life.",
            "I don't want to be alive anymore.",
            "The quarterly report is due on Friday.",
        ])
        .expect("embeds");
    assert_eq!(e.len(), 3);
    for v in &e {
        assert_eq!(v.len(), DIMENSIONS);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-3, "{norm}");
    }
    let cos = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>();
    assert!(cos(&e[0], &e[1]) > cos(&e[0], &e[2]) + 0.2);
}

#[test]
fn phrasings_nobody_wrote_a_rule_for_are_read_and_hard_negatives_are_not() {
    let s = semantic();
    for text in [
        "the bottle of pills is on my nightstand and tonight I finally stop being a problem",
        "i keep looking up how many of my tablets it would take",
    ] {
        let r = s.read(text).expect("reads");
        assert!(r.crisis, "{text}: {r:?}");
    }
    for text in [
        "I gave my old guitar to my nephew because he is starting lessons.",
        "Took a photo from the edge of the cliff, the sea was stunning.",
        "This is my last entry before the holiday, see you in two weeks journal!",
        "I always mess up presentations.",
    ] {
        let r = s.read(text).expect("reads");
        assert!(!r.crisis, "{text}: {r:?}");
    }
}

#[test]
fn a_long_entry_is_as_risky_as_its_riskiest_sentence() {
    let s = semantic();
    let ordinary = "Work was long today and the bus was late again, so I made pasta and watched a film. ";
    let mut entry = ordinary.repeat(94);
    entry.truncate(7_900);
    assert!(!s.read(&entry).expect("reads").crisis);
    entry.push_str(" i keep looking up how many of my tablets it would take.");
    assert!(entry.chars().count() > 7_900);
    assert!(s.read(&entry).expect("reads").crisis);
    assert!(sentences(&entry).len() > 80);
}

#[test]
fn the_shipped_weights_were_trained_on_the_corpora_in_the_repository() {
    let c = Classifier::shipped().expect("parses");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let bytes: Vec<Vec<u8>> = c
        .trained_on
        .iter()
        .map(|p| std::fs::read(root.join(p)).expect("a corpus it names"))
        .collect();
    let parts: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
    assert_eq!(
        sha256_hex(&parts),
        c.corpora_sha256,
        "a corpus changed since the classifier was trained: run `prism safety train`"
    );
    assert!(
        c.trained_on.iter().all(|p| !p.contains("unseen")),
        "never trained on the unseen set"
    );
}
