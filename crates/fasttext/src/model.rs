//! A loaded supervised model and its prediction.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use crate::dictionary::Dictionary;
use crate::matrix::Matrix;
use crate::read::{Args, Binary, MODEL_SUPERVISED};
use crate::Error;

const MAGIC: u32 = 793_712_314;

/// How the model turns its hidden vector into label scores (fastText's `-loss`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// Hierarchical softmax over a Huffman tree of the labels (`hs`; lid.176).
    HierarchicalSoftmax,
    /// Negative sampling (`ns`): each label's sigmoid.
    NegativeSampling,
    /// Softmax over all labels (`softmax`).
    Softmax,
    /// One-vs-all (`ova`): each label's sigmoid, for multi-label models.
    OneVsAll,
}

/// One predicted label.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The label as stored in the model (`__label__en`).
    pub raw_label: String,
    /// The probability fastText reports (`exp` of its log score).
    pub probability: f32,
}

impl Prediction {
    /// The label without fastText's `__label__` prefix (`en`).
    pub fn label(&self) -> &str {
        self.raw_label.strip_prefix("__label__").unwrap_or(&self.raw_label)
    }
}

/// A node of the hierarchical-softmax tree.
#[derive(Clone, Copy)]
struct Node {
    left: i32,
    right: i32,
    count: i64,
}

/// A fastText supervised model, ready to predict.
pub struct Model {
    dim: usize,
    loss: Loss,
    dictionary: Dictionary,
    input: Matrix,
    output: Matrix,
    /// The Huffman tree, for hierarchical softmax (leaves are labels `0..n`).
    tree: Vec<Node>,
}

