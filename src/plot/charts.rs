//! Curves, overlaid histograms, grouped bars and heatmaps, alone or as side-by-side panels
//! (chapter 3's schedules, sampler comparisons and time embeddings; no maths here).

use plotly::common::{ColorScale, ColorScalePalette, DashType, Line, Mode};
use plotly::histogram::HistNorm;
use plotly::layout::{Axis, AxisType, BarMode, GridPattern, Layout, LayoutGrid};
use plotly::{Bar, HeatMap, Histogram, Plot, Scatter};

use super::layout;
use crate::error::invalid;
use crate::Result;

/// Plotly's layout has eight axis pairs: at most eight panels per figure.
pub const MAX_PANELS: usize = 8;

/// A named curve `y(x)`, solid or dashed.
#[derive(Debug, Clone)]
pub struct Curve {
    /// Legend entry.
    pub name: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates.
    pub y: Vec<f64>,
    /// Dashed instead of solid.
    pub dashed: bool,
}

impl Curve {
    /// A solid curve.
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            x,
            y,
            dashed: false,
        }
    }

    /// The same curve, dashed.
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
}

/// One panel of [`line_panels`]: curves against a common x label.
#[derive(Debug, Clone)]
pub struct Panel {
    /// The panel's y-axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// The curves.
    pub curves: Vec<Curve>,
}

impl Panel {
    /// A panel with linear axes.
    pub fn new(y_label: impl Into<String>, curves: Vec<Curve>) -> Self {
        Self {
            y_label: y_label.into(),
            log_x: false,
            log_y: false,
            curves,
        }
    }

    /// The same panel with a logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.log_y = true;
        self
    }

    /// The same panel with both axes logarithmic.
    pub fn log_log(mut self) -> Self {
        self.log_x = true;
        self.log_y = true;
        self
    }
}

/// Axis ids `("x", "y")`, `("x2", "y2")`, … of panel `k`.
pub(crate) fn axis_ids(k: usize) -> (String, String) {
    if k == 0 {
        ("x".into(), "y".into())
    } else {
        (format!("x{}", k + 1), format!("y{}", k + 1))
    }
}

/// `layout` with the axes of panel `k` set.
pub(crate) fn with_axes(layout: Layout, k: usize, x: Axis, y: Axis) -> Layout {
    match k {
        0 => layout.x_axis(x).y_axis(y),
        1 => layout.x_axis2(x).y_axis2(y),
        2 => layout.x_axis3(x).y_axis3(y),
        3 => layout.x_axis4(x).y_axis4(y),
        4 => layout.x_axis5(x).y_axis5(y),
        5 => layout.x_axis6(x).y_axis6(y),
        6 => layout.x_axis7(x).y_axis7(y),
        _ => layout.x_axis8(x).y_axis8(y),
    }
}

/// A one-row grid of `panels` independent panels.
pub(crate) fn panel_layout(title: &str, panels: usize) -> Result<Layout> {
    if panels == 0 || panels > MAX_PANELS {
        return invalid(
            "panels",
            panels,
            format!("a figure holds 1 to {MAX_PANELS} panels"),
        );
    }
    Ok(Layout::new().title(title).height(420).grid(
        LayoutGrid::new()
            .rows(1)
            .columns(panels)
            .pattern(GridPattern::Independent),
    ))
}

fn log_axis(axis: Axis, log: bool) -> Axis {
    if log {
        axis.type_(AxisType::Log)
    } else {
        axis
    }
}

/// Side-by-side panels of curves sharing the x label, e.g. `β(t)`, `ᾱ(t)`, `SNR(t)`.
/// A curve's name appears in the legend once, however many panels it is drawn in.
pub fn line_panels(title: &str, x_label: &str, panels: &[Panel]) -> Result<Plot> {
    let mut plot = Plot::new();
    let mut layout = panel_layout(title, panels.len())?;
    let mut named = std::collections::HashSet::new();
    let colours = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    ];
    let mut colour_of = std::collections::HashMap::new();
    for (k, panel) in panels.iter().enumerate() {
        let (xa, ya) = axis_ids(k);
        for c in &panel.curves {
            let n = colour_of.len();
            let colour = *colour_of
                .entry(c.name.clone())
                .or_insert(colours[n % colours.len()]);
            let mut line = Line::new().color(colour).width(2.0);
            if c.dashed {
                line = line.dash(DashType::Dash);
            }
            plot.add_trace(
                Scatter::new(c.x.clone(), c.y.clone())
                    .mode(Mode::Lines)
                    .name(&c.name)
                    .legend_group(&c.name)
                    .show_legend(named.insert(c.name.clone()))
                    .line(line)
                    .x_axis(&xa)
                    .y_axis(&ya),
            );
        }
        layout = with_axes(
            layout,
            k,
            log_axis(Axis::new().title(x_label), panel.log_x),
            log_axis(Axis::new().title(panel.y_label.as_str()), panel.log_y),
        );
    }
    plot.set_layout(layout);
    Ok(plot)
}

