//! Figures of guidance and flow matching (seed 002 §6, §4.3, §7): class-coloured samples
//! over a sweep of the guidance strength, and flow matching beside the score model. No maths
//! here: every number comes from [`crate::framework::guidance`] and
//! [`crate::framework::flow_matching`].

use ndarray::ArrayView2;
use plotly::common::{Marker, MarkerSymbol, Mode};
use plotly::layout::{Axis, AxisType, GridPattern, Layout, LayoutGrid};
use plotly::{Plot, Scatter};

use super::framework::axis_pair;
use super::layout;
use crate::framework::flow_matching::FlowComparisonRow;
use crate::framework::guidance::GuidanceRow;

/// Class colours (class `y` gets `CLASS_COLOURS[y % 6]`).
const CLASS_COLOURS: [&str; 6] = [
    "#4C78A8", "#E45756", "#54A24B", "#F58518", "#B279A2", "#72B7B2",
];

/// One panel per guidance strength (at most 6, four per row): each class's samples in its
/// colour, the class means as black crosses, the panel titled with `w`, precision and spread.
pub fn guidance_sweep(title: &str, rows: &[GuidanceRow], means: ArrayView2<f64>) -> Plot {
    let rows = &rows[..rows.len().min(6)];
    let columns = rows.len().clamp(1, 4);
    let grid_rows = rows.len().div_ceil(columns).max(1);
    let mut plot = Plot::new();
    let mut lay = Layout::new()
        .title(title)
        .height(360 * grid_rows)
        .show_legend(false)
        .grid(
            LayoutGrid::new()
                .rows(grid_rows)
                .columns(columns)
                .pattern(GridPattern::Independent),
        );
    for (i, row) in rows.iter().enumerate() {
        let (xa, ya) = (format!("x{}", i + 1), format!("y{}", i + 1));
        for (y, x) in row.samples.iter().enumerate() {
            plot.add_trace(
                Scatter::new(x.column(0).to_vec(), x.column(1).to_vec())
                    .mode(Mode::Markers)
                    .marker(
                        Marker::new()
                            .size(3)
                            .opacity(0.5)
                            .color(CLASS_COLOURS[y % CLASS_COLOURS.len()]),
                    )
                    .name(format!("class {y}"))
                    .x_axis(&xa)
                    .y_axis(&ya),
            );
        }
        plot.add_trace(
            Scatter::new(means.column(0).to_vec(), means.column(1).to_vec())
                .mode(Mode::Markers)
                .marker(Marker::new().symbol(MarkerSymbol::X).size(9).color("black"))
                .name("class means")
                .x_axis(&xa)
                .y_axis(&ya),
        );
        let label = format!(
            "w = {} · precision {:.3} · spread {:.3}",
            row.w, row.precision, row.spread
        );
        lay = axis_pair(
            lay,
            i,
            Axis::new().title(label).range(vec![-2.5, 2.5]),
            Axis::new().range(vec![-2.5, 3.0]),
        );
    }
    plot.set_layout(lay);
    plot
}

/// Energy distance against NFE for each model of a flow-matching/score comparison, log–log.
pub fn flow_vs_score_quality(title: &str, rows: &[FlowComparisonRow]) -> Plot {
    let mut plot = Plot::new();
    let mut models: Vec<&str> = Vec::new();
    for r in rows {
        if !models.contains(&r.model) {
            models.push(r.model);
        }
    }
    for model in models {
        let (nfe, ed): (Vec<f64>, Vec<f64>) = rows
            .iter()
            .filter(|r| r.model == model)
            .map(|r| (r.nfe as f64, r.quality.energy))
            .unzip();
        plot.add_trace(Scatter::new(nfe, ed).mode(Mode::LinesMarkers).name(model));
    }
    let x_label = "NFE (network evaluations per sample)";
    let y_label = "energy distance to fresh data";
    plot.set_layout(
        layout(title, x_label, y_label)
            .height(460)
            .x_axis(Axis::new().title(x_label).type_(AxisType::Log))
            .y_axis(Axis::new().title(y_label).type_(AxisType::Log)),
    );
    plot
}

/// The samples of every row with `steps` ODE steps side by side (flow matching beside the
/// score model), each panel titled with its model, NFE and energy distance.
pub fn flow_vs_score_samples(title: &str, rows: &[FlowComparisonRow], steps: usize) -> Plot {
    let chosen: Vec<&FlowComparisonRow> =
        rows.iter().filter(|r| r.steps == steps).take(4).collect();
    let mut plot = Plot::new();
    let mut lay = Layout::new()
        .title(title)
        .height(380)
        .show_legend(false)
        .grid(
            LayoutGrid::new()
                .rows(1)
                .columns(chosen.len().max(1))
                .pattern(GridPattern::Independent),
        );
    for (i, r) in chosen.iter().enumerate() {
        plot.add_trace(
            Scatter::new(r.samples.column(0).to_vec(), r.samples.column(1).to_vec())
                .mode(Mode::Markers)
                .marker(Marker::new().size(3).opacity(0.5))
                .name(r.model)
                .x_axis(format!("x{}", i + 1))
                .y_axis(format!("y{}", i + 1)),
        );
        let label = format!("{} · NFE {} · ED {:.3}", r.model, r.nfe, r.quality.energy);
        lay = axis_pair(
            lay,
            i,
            Axis::new().title(label).range(vec![-2.5, 2.5]),
            Axis::new().range(vec![-2.5, 3.0]),
        );
    }
    plot.set_layout(lay);
    plot
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Quality;
    use ndarray::{array, Array2};

    #[test]
    fn one_trace_per_class_and_panel_and_one_curve_per_model() {
        let means = array![[1.0, 1.0], [-1.0, -1.0]];
        let row = |w| GuidanceRow {
            w,
            precision: 1.0,
            spread: 0.1,
            samples: vec![Array2::zeros((4, 2)), Array2::ones((4, 2))],
        };
        let plot = guidance_sweep("t", &[row(0.0), row(3.0)], means.view());
        // Per panel: two classes and the means.
        assert_eq!(plot.data().len(), 2 * 3);
        let cmp = |model, steps| FlowComparisonRow {
            model,
            steps,
            nfe: 2 * steps,
            quality: Quality {
                energy: 0.1,
                sw2: 0.2,
            },
            samples: Array2::zeros((3, 2)),
        };
        let rows = [cmp("a", 1), cmp("b", 1), cmp("a", 2), cmp("b", 2)];
        assert_eq!(flow_vs_score_quality("t", &rows).data().len(), 2);
        assert_eq!(flow_vs_score_samples("t", &rows, 2).data().len(), 2);
    }
}