fn std_log(x: f32) -> f32 {
    (x + 1e-5).ln()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

impl Model {
    /// Reads a `.bin` or `.ftz` model file.
    pub fn open(path: impl AsRef<Path>) -> Result<Model, Error> {
        Model::read(BufReader::with_capacity(1 << 20, File::open(path)?))
    }

    /// Reads a model from any reader.
    pub fn read(reader: impl Read) -> Result<Model, Error> {
        let mut input = Binary::new(reader);
        let magic = input.i32()? as u32;
        if magic != MAGIC {
            return Err(Error::NotFastText { found: magic, expected: MAGIC });
        }
        let version = input.i32()?;
        if !(11..=12).contains(&version) {
            return Err(Error::Version(version));
        }
        let args = Args::read(&mut input)?;
        if args.model != MODEL_SUPERVISED {
            return Err(Error::NotSupervised(if args.model == 1 { "cbow" } else { "skipgram" }));
        }
        let loss = match args.loss {
            1 => Loss::HierarchicalSoftmax,
            2 => Loss::NegativeSampling,
            3 => Loss::Softmax,
            4 => Loss::OneVsAll,
            other => return Err(Error::Corrupt(format!("loss {other}"))),
        };
        let dictionary = Dictionary::read(&mut input, &args)?;
        if dictionary.labels.is_empty() {
            return Err(Error::Corrupt("a supervised model without labels".into()));
        }
        let quantized_input = input.bool()?;
        let input_matrix = Matrix::read(&mut input, quantized_input)?.decoded_if_at_most(DECODED_INPUT_CELLS);
        let quantized_output = input.bool()?;
        let output = Matrix::read(&mut input, quantized_input && quantized_output)?;
        if input_matrix.cols() != args.dim || output.cols() != args.dim {
            return Err(Error::Corrupt(format!(
                "matrices of {} and {} columns in a model of dim {}",
                input_matrix.cols(),
                output.cols(),
                args.dim
            )));
        }
        if input_matrix.rows() < dictionary.input_rows_at_least() {
            return Err(Error::Corrupt(format!(
                "input matrix has {} rows, the dictionary needs {}",
                input_matrix.rows(),
                dictionary.input_rows_at_least()
            )));
        }
        let labels = dictionary.labels.len();
        let output_rows_needed = if loss == Loss::HierarchicalSoftmax { labels - 1 } else { labels };
        if output.rows() < output_rows_needed {
            return Err(Error::Corrupt(format!(
                "output matrix has {} rows for {labels} labels",
                output.rows()
            )));
        }
        let tree = if loss == Loss::HierarchicalSoftmax {
            huffman_tree(&dictionary.label_counts)
        } else {
            Vec::new()
        };
        Ok(Model { dim: args.dim, loss, dictionary, input: input_matrix, output, tree })
    }

    /// The labels, `__label__` prefix included, in the model's order.
    pub fn labels(&self) -> &[String] {
        &self.dictionary.labels
    }

    /// How the model scores labels.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// The `k` most probable labels of `text` with probability at least `threshold`, best
    /// first; empty when no token of the text is known to the model. Newlines count as spaces,
    /// as in fastText's Python `predict` on one line.
    pub fn predict(&self, text: &str, k: usize, threshold: f32) -> Vec<Prediction> {
        let mut scratch = Scratch::default();
        self.predict_with(text, k, threshold, &mut scratch)
    }

    /// [`Model::predict`] reusing buffers across calls (one [`Scratch`] per thread).
    pub fn predict_with(
        &self,
        text: &str,
        k: usize,
        threshold: f32,
        scratch: &mut Scratch,
    ) -> Vec<Prediction> {
        if k == 0 {
            return Vec::new();
        }
        self.dictionary.line_rows(
            text,
            &mut scratch.tokens,
            &mut scratch.rows,
            &mut scratch.hashes,
            &mut scratch.word,
        );
        if scratch.rows.is_empty() {
            return Vec::new();
        }
        let hidden = &mut scratch.hidden;
        hidden.clear();
        hidden.resize(self.dim, 0.0);
        for &row in &scratch.rows {
            self.input.add_row(hidden, row as usize);
        }
        let scale = 1.0 / scratch.rows.len() as f32;
        for h in hidden.iter_mut() {
            *h *= scale;
        }
        let mut best: Vec<(f32, usize)> = Vec::with_capacity(k + 1);
        match self.loss {
            Loss::HierarchicalSoftmax => {
                let root = self.tree.len() - 1;
                self.descend(k, threshold, root, 0.0, &mut best, hidden);
            }
            Loss::Softmax => {
                let scores = &mut scratch.scores;
                scores.clear();
                scores.extend((0..self.labels().len()).map(|i| self.output.dot_row(hidden, i)));
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0f32;
                for s in scores.iter_mut() {
                    *s = (*s - max).exp();
                    sum += *s;
                }
                for s in scores.iter_mut() {
                    *s /= sum;
                }
                k_best(scores, k, threshold, &mut best);
            }
            Loss::NegativeSampling | Loss::OneVsAll => {
                let scores = &mut scratch.scores;
                scores.clear();
                scores.extend((0..self.labels().len()).map(|i| sigmoid(self.output.dot_row(hidden, i))));
                k_best(scores, k, threshold, &mut best);
            }
        }
        best.sort_by(|a, b| b.0.total_cmp(&a.0));
        best.into_iter()
            .map(|(score, label)| Prediction {
                raw_label: self.dictionary.labels[label].clone(),
                probability: score.exp(),
            })
            .collect()
    }

    /// fastText's depth-first search of the label tree, keeping the `k` best leaves.
    fn descend(
        &self,
        k: usize,
        threshold: f32,
        node: usize,
        score: f32,
        best: &mut Vec<(f32, usize)>,
        hidden: &[f32],
    ) {
        if score < std_log(threshold) {
            return;
        }
        if best.len() == k && score < worst(best) {
            return;
        }
        let Node { left, right, .. } = self.tree[node];
        if left == -1 && right == -1 {
            push_best(best, k, score, node);
            return;
        }
        let labels = self.labels().len();
        let f = sigmoid(self.output.dot_row(hidden, node - labels));
        self.descend(k, threshold, left as usize, score + std_log(1.0 - f), best, hidden);
        self.descend(k, threshold, right as usize, score + std_log(f), best, hidden);
    }
}

/// A quantized input matrix up to this many cells (64 MiB of `f32`; lid.176.ftz has 0.8 M:
/// 50,000 rows of 16) is decoded once at load, so predictions add dense rows.
const DECODED_INPUT_CELLS: usize = 16 << 20;

/// Buffers reused by [`Model::predict_with`].
#[derive(Default)]
pub struct Scratch {
    tokens: crate::dictionary::TokenRows,
    rows: Vec<i32>,
    hashes: Vec<i32>,
    word: Vec<u8>,
    hidden: Vec<f32>,
    scores: Vec<f32>,
}

fn worst(best: &[(f32, usize)]) -> f32 {
    best.iter().map(|b| b.0).fold(f32::INFINITY, f32::min)
}

/// Adds a label to the `k` best, evicting the lowest score when there are more than `k`.
fn push_best(best: &mut Vec<(f32, usize)>, k: usize, score: f32, label: usize) {
    best.push((score, label));
    if best.len() > k {
        let (at, _) =
            best.iter().enumerate().fold(
                (0, f32::INFINITY),
                |acc, (i, b)| {
                    if b.0 < acc.1 {
                        (i, b.0)
                    } else {
                        acc
                    }
                },
            );
        best.remove(at);
    }
}

/// fastText's `findKBest` over probabilities.
fn k_best(probabilities: &[f32], k: usize, threshold: f32, best: &mut Vec<(f32, usize)>) {
    for (label, &p) in probabilities.iter().enumerate() {
        if p < threshold {
            continue;
        }
        let score = std_log(p);
        if best.len() == k && score < worst(best) {
            continue;
        }
        push_best(best, k, score, label);
    }
}

/// fastText's `buildTree`: a Huffman tree over label counts (sorted most frequent first); leaves
/// `0..n`, the root last.
fn huffman_tree(counts: &[i64]) -> Vec<Node> {
    let n = counts.len();
    let mut tree = vec![Node { left: -1, right: -1, count: 1_000_000_000_000_000 }; 2 * n - 1];
    for (node, &count) in tree.iter_mut().zip(counts) {
        node.count = count;
    }
    let mut leaf = n as i64 - 1;
    let mut inner = n;
    for i in n..2 * n - 1 {
        let mut pick = [0usize; 2];
        for slot in &mut pick {
            if leaf >= 0 && tree[leaf as usize].count < tree[inner].count {
                *slot = leaf as usize;
                leaf -= 1;
            } else {
                *slot = inner;
                inner += 1;
            }
        }
        tree[i] = Node {
            left: pick[0] as i32,
            right: pick[1] as i32,
            count: tree[pick[0]].count + tree[pick[1]].count,
        };
    }
    tree
}

#[cfg(test)]
mod tests;
