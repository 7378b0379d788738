//! The input and output matrices: dense `f32` rows, or product-quantized rows (`.ftz`).

use std::io::Read;

use crate::read::Binary;
use crate::Error;

/// Centroids per sub-quantizer (fastText's `ksub_`, 8-bit codes).
const KSUB: usize = 256;
/// Limit on matrix cells read from a file (a guard against corrupt sizes: 4 GiB of `f32`).
const MAX_CELLS: i64 = 1 << 30;

/// fastText's `ProductQuantizer`: each row split into `nsubq` pieces of `dsub` values (the last
/// `lastdsub`), each piece one of 256 centroids.
struct ProductQuantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

impl ProductQuantizer {
    fn read<R: Read>(input: &mut Binary<R>) -> Result<Self, Error> {
        let dim = input.i32()?;
        let nsubq = input.i32()?;
        let dsub = input.i32()?;
        let lastdsub = input.i32()?;
        let dim = input.count("quantizer dim", dim as i64, 1 << 16)?;
        let nsubq = input.count("sub-quantizers", nsubq as i64, 1 << 16)?;
        let dsub = input.count("sub-quantizer width", dsub as i64, 1 << 16)?;
        let lastdsub = input.count("last sub-quantizer width", lastdsub as i64, 1 << 16)?;
        if nsubq == 0 || (nsubq - 1) * dsub + lastdsub != dim {
            return Err(Error::Corrupt(format!(
                "quantizer of {nsubq} x {dsub} (+{lastdsub}) does not cover {dim} dimensions"
            )));
        }
        let centroids = input.vec_f32(dim * KSUB)?;
        Ok(ProductQuantizer { nsubq, dsub, lastdsub, centroids })
    }

    fn centroid(&self, sub: usize, code: u8) -> &[f32] {
        let code = code as usize;
        if sub == self.nsubq - 1 {
            let start = sub * KSUB * self.dsub + code * self.lastdsub;
            &self.centroids[start..start + self.lastdsub]
        } else {
            let start = (sub * KSUB + code) * self.dsub;
            &self.centroids[start..start + self.dsub]
        }
    }
}

/// fastText's `QuantMatrix`.
struct Quantized {
    rows: usize,
    codes: Vec<u8>,
    pq: ProductQuantizer,
    /// Per-row norm codes and their quantizer, when norms were quantized apart (`-qnorm`).
    norms: Option<(Vec<u8>, ProductQuantizer)>,
}

impl Quantized {
    fn norm(&self, row: usize) -> f32 {
        match &self.norms {
            None => 1.0,
            Some((codes, npq)) => npq.centroid(0, codes[row])[0],
        }
    }

    fn row_codes(&self, row: usize) -> &[u8] {
        &self.codes[row * self.pq.nsubq..(row + 1) * self.pq.nsubq]
    }
}

pub(crate) enum Matrix {
    Dense { rows: usize, cols: usize, data: Vec<f32> },
    Quantized(Box<QuantizedMatrix>),
}

/// A boxed quantized matrix (keeps [`Matrix`] small).
pub(crate) struct QuantizedMatrix(Quantized);

impl Matrix {
    pub(crate) fn read<R: Read>(input: &mut Binary<R>, quantized: bool) -> Result<Matrix, Error> {
        if !quantized {
            let rows = input.i64()?;
            let cols = input.i64()?;
            let rows = input.count("matrix rows", rows, MAX_CELLS)?;
            let cols = input.count("matrix columns", cols, 1 << 16)?;
            if rows as i64 * cols as i64 > MAX_CELLS {
                return Err(Error::Corrupt(format!("a {rows} x {cols} matrix")));
            }
            let data = input.vec_f32(rows * cols)?;
            return Ok(Matrix::Dense { rows, cols, data });
        }
        let qnorm = input.bool()?;
        let rows = input.i64()?;
        let _cols = input.i64()?;
        let rows = input.count("matrix rows", rows, MAX_CELLS)?;
        let code_size = input.i32()?;
        let code_size = input.count("code size", code_size as i64, MAX_CELLS)?;
        let codes = input.vec_u8(code_size)?;
        let pq = ProductQuantizer::read(input)?;
        if codes.len() != rows * pq.nsubq {
            return Err(Error::Corrupt(format!(
                "{} codes for {rows} rows of {} sub-quantizers",
                codes.len(),
                pq.nsubq
            )));
        }
        let norms = if qnorm {
            let codes = input.vec_u8(rows)?;
            Some((codes, ProductQuantizer::read(input)?))
        } else {
            None
        };
        Ok(Matrix::Quantized(Box::new(QuantizedMatrix(Quantized { rows, codes, pq, norms }))))
    }

    /// A quantized matrix of at most `max_cells` cells decoded to dense rows, each cell the
    /// `norm * centroid` product that [`Matrix::add_row`] would add: sums are bit-identical, and
    /// adding a row becomes one contiguous pass. Larger ones stay quantized.
    pub(crate) fn decoded_if_at_most(self, max_cells: usize) -> Matrix {
        let Matrix::Quantized(q) = &self else { return self };
        let cols = self.cols();
        let q = &q.0;
        if q.rows.saturating_mul(cols) > max_cells {
            return self;
        }
        let mut data = Vec::with_capacity(q.rows * cols);
        for row in 0..q.rows {
            let norm = q.norm(row);
            for (sub, &code) in q.row_codes(row).iter().enumerate() {
                data.extend(q.pq.centroid(sub, code).iter().map(|c| norm * c));
            }
        }
        Matrix::Dense { rows: q.rows, cols, data }
    }

    pub(crate) fn rows(&self) -> usize {
        match self {
            Matrix::Dense { rows, .. } => *rows,
            Matrix::Quantized(q) => q.0.rows,
        }
    }

    pub(crate) fn cols(&self) -> usize {
        match self {
            Matrix::Dense { cols, .. } => *cols,
            Matrix::Quantized(q) => (q.0.pq.nsubq - 1) * q.0.pq.dsub + q.0.pq.lastdsub,
        }
    }

    /// `x += row` (fastText's `addRowToVector`).
    pub(crate) fn add_row(&self, x: &mut [f32], row: usize) {
        match self {
            Matrix::Dense { cols, data, .. } => {
                for (xi, v) in x.iter_mut().zip(&data[row * cols..(row + 1) * cols]) {
                    *xi += v;
                }
            }
            Matrix::Quantized(q) => {
                let q = &q.0;
                let norm = q.norm(row);
                for (sub, &code) in q.row_codes(row).iter().enumerate() {
                    let piece = &mut x[sub * q.pq.dsub..];
                    for (xi, c) in piece.iter_mut().zip(q.pq.centroid(sub, code)) {
                        *xi += norm * c;
                    }
                }
            }
        }
    }

    /// `row . x` (fastText's `dotRow`).
    pub(crate) fn dot_row(&self, x: &[f32], row: usize) -> f32 {
        match self {
            Matrix::Dense { cols, data, .. } => {
                data[row * cols..(row + 1) * cols].iter().zip(x).map(|(a, b)| a * b).sum()
            }
            Matrix::Quantized(q) => {
                let q = &q.0;
                let mut sum = 0.0f32;
                for (sub, &code) in q.row_codes(row).iter().enumerate() {
                    for (c, xi) in q.pq.centroid(sub, code).iter().zip(&x[sub * q.pq.dsub..]) {
                        sum += c * xi;
                    }
                }
                sum * q.norm(row)
            }
        }
    }
}
