//! Figures of chapter 2 (numerical solvers): convergence ladders on log–log axes, stability
//! regions, adaptive step sizes, and plain curves; a small HTML table for numbers.

use ndarray::Array2;
use plotly::common::{DashType, Line, Marker, Mode};
use plotly::contour::{Coloring, Contours, ContoursType, Operation};
use plotly::layout::{Axis, AxisType};
use plotly::{Contour, Plot, Scatter};

use super::layout;
use crate::solvers::convergence::Ladder;

/// plotly's default colour cycle, so that a ladder's points and its fitted line match.
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn log_axes(mut l: plotly::Layout, log_x: bool, log_y: bool, x: &str, y: &str) -> plotly::Layout {
    let axis = |title: &str, log: bool| {
        let a = Axis::new().title(title);
        if log {
            a.type_(AxisType::Log)
        } else {
            a
        }
    };
    l = l.x_axis(axis(x, log_x)).y_axis(axis(y, log_y));
    l
}

/// Errors against step size on log–log axes: the measured points of every ladder and its
/// fitted line `C hᵖ` (dashed), labelled with the order and its 95 % band.
pub fn convergence(title: &str, y_label: &str, ladders: &[&Ladder]) -> Plot {
    let mut plot = Plot::new();
    for (i, l) in ladders.iter().enumerate() {
        let c = color(i);
        plot.add_trace(
            Scatter::new(l.h.clone(), l.error.clone())
                .mode(Mode::Markers)
                .marker(Marker::new().color(c).size(8))
                .name(format!(
                    "{}: order {:.2} [{:.2}, {:.2}]",
                    l.name, l.fit.order, l.fit.low, l.fit.high
                )),
        );
        let fitted: Vec<f64> =
            l.h.iter()
                .map(|h| (l.fit.log_const + l.fit.order * h.ln()).exp())
                .collect();
        plot.add_trace(
            Scatter::new(l.h.clone(), fitted)
                .mode(Mode::Lines)
                .line(Line::new().color(c).dash(DashType::Dash))
                .show_legend(false),
        );
    }
    plot.set_layout(log_axes(
        layout(title, "", ""),
        true,
        true,
        "step size h",
        y_label,
    ));
    plot
}

/// Filled regions `{z : |R(z)| ≤ 1}` in the complex plane of `z = hλ`, one per method,
/// from `|R|` sampled on the grid `re × im` (rows follow `im`).
pub fn stability_regions(
    title: &str,
    re: &[f64],
    im: &[f64],
    regions: &[(&str, &Array2<f64>)],
) -> Plot {
    let mut plot = Plot::new();
    for (i, (name, modulus)) in regions.iter().enumerate() {
        let z: Vec<Vec<f64>> = modulus.rows().into_iter().map(|r| r.to_vec()).collect();
        plot.add_trace(
            Contour::new(re.to_vec(), im.to_vec(), z)
                .contours(
                    Contours::new()
                        .type_(ContoursType::Constraint)
                        .operation(Operation::LessThanOrEqual)
                        .value(1.0)
                        .coloring(Coloring::Fill),
                )
                .fill_color(color(i))
                .line(Line::new().color(color(i)).width(2.0))
                .opacity(0.35)
                .name(name)
                .show_legend(true),
        );
    }
    plot.set_layout(layout(title, "Re(hλ)", "Im(hλ)"));
    plot
}

/// Accepted step sizes `|h|` against the time where each step starts (log `h`).
pub fn step_sizes(title: &str, times: &[f64], steps: &[f64]) -> Plot {
    let mut plot = Plot::new();
    plot.add_trace(
        Scatter::new(times.to_vec(), steps.to_vec())
            .mode(Mode::LinesMarkers)
            .name("accepted steps"),
    );
    plot.set_layout(log_axes(
        layout(title, "", ""),
        false,
        true,
        "t",
        "step size |h|",
    ));
    plot
}

/// Named curves `(name, x, y)` on shared axes, each axis optionally logarithmic.
pub fn curves<S: AsRef<str>>(
    title: &str,
    (x_label, log_x): (&str, bool),
    (y_label, log_y): (&str, bool),
    series: &[(S, Vec<f64>, Vec<f64>)],
) -> Plot {
    let mut plot = Plot::new();
    for (i, (name, x, y)) in series.iter().enumerate() {
        plot.add_trace(
            Scatter::new(x.clone(), y.clone())
                .mode(Mode::Lines)
                .line(Line::new().color(color(i)))
                .name(name.as_ref()),
        );
    }
    plot.set_layout(log_axes(
        layout(title, "", ""),
        log_x,
        log_y,
        x_label,
        y_label,
    ));
    plot
}
