//! Grids of small grey-scale images (the 8×8 digits of seed 002 §5–§6): each panel one
//! heatmap mosaic, panels side by side (no maths here).

use ndarray::Array2;
use plotly::common::{ColorScale, ColorScalePalette};
use plotly::layout::Axis;
use plotly::{HeatMap, Plot};

use super::charts::{axis_ids, panel_layout, with_axes};
use crate::error::invalid;
use crate::Result;

/// One panel: a label (e.g. `"DPM-Solver++ (NFE 10)"`) and images, one flattened square
/// image per row, laid out `columns` to a row.
#[derive(Debug, Clone)]
pub struct ImagePanel {
    /// Shown under the panel.
    pub label: String,
    /// `n × s²` images, row-major.
    pub images: Array2<f64>,
    /// Images per row of the mosaic.
    pub columns: usize,
}

impl ImagePanel {
    /// A panel of `images`, `columns` to a row.
    pub fn new(label: impl Into<String>, images: Array2<f64>, columns: usize) -> Self {
        Self {
            label: label.into(),
            images,
            columns,
        }
    }

    /// The mosaic, top row first, with a one-pixel gap (`NaN`, drawn blank) between images.
    pub(super) fn mosaic(&self) -> Result<Vec<Vec<f64>>> {
        let (n, d) = self.images.dim();
        let side = (d as f64).sqrt().round() as usize;
        if side * side != d || d == 0 {
            return invalid("images", format!("{n} × {d}"), "rows must be square images");
        }
        if n == 0 || self.columns == 0 {
            return invalid(
                "panel",
                format!("{n} images, {} columns", self.columns),
                "need ≥ 1 image and ≥ 1 column",
            );
        }
        let cols = self.columns.min(n);
        let rows = n.div_ceil(cols);
        let mut z = vec![vec![f64::NAN; cols * (side + 1) - 1]; rows * (side + 1) - 1];
        for (k, img) in self.images.rows().into_iter().enumerate() {
            let (r0, c0) = ((k / cols) * (side + 1), (k % cols) * (side + 1));
            for (p, &v) in img.iter().enumerate() {
                z[r0 + p / side][c0 + p % side] = v;
            }
        }
        // Heatmap rows run bottom-up: the first image row goes last.
        z.reverse();
        Ok(z)
    }
}

/// Side-by-side image mosaics on one grey scale `[lo, hi]` (e.g. `[−1, 1]` for images
/// scaled like the digits: real digits beside generated ones, one panel per sampler).
pub fn image_grids(title: &str, panels: &[ImagePanel], (lo, hi): (f64, f64)) -> Result<Plot> {
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return invalid("range", format!("[{lo}, {hi}]"), "need finite lo < hi");
    }
    let mosaics = panels.iter().map(ImagePanel::mosaic).collect::<Result<Vec<_>>>()?;
    // Tall enough that each mosaic fills its share of a ~1000 px wide page (images keep their
    // aspect): rows per column of the tallest mosaic, plus room for the title and labels.
    let aspect = mosaics.iter().map(|z| z.len() as f64 / z[0].len() as f64).fold(0.0, f64::max);
    let height = (130.0 + 1000.0 / panels.len().max(1) as f64 * aspect).clamp(260.0, 900.0) as usize;
    let mut plot = Plot::new();
    let mut layout = panel_layout(title, panels.len())?.height(height);
    for (k, (p, z)) in panels.iter().zip(mosaics).enumerate() {
        let (xa, ya) = axis_ids(k);
        plot.add_trace(
            HeatMap::new_z(z)
                .color_scale(ColorScale::Palette(ColorScalePalette::Greys))
                .zmin(lo)
                .zmax(hi)
                .show_scale(false)
                .name(p.label.as_str())
                .x_axis(&xa)
                .y_axis(&ya),
        );
        let bare = || {
            Axis::new()
                .show_tick_labels(false)
                .tick_length(0)
                .show_line(false)
                .show_grid(false)
                .zero_line(false)
        };
        let x = bare().title(p.label.as_str());
        let y = bare().scale_anchor(&xa);
        layout = with_axes(layout, k, x, y);
    }
    plot.set_layout(layout);
    Ok(plot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mosaic_places_images_with_gaps_and_rejects_non_square_rows() {
        let imgs = Array2::from_shape_fn((3, 4), |(i, _)| i as f64);
        let z = ImagePanel::new("t", imgs, 2).mosaic().unwrap();
        // 2 rows × 2 columns of 2×2 images with 1-pixel gaps: 5 × 5, top row last.
        assert_eq!((z.len(), z[0].len()), (5, 5));
        assert_eq!(z[4][0], 0.0);
        assert_eq!(z[4][3], 1.0);
        assert_eq!(z[1][0], 2.0);
        assert!(z[2][0].is_nan() && z[0][3].is_nan());
        let bad = ImagePanel::new("t", Array2::zeros((2, 5)), 2);
        assert!(image_grids("t", &[bad], (-1.0, 1.0)).is_err());
        let ok = ImagePanel::new("t", Array2::zeros((2, 4)), 2);
        assert!(image_grids("t", std::slice::from_ref(&ok), (1.0, -1.0)).is_err());
        assert!(image_grids("t", &[ok], (-1.0, 1.0)).is_ok());
    }
}
