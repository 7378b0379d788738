//! Human-readable byte sizes for configuration (`8MiB`, `512kB`, `1048576`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A number of bytes, written in YAML as an integer or a string with a unit
/// (`B`, `kB`/`KB`, `KiB`, `MB`, `MiB`, `GB`, `GiB`, `TB`, `TiB`).
///
/// ```
/// use millstone_core::ByteSize;
/// assert_eq!("8MiB".parse::<ByteSize>().unwrap().0, 8 * 1024 * 1024);
/// assert_eq!("1.5 kB".parse::<ByteSize>().unwrap().0, 1500);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(s.len());
        let (number, unit) = s.split_at(split);
        let number: f64 = number
            .replace('_', "")
            .parse()
            .map_err(|_| format!("`{s}` is not a size (expected e.g. 512, 64KiB, 8MiB, 1GB)"))?;
        let multiplier: u64 = match unit.trim() {
            "" | "B" | "b" => 1,
            "k" | "kB" | "KB" | "kb" => 1_000,
            "KiB" | "kiB" | "Ki" => 1 << 10,
            "M" | "MB" | "mb" => 1_000_000,
            "MiB" | "Mi" => 1 << 20,
            "G" | "GB" | "gb" => 1_000_000_000,
            "GiB" | "Gi" => 1 << 30,
            "T" | "TB" => 1_000_000_000_000,
            "TiB" | "Ti" => 1 << 40,
            other => {
                return Err(format!(
                    "unknown size unit `{other}` (expected B, kB, KiB, MB, MiB, GB, GiB, TB, TiB)"
                ))
            }
        };
        if !number.is_finite() || number < 0.0 {
            return Err(format!("`{s}` is not a non-negative size"));
        }
        Ok(ByteSize((number * multiplier as f64).round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(&str, u64); 4] =
            [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        for (unit, size) in UNITS {
            if self.0 >= size && self.0 % size == 0 {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}B", self.0)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Text(String),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a size: an integer or a string such as `8MiB`"))?
        {
            Raw::Int(n) => Ok(ByteSize(n)),
            Raw::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

impl schemars::JsonSchema for ByteSize {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ByteSize".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size in bytes: an integer or a string with a unit, e.g. `8MiB`.",
            "anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": "^[0-9._]+ ?[A-Za-z]*$"}]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!("512".parse::<ByteSize>().unwrap().0, 512);
        assert_eq!("64KiB".parse::<ByteSize>().unwrap().0, 65536);
        assert_eq!("2GB".parse::<ByteSize>().unwrap().0, 2_000_000_000);
        assert!("12 parsecs".parse::<ByteSize>().is_err());
        assert!("MiB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for n in [0u64, 1, 1024, 8 << 20, 3 << 30, 1000] {
            let s = ByteSize(n).to_string();
            assert_eq!(s.parse::<ByteSize>().unwrap().0, n, "{s}");
        }
    }
}
