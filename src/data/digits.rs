//! The UCI optdigits 8×8 handwritten digits (Alpaydin & Kaynak 1998), as shipped by
//! scikit-learn in `data/digits.csv.gz`: 1797 rows of 64 pixel counts in `0..=16` followed by
//! the label `0..=9` (provenance and licence in `data/README.md`). The images of seed 002 §5's
//! U-Net ([`crate::models::UNet`]).
//!
//! [`load`] checks every row (length, integer values, pixel range, label range) and scales the
//! pixels to `[−1, 1]` (`x = v/8 − 1`), the range the forward SDE's prior is matched to.

use std::io::Read;
use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView2};

use crate::error::invalid;
use crate::{Error, Result};

/// Pixels per side.
pub const SIDE: usize = 8;
/// Pixels per image.
pub const PIXELS: usize = SIDE * SIDE;
/// Number of classes (the digits 0–9).
pub const CLASSES: usize = 10;
/// Largest pixel count in the file (a 4×4 block of a 32×32 bitmap).
pub const MAX_VALUE: u32 = 16;

/// Images and their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Digits {
    /// `n × 64`, row-major 8×8 images scaled to `[−1, 1]`.
    pub images: Array2<f64>,
    /// The digit shown by each image, `0..10`.
    pub labels: Vec<usize>,
}

impl Digits {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The rows showing digit `class`.
    pub fn of_class(&self, class: usize) -> Result<Array2<f64>> {
        check_label(class)?;
        let rows: Vec<usize> = (0..self.len())
            .filter(|&i| self.labels[i] == class)
            .collect();
        Ok(self.images.select(ndarray::Axis(0), &rows))
    }

    /// The mean image of every class, `10 × 64` (the nearest-class-mean classifier's centres).
    pub fn class_means(&self) -> Result<Array2<f64>> {
        let mut means = Array2::zeros((CLASSES, PIXELS));
        for c in 0..CLASSES {
            let rows = self.of_class(c)?;
            if rows.nrows() == 0 {
                return invalid("class", c, "has no images: no mean");
            }
            means
                .row_mut(c)
                .assign(&rows.mean_axis(ndarray::Axis(0)).expect("rows > 0"));
        }
        Ok(means)
    }
}

/// The nearest-class-mean classifier: for each row of `images`, the index of the closest
/// row of `means` in Euclidean distance (a classifier that needs no training; on the real
/// digits with their own class means it is right about 90 % of the time).
pub fn nearest_mean(means: &Array2<f64>, images: ArrayView2<f64>) -> Result<Vec<usize>> {
    if means.ncols() != images.ncols() || means.nrows() == 0 {
        return Err(Error::Shape(format!(
            "{} class means of length {} for images of length {}",
            means.nrows(),
            means.ncols(),
            images.ncols()
        )));
    }
    Ok(images
        .rows()
        .into_iter()
        .map(|x| {
            let dist = |m: ndarray::ArrayView1<f64>| (&m - &x).mapv(|v| v * v).sum();
            (0..means.nrows())
                .min_by(|&a, &b| dist(means.row(a)).total_cmp(&dist(means.row(b))))
                .expect("means.nrows() > 0")
        })
        .collect())
}

/// `label` if it is a digit `0..10`, else an error naming it.
pub fn check_label(label: usize) -> Result<usize> {
    if label < CLASSES {
        Ok(label)
    } else {
        invalid("label", label, format!("must be a digit 0..{CLASSES}"))
    }
}

/// The shipped file, `data/digits.csv.gz` in the crate's folder.
pub fn default_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv.gz")
}

/// Loads the shipped file ([`default_path`]).
pub fn load_default() -> Result<Digits> {
    load(default_path())
}

/// Loads a gzipped CSV of rows `v_1, …, v_64, label` (`v_i ∈ 0..=16`, `label ∈ 0..10`).
/// Errors name the file and the line: a missing file, a row of the wrong length, a value that
/// is not an integer, out of `0..=16`, or a label out of `0..10`.
pub fn load(path: impl AsRef<Path>) -> Result<Digits> {
    let path = path.as_ref();
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::InvalidArgument {
        name: "digits file",
        value: shown.clone(),
        reason: format!("cannot be opened: {e}"),
    })?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(file)
        .read_to_string(&mut text)
        .map_err(|e| Error::InvalidArgument {
            name: "digits file",
            value: shown.clone(),
            reason: format!("is not gzipped UTF-8 text: {e}"),
        })?;
    parse(&text, &shown)
}

/// Parses the CSV text (see [`load`]); `source` names it in errors.
pub fn parse(text: &str, source: &str) -> Result<Digits> {
    let mut pixels = Vec::new();
    let mut labels = Vec::new();
    for (k, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let at = || format!("{source}, line {}", k + 1);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != PIXELS + 1 {
            return Err(Error::Shape(format!(
                "{}: {} fields, expected {PIXELS} pixels and a label",
                at(),
                fields.len()
            )));
        }
        let mut values = Vec::with_capacity(PIXELS + 1);
        for f in &fields {
            let v: u32 = f.parse().map_err(|_| Error::InvalidArgument {
                name: "digits value",
                value: format!("{f:?} ({})", at()),
                reason: "must be a non-negative integer".into(),
            })?;
            values.push(v);
        }
        let label = values[PIXELS] as usize;
        if label >= CLASSES {
            return invalid(
                "label",
                format!("{label} ({})", at()),
                format!("must be a digit 0..{CLASSES}"),
            );
        }
        if let Some(v) = values[..PIXELS].iter().find(|&&v| v > MAX_VALUE) {
            return invalid(
                "pixel",
                format!("{v} ({})", at()),
                format!("must lie in 0..={MAX_VALUE}"),
            );
        }
        pixels.extend(
            values[..PIXELS]
                .iter()
                .map(|&v| f64::from(v) / (f64::from(MAX_VALUE) / 2.0) - 1.0),
        );
        labels.push(label);
    }
    if labels.is_empty() {
        return invalid("digits file", source, "has no rows");
    }
    let images = Array2::from_shape_vec((labels.len(), PIXELS), pixels)
        .map_err(|e| Error::Shape(e.to_string()))?;
    Ok(Digits { images, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(v: u32, label: u32) -> String {
        let mut f = vec![v.to_string(); PIXELS];
        f.push(label.to_string());
        f.join(",")
    }

    #[test]
    fn rows_are_scaled_to_minus_one_one() {
        let d = parse(&format!("{}\n{}\n", row(0, 3), row(16, 9)), "t").unwrap();
        assert_eq!(d.labels, vec![3, 9]);
        assert!(d.images.row(0).iter().all(|&v| v == -1.0));
        assert!(d.images.row(1).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn bad_rows_are_errors_naming_the_line() {
        let e = parse(&format!("{}\n{}", row(0, 1), row(17, 1)), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("17") && e.contains("line 2"), "{e}");
        let e = parse(&row(0, 10), "t").unwrap_err().to_string();
        assert!(e.contains("label") && e.contains("10"), "{e}");
        let e = parse("1,2,3", "t").unwrap_err().to_string();
        assert!(e.contains("3 fields"), "{e}");
        let e = parse(&row(0, 1).replace("0,", "-1,"), "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"-1\""), "{e}");
        assert!(parse("", "t").is_err());
        let e = load("/no/such/digits.csv.gz").unwrap_err().to_string();
        assert!(e.contains("/no/such/digits.csv.gz"), "{e}");
    }
}
