//! Figures of chapter 1 (`notebooks/01_sde_basics.ipynb`): particle clouds with covariance
//! ellipses, 2-D trajectories, a Fokker–Planck density map beside a histogram, and log–log
//! convergence. Figure builders only: every number drawn is computed by the caller.

pub use super::table;
use ndarray::{Array1, Array2};
use plotly::color::NamedColor;
use plotly::common::{ColorBar, DashType, Line, Marker, Mode};
use plotly::layout::{Axis, AxisType, GridPattern, Layout, LayoutGrid};
use plotly::{HeatMap, Histogram, Plot, Scatter};

use super::layout;

/// One panel of [`clouds`]: a particle cloud (`n × 2`) and curves drawn over it (`m × 2`
/// each, e.g. covariance ellipses).
#[derive(Debug, Clone)]
pub struct CloudPanel {
    /// The panel's title, e.g. `"forward, t = 0.5"`.
    pub label: String,
    /// The particles, one per row.
    pub points: Array2<f64>,
    /// Closed curves to overlay, one `m × 2` array each.
    pub curves: Vec<Array2<f64>>,
}

/// Sets the axes of subplot `k` (1-based, at most 8, plotly.rs's limit).
fn with_axes(layout: Layout, k: usize, x: Axis, y: Axis) -> Layout {
    match k {
        1 => layout.x_axis(x).y_axis(y),
        2 => layout.x_axis2(x).y_axis2(y),
        3 => layout.x_axis3(x).y_axis3(y),
        4 => layout.x_axis4(x).y_axis4(y),
        5 => layout.x_axis5(x).y_axis5(y),
        6 => layout.x_axis6(x).y_axis6(y),
        7 => layout.x_axis7(x).y_axis7(y),
        _ => layout.x_axis8(x).y_axis8(y),
    }
}

/// The trace axis names of subplot `k`: `("x", "y")`, `("x2", "y2")`, …
fn axis_names(k: usize) -> (String, String) {
    if k == 1 {
        ("x".into(), "y".into())
    } else {
        (format!("x{k}"), format!("y{k}"))
    }
}

fn grid(rows: usize, columns: usize) -> LayoutGrid {
    LayoutGrid::new()
        .rows(rows)
        .columns(columns)
        .pattern(GridPattern::Independent)
}

/// Particle clouds in a grid of `columns` panels (at most 8 panels), all on the square
/// `[−extent, extent]²`, with the panels' curves drawn in red.
pub fn clouds(title: &str, panels: &[CloudPanel], columns: usize, extent: f64) -> Plot {
    let panels = &panels[..panels.len().min(8)];
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns).max(1);
    let mut plot = Plot::new();
    let mut lay = Layout::new()
        .title(title)
        .height(300 * rows + 60)
        .show_legend(false)
        .grid(grid(rows, columns));
    for (i, panel) in panels.iter().enumerate() {
        let k = i + 1;
        let (xa, ya) = axis_names(k);
        let col = |a: &Array2<f64>, j: usize| a.column(j).to_vec();
        plot.add_trace(
            Scatter::new(col(&panel.points, 0), col(&panel.points, 1))
                .mode(Mode::Markers)
                .marker(Marker::new().size(3).opacity(0.4))
                .name(&panel.label)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        for c in &panel.curves {
            plot.add_trace(
                Scatter::new(col(c, 0), col(c, 1))
                    .mode(Mode::Lines)
                    .line(Line::new().color(NamedColor::Red).width(1.5))
                    .x_axis(&xa)
                    .y_axis(&ya),
            );
        }
        let range = vec![-extent, extent];
        lay = with_axes(
            lay,
            k,
            Axis::new().title(panel.label.as_str()).range(range.clone()),
            Axis::new().range(range),
        );
    }
    plot.set_layout(lay);
    plot
}

/// Trajectories in the plane, one panel per `(label, states)`: `states[k]` is the `n × 2`
/// batch at the k-th recorded time, and the first `count` particles are drawn (start: circle,
/// end: cross).
pub fn plane_paths(title: &str, panels: &[(&str, &[Array2<f64>])], count: usize) -> Plot {
    let panels = &panels[..panels.len().min(8)];
    let mut plot = Plot::new();
    let mut lay = Layout::new()
        .title(title)
        .height(440)
        .show_legend(false)
        .grid(grid(1, panels.len().max(1)));
    for (p, (label, states)) in panels.iter().enumerate() {
        let k = p + 1;
        let (xa, ya) = axis_names(k);
        let n = states.first().map_or(0, |s| s.nrows());
        for i in 0..count.min(n) {
            let xs: Vec<f64> = states.iter().map(|s| s[[i, 0]]).collect();
            let ys: Vec<f64> = states.iter().map(|s| s[[i, 1]]).collect();
            let ends = |j: usize, symbol| {
                Scatter::new(vec![xs[j]], vec![ys[j]])
                    .mode(Mode::Markers)
                    .marker(
                        Marker::new()
                            .size(8)
                            .symbol(symbol)
                            .color(NamedColor::Black),
                    )
                    .x_axis(&xa)
                    .y_axis(&ya)
            };
            plot.add_trace(
                Scatter::new(xs.clone(), ys.clone())
                    .mode(Mode::Lines)
                    .line(Line::new().width(1.0))
                    .x_axis(&xa)
                    .y_axis(&ya),
            );
            plot.add_trace(ends(0, plotly::common::MarkerSymbol::CircleOpen));
            plot.add_trace(ends(xs.len() - 1, plotly::common::MarkerSymbol::X));
        }
        lay = with_axes(
            lay,
            k,
            Axis::new().title(format!("{label}: x₁")),
            Axis::new().title("x₂"),
        );
    }
    plot.set_layout(lay);
    plot
}

