//! Figures of chapter 4c (seed 000 §4.5–§4.7): samples of the rival models side by side with
//! the modes marked, the quality of every training seed against the noise floor, and 1-D
//! histograms against an exact density. No maths here: the numbers come from
//! [`crate::rivals`].

use ndarray::ArrayView2;
use plotly::common::{Marker, MarkerSymbol, Mode};
use plotly::layout::{Axis, AxisType, GridPattern, Layout, LayoutGrid};
use plotly::{Plot, Scatter};

use super::framework::axis_pair;
use super::layout;
use crate::rivals::compare::{Comparison, Method};

/// One panel of [`sample_grid`].
pub struct SamplePanel {
    /// Panel title (its axis label).
    pub label: String,
    /// `n × 2` points.
    pub points: ndarray::Array2<f64>,
}

impl SamplePanel {
    /// A panel of `points` titled `label`.
    pub fn new(label: impl Into<String>, points: ndarray::Array2<f64>) -> Self {
        Self {
            label: label.into(),
            points,
        }
    }
}

/// Up to six 2-D point sets, three per row, the mixture's means as black crosses on each,
/// all panels on the square `[−range, range]²`.
pub fn sample_grid(title: &str, panels: &[SamplePanel], means: ArrayView2<f64>, range: f64) -> Plot {
    let panels = &panels[..panels.len().min(6)];
    let columns = panels.len().clamp(1, 3);
    let rows = panels.len().div_ceil(columns).max(1);
    let mut plot = Plot::new();
    let mut lay = Layout::new()
        .title(title)
        .height(330 * rows)
        .show_legend(false)
        .grid(
            LayoutGrid::new()
                .rows(rows)
                .columns(columns)
                .pattern(GridPattern::Independent),
        );
    for (i, p) in panels.iter().enumerate() {
        let (xa, ya) = (format!("x{}", i + 1), format!("y{}", i + 1));
        plot.add_trace(
            Scatter::new(p.points.column(0).to_vec(), p.points.column(1).to_vec())
                .mode(Mode::Markers)
                .marker(Marker::new().size(2).opacity(0.5).color("#4C78A8"))
                .name(p.label.clone())
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            Scatter::new(means.column(0).to_vec(), means.column(1).to_vec())
                .mode(Mode::Markers)
                .marker(
                    Marker::new()
                        .symbol(MarkerSymbol::X)
                        .size(7)
                        .color("black"),
                )
                .name("modes")
                .x_axis(&xa)
                .y_axis(&ya),
        );
        lay = axis_pair(
            lay,
            i,
            Axis::new().title(p.label.as_str()).range(vec![-range, range]),
            Axis::new().range(vec![-range, range]),
        );
    }
    plot.set_layout(lay);
    plot
}

/// Every training seed's energy distance per method (one marker per seed) on a log axis, with
/// the noise floor's band as two dashed lines: the spread across seeds is the "training
/// stability" of seed 000 §4.5.1.
pub fn seed_spread(title: &str, comparison: &Comparison) -> Plot {
    let mut plot = Plot::new();
    let labels: Vec<String> = Method::ALL.iter().map(|m| m.label().to_string()).collect();
    for &method in &Method::ALL {
        let values = comparison.energies(method);
        plot.add_trace(
            Scatter::new(vec![method.label().to_string(); values.len()], values)
                .mode(Mode::Markers)
                .marker(Marker::new().size(9).opacity(0.7))
                .name(method.label()),
        );
    }
    let (lo, hi) = comparison.floor.energy_band();
    for (name, v) in [("noise floor (low)", lo), ("noise floor (high)", hi)] {
        plot.add_trace(
            Scatter::new(labels.clone(), vec![v; labels.len()])
                .mode(Mode::Lines)
                .line(plotly::common::Line::new().dash(plotly::common::DashType::Dash).color("gray"))
                .name(name),
        );
    }
    let y_label = "energy distance to fresh data";
    plot.set_layout(
        layout(title, "", y_label)
            .height(420)
            .y_axis(Axis::new().title(y_label).type_(AxisType::Log)),
    );
    plot
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn one_sample_trace_and_one_mode_trace_per_panel() {
        let means = array![[1.0, 1.0], [-1.0, -1.0]];
        let panels: Vec<SamplePanel> = (0..4)
            .map(|i| SamplePanel::new(format!("p{i}"), Array2::zeros((5, 2))))
            .collect();
        assert_eq!(sample_grid("t", &panels, means.view(), 3.0).data().len(), 8);
    }
}