/// Thin paths `paths[i]` against `times` with bold `curves` on top (e.g. reverse-SDE paths,
/// their mean and the PF-ODE path).
pub fn paths_with_curves(title: &str, times: &[f64], paths: &[Vec<f64>], curves: &[Curve]) -> Plot {
    let mut plot = Plot::new();
    for p in paths {
        plot.add_trace(
            Scatter::new(times.to_vec(), p.clone())
                .mode(Mode::Lines)
                .line(Line::new().width(0.6).color("#999999"))
                .opacity(0.5)
                .show_legend(false),
        );
    }
    for c in curves {
        let mut line = Line::new().width(3.0);
        if c.dashed {
            line = line.dash(DashType::Dash);
        }
        plot.add_trace(
            Scatter::new(c.x.clone(), c.y.clone())
                .mode(Mode::Lines)
                .name(&c.name)
                .line(line),
        );
    }
    plot.set_layout(layout(title, "t", "x"));
    plot
}

/// Overlaid normalised histograms of several 1-D samples with a density curve `(xs, density)`.
pub fn histograms(title: &str, samples: &[(&str, Vec<f64>)], xs: &[f64], density: &[f64]) -> Plot {
    let mut plot = Plot::new();
    for (name, s) in samples {
        plot.add_trace(
            Histogram::new(s.clone())
                .hist_norm(HistNorm::ProbabilityDensity)
                .n_bins_x(80)
                .opacity(0.5)
                .name(*name),
        );
    }
    plot.add_trace(
        Scatter::new(xs.to_vec(), density.to_vec())
            .mode(Mode::Lines)
            .line(Line::new().color("black").width(2.0))
            .name("true density"),
    );
    plot.set_layout(layout(title, "x", "density").bar_mode(BarMode::Overlay));
    plot
}

/// Grouped bars: one group per category, one bar per series (e.g. mode weights).
pub fn bars(title: &str, y_label: &str, categories: &[&str], series: &[(&str, Vec<f64>)]) -> Plot {
    let mut plot = Plot::new();
    let cats: Vec<String> = categories.iter().map(|c| c.to_string()).collect();
    for (name, values) in series {
        plot.add_trace(Bar::new(cats.clone(), values.clone()).name(*name));
    }
    plot.set_layout(layout(title, "", y_label).bar_mode(BarMode::Group));
    plot
}

/// One heatmap panel: `z[j][i]` at `(x[i], y[j])`.
#[derive(Debug, Clone)]
pub struct Heat {
    /// The panel's x label.
    pub x_label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates.
    pub y: Vec<f64>,
    /// Values, one row per ordinate.
    pub z: Vec<Vec<f64>>,
}

/// Side-by-side heatmaps sharing the y label (e.g. time embeddings: component × t).
pub fn heatmaps(title: &str, y_label: &str, panels: &[Heat]) -> Result<Plot> {
    let mut plot = Plot::new();
    let mut layout = panel_layout(title, panels.len())?;
    for (k, h) in panels.iter().enumerate() {
        let (xa, ya) = axis_ids(k);
        plot.add_trace(
            HeatMap::new(h.x.clone(), h.y.clone(), h.z.clone())
                .color_scale(ColorScale::Palette(ColorScalePalette::RdBu))
                .show_scale(k + 1 == panels.len())
                .x_axis(&xa)
                .y_axis(&ya),
        );
        layout = with_axes(
            layout,
            k,
            Axis::new().title(h.x_label.as_str()),
            Axis::new().title(y_label),
        );
    }
    plot.set_layout(layout);
    Ok(plot)
}