/// Left: the density `density[k][i]` at `(times[k], xs[i])` as a heat map over the `(t, x)`
/// plane. Right: a normalised histogram of `samples` with the curves `(name, values at xs)`.
pub fn density_map_and_histogram(
    title: &str,
    times: &[f64],
    xs: &[f64],
    density: &[Array1<f64>],
    samples: &[f64],
    curves: &[(&str, Vec<f64>)],
) -> Plot {
    let mut plot = Plot::new();
    // Plotly's z is row-major in y: z[i][k] is the value at (x = times[k], y = xs[i]).
    let z: Vec<Vec<f64>> = (0..xs.len())
        .map(|i| density.iter().map(|p| p[i]).collect())
        .collect();
    plot.add_trace(
        HeatMap::new(times.to_vec(), xs.to_vec(), z)
            .color_bar(ColorBar::new().x(0.44).title("p"))
            .name("Fokker–Planck p_t(x)"),
    );
    plot.add_trace(
        Histogram::new(samples.to_vec())
            .hist_norm(plotly::histogram::HistNorm::ProbabilityDensity)
            .n_bins_x(60)
            .opacity(0.5)
            .name("particles")
            .x_axis("x2")
            .y_axis("y2"),
    );
    let dashes = [DashType::Solid, DashType::Dash, DashType::Dot];
    for (j, (name, values)) in curves.iter().enumerate() {
        plot.add_trace(
            Scatter::new(xs.to_vec(), values.clone())
                .mode(Mode::Lines)
                .line(
                    Line::new()
                        .width(2.0)
                        .dash(dashes[j % dashes.len()].clone()),
                )
                .name(*name)
                .x_axis("x2")
                .y_axis("y2"),
        );
    }
    let lay = Layout::new()
        .title(title)
        .height(440)
        .grid(grid(1, 2).x_gap(0.25))
        .x_axis(Axis::new().title("t"))
        .y_axis(Axis::new().title("x"))
        .x_axis2(Axis::new().title("x"))
        .y_axis2(Axis::new().title("density"));
    plot.set_layout(lay);
    plot
}

/// Errors against a resolution on log–log axes, one line per `(name, x, y)`, and dashed
/// reference lines `C x^p` for the slopes `p` in `reference`, starting at half the first
/// series' first value (so they run beside the data, not on top of it).
pub fn loglog(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<f64>, Vec<f64>)],
    reference: &[f64],
) -> Plot {
    let mut plot = Plot::new();
    for (name, x, y) in series {
        plot.add_trace(
            Scatter::new(x.clone(), y.clone())
                .mode(Mode::LinesMarkers)
                .name(*name),
        );
    }
    if let Some((_, x, y)) = series.first() {
        if let (Some(&x0), Some(&y0), Some(&x1)) = (x.first(), y.first(), x.last()) {
            for &p in reference {
                plot.add_trace(
                    Scatter::new(vec![x0, x1], vec![0.5 * y0, 0.5 * y0 * (x1 / x0).powf(p)])
                        .mode(Mode::Lines)
                        .line(Line::new().dash(DashType::Dash).color(NamedColor::Gray))
                        .name(format!("slope {p}")),
                );
            }
        }
    }
    plot.set_layout(
        layout(title, x_label, y_label)
            .x_axis(Axis::new().title(x_label).type_(AxisType::Log))
            .y_axis(Axis::new().title(y_label).type_(AxisType::Log)),
    );
    plot
}

/// Lines `(name, x, y)` on one plot. Series that share a name share a colour and one legend
/// entry and are drawn thin (e.g. "forward paths"); a name used once is drawn bold (a
/// closed-form curve); unnamed series (`""`) are thin, translucent and not in the legend.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<f64>, Vec<f64>)],
) -> Plot {
    const PALETTE: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    let mut names: Vec<&str> = Vec::new();
    for (name, _, _) in series {
        if !name.is_empty() && !names.contains(&name.as_str()) {
            names.push(name);
        }
    }
    let count = |n: &str| series.iter().filter(|s| s.0 == n).count();
    let mut shown: Vec<&str> = Vec::new();
    let mut plot = Plot::new();
    for (name, x, y) in series {
        let trace = Scatter::new(x.clone(), y.clone()).mode(Mode::Lines);
        plot.add_trace(if name.is_empty() {
            trace
                .line(Line::new().width(0.8))
                .opacity(0.5)
                .show_legend(false)
        } else {
            let k = names.iter().position(|n| n == name).unwrap_or(0);
            let many = count(name) > 1;
            let first = !shown.contains(&name.as_str());
            shown.push(name);
            trace
                .line(
                    Line::new()
                        .color(PALETTE[k % PALETTE.len()])
                        .width(if many { 0.9 } else { 2.5 }),
                )
                .opacity(if many { 0.6 } else { 1.0 })
                .name(name)
                .legend_group(name)
                .show_legend(first)
        });
    }
    plot.set_layout(layout(title, x_label, y_label));
    plot
}
