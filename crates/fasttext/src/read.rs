//! Little-endian reading of fastText's binary layout, and the model's training arguments.

use std::io::Read;

use crate::Error;

/// A reader of the fixed-width values fastText writes (native little-endian on every platform
/// it ships models from).
pub(crate) struct Binary<R> {
    inner: R,
}

impl<R: Read> Binary<R> {
    pub(crate) fn new(inner: R) -> Self {
        Binary { inner }
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf)?;
        Ok(buf)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.bytes::<1>()?[0])
    }

    pub(crate) fn bool(&mut self) -> Result<bool, Error> {
        Ok(self.u8()? != 0)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, Error> {
        Ok(i32::from_le_bytes(self.bytes()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, Error> {
        Ok(i64::from_le_bytes(self.bytes()?))
    }

    pub(crate) fn f64(&mut self) -> Result<f64, Error> {
        Ok(f64::from_le_bytes(self.bytes()?))
    }

    /// A count that must be in `0..=limit` (a guard against allocating for corrupt sizes).
    pub(crate) fn count(&mut self, what: &str, value: i64, limit: i64) -> Result<usize, Error> {
        if !(0..=limit).contains(&value) {
            return Err(Error::Corrupt(format!("{what} is {value}")));
        }
        Ok(value as usize)
    }

    /// `n` bytes.
    pub(crate) fn vec_u8(&mut self, n: usize) -> Result<Vec<u8>, Error> {
        let mut buf = Vec::new();
        (&mut self.inner).take(n as u64).read_to_end(&mut buf)?;
        if buf.len() != n {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("truncated: expected {n} more bytes, found {}", buf.len()),
            )));
        }
        Ok(buf)
    }

    /// `n` little-endian `f32`s.
    pub(crate) fn vec_f32(&mut self, n: usize) -> Result<Vec<f32>, Error> {
        let raw = self.vec_u8(n.checked_mul(4).ok_or_else(|| Error::Corrupt("matrix too large".into()))?)?;
        Ok(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    /// A NUL-terminated string.
    pub(crate) fn c_string(&mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        loop {
            match self.u8()? {
                0 => return Ok(out),
                b => out.push(b),
            }
            if out.len() > 1 << 20 {
                return Err(Error::Corrupt("a dictionary entry longer than 1 MiB".into()));
            }
        }
    }
}

/// The model's training arguments that inference needs.
#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) dim: usize,
    pub(crate) word_ngrams: usize,
    pub(crate) loss: i32,
    pub(crate) model: i32,
    pub(crate) bucket: u32,
    pub(crate) minn: usize,
    pub(crate) maxn: usize,
}

/// fastText's `model_name::sup`.
pub(crate) const MODEL_SUPERVISED: i32 = 3;

impl Args {
    pub(crate) fn read<R: Read>(input: &mut Binary<R>) -> Result<Args, Error> {
        let dim = input.i32()?;
        let _ws = input.i32()?;
        let _epoch = input.i32()?;
        let _min_count = input.i32()?;
        let _neg = input.i32()?;
        let word_ngrams = input.i32()?;
        let loss = input.i32()?;
        let model = input.i32()?;
        let bucket = input.i32()?;
        let minn = input.i32()?;
        let maxn = input.i32()?;
        let _lr_update_rate = input.i32()?;
        let _t = input.f64()?;
        let small = |what: &str, v: i32, max: i32| {
            if (0..=max).contains(&v) {
                Ok(v as usize)
            } else {
                Err(Error::Corrupt(format!("{what} is {v}")))
            }
        };
        Ok(Args {
            dim: match small("dim", dim, 1 << 16)? {
                0 => return Err(Error::Corrupt("dim is 0".into())),
                d => d,
            },
            word_ngrams: small("wordNgrams", word_ngrams, 64)?,
            loss,
            model,
            bucket: small("bucket", bucket, i32::MAX)? as u32,
            minn: small("minn", minn, 64)?,
            maxn: small("maxn", maxn, 64)?,
        })
    }
}
