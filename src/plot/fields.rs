//! Vector fields over 2-D densities (quiver plots; plotly has no quiver trace, so each arrow
//! is a line segment with a two-stroke head, all arrows of a panel one `Scatter` trace with
//! gaps between them). No maths beyond drawing.

use plotly::common::{ColorScale, ColorScalePalette, Line, Mode};
use plotly::layout::Axis;
use plotly::{Contour, Plot, Scatter};

use super::charts::{axis_ids, panel_layout, with_axes};
use crate::smld::FieldGrid;
use crate::Result;

/// Polyline coordinates of arrows from `tails` along `vectors`, `None` between arrows.
fn arrows(tails: &[(f64, f64)], vectors: &[(f64, f64)]) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let mut xs = Vec::with_capacity(tails.len() * 7);
    let mut ys = Vec::with_capacity(tails.len() * 7);
    for (&(x, y), &(u, v)) in tails.iter().zip(vectors) {
        let (hx, hy) = (x + u, y + v);
        // Head strokes: 30 % of the shaft, ±25° from its reverse direction.
        let (c, s) = (25f64.to_radians().cos(), 25f64.to_radians().sin());
        let (bu, bv) = (-0.3 * u, -0.3 * v);
        for (px, py) in [
            (x, y),
            (hx, hy),
            (hx + c * bu - s * bv, hy + s * bu + c * bv),
        ] {
            xs.push(Some(px));
            ys.push(Some(py));
        }
        xs.push(Some(hx));
        ys.push(Some(hy));
        xs.push(Some(hx + c * bu + s * bv));
        ys.push(Some(hy - s * bu + c * bv));
        xs.push(None);
        ys.push(None);
    }
    (xs, ys)
}

/// Side-by-side panels, each the density of a [`FieldGrid`] as filled contours with its score
/// as arrows. Scores span orders of magnitude (they grow like distance/σ² in the tails), so each
/// panel scales its arrows so the median one spans half a grid cell and caps them at 0.9 cell:
/// directions are exact everywhere, lengths are proportional to `|s|` below the cap (the axis
/// label gives the factor) and not comparable between panels.
pub fn score_fields(title: &str, panels: &[(&str, &FieldGrid)]) -> Result<Plot> {
    let mut plot = Plot::new();
    let k = panels.len().max(1);
    let mut layout = panel_layout(title, panels.len())?
        .height(400)
        .width(300 * k + 120);
    for (k, (label, field)) in panels.iter().enumerate() {
        let (xa, ya) = axis_ids(k);
        plot.add_trace(
            Contour::new(field.xs.clone(), field.ys.clone(), field.density.clone())
                .color_scale(ColorScale::Palette(ColorScalePalette::Blues))
                .reverse_scale(true)
                .show_scale(false)
                .n_contours(12)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        let tails: Vec<(f64, f64)> = field
            .points
            .rows()
            .into_iter()
            .map(|r| (r[0], r[1]))
            .collect();
        let mut lengths: Vec<f64> = field
            .scores
            .rows()
            .into_iter()
            .map(|r| r[0].hypot(r[1]))
            .filter(|m| *m > 0.0)
            .collect();
        lengths.sort_by(f64::total_cmp);
        let median = lengths.get(lengths.len() / 2).copied().unwrap_or(0.0);
        let cells = (tails.len() as f64).sqrt().max(2.0) - 1.0;
        let spacing = (field.xs[field.xs.len() - 1] - field.xs[0]) / cells;
        let scale = if median > 0.0 {
            0.5 * spacing / median
        } else {
            0.0
        };
        let vectors: Vec<(f64, f64)> = field
            .scores
            .rows()
            .into_iter()
            .map(|r| {
                let m = r[0].hypot(r[1]);
                let f = if m > 0.0 {
                    scale.min(0.9 * spacing / m)
                } else {
                    0.0
                };
                (f * r[0], f * r[1])
            })
            .collect();
        let (xs, ys) = arrows(&tails, &vectors);
        plot.add_trace(
            Scatter::new(xs, ys)
                .mode(Mode::Lines)
                .line(Line::new().color("#b2182b").width(1.2))
                .show_legend(false)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        layout = with_axes(
            layout,
            k,
            Axis::new().title(format!("{label}   (arrows ×{scale:.3}, capped)")),
            Axis::new(),
        );
    }
    plot.set_layout(layout);
    Ok(plot)
}
