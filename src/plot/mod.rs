//! Plotly figures for the notebooks, displayed inline and offline (no maths here).
//!
//! Jupyter shows a value's `evcxr_display` output. plotly.rs's own `evcxr_display` emits a
//! MIME type JupyterLab needs an extension for and exported HTML cannot show; [`show`] emits
//! plain `text/html` instead, and [`load_plotly`] (the first cell of every notebook) embeds
//! plotly.js once, so plots render with no internet, in JupyterLab and in the book.

pub mod animate;
mod charts;
mod fields;
mod images;
pub mod sde_basics;

pub use charts::{
    bars, heatmaps, histograms, line_panels, paths_with_curves, Curve, Heat, Panel, MAX_PANELS,
};
pub use fields::score_fields;
pub use images::{image_grids, ImagePanel};
pub mod appendix;
pub mod framework;
pub mod guidance;
pub mod rivals;

use std::sync::atomic::{AtomicU64, Ordering};

use plotly::common::{Line, Mode};
use plotly::layout::{Axis, GridPattern, Layout, LayoutGrid};
use plotly::{Histogram, Plot, Scatter};

mod numerics;
pub use numerics::{convergence, curves, stability_regions, step_sizes};
mod table;
pub use table::table;

/// HTML that Jupyter displays when it is the value of a cell.
#[derive(Debug, Clone)]
pub struct Html(pub String);

impl Html {
    /// Called by evcxr to display the value.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.0
        );
    }
}

/// plotly.js, embedded (about 4.7 MB), to be displayed once at the top of a notebook.
pub fn load_plotly() -> Html {
    let sources = Plot::offline_js_sources();
    // `offline_js_sources` is plotly.js followed by MathJax; keep the first script only.
    let end = sources
        .find("</script>")
        .map_or(sources.len(), |i| i + "</script>".len());
    Html(format!(
        "{}\n<div class=\"plotly-loaded\" style=\"font-size:smaller;color:#666\">plotly.js loaded (offline).</div>",
        &sources[..end]
    ))
}

/// A figure as inline HTML (needs [`load_plotly`] earlier in the notebook).
pub fn show(plot: &Plot) -> Html {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!("fig-{nanos:x}-{}", COUNTER.fetch_add(1, Ordering::Relaxed));
    Html(plot.to_inline_html(Some(&id)))
}

/// A layout with a title, axis labels and a fixed height (the default for every figure).
pub fn layout(title: &str, x_label: &str, y_label: &str) -> Layout {
    Layout::new()
        .title(title)
        .height(420)
        .x_axis(Axis::new().title(x_label))
        .y_axis(Axis::new().title(y_label))
}

/// Thin lines `paths[i]` against `times`, e.g. SDE trajectories.
pub fn paths(title: &str, times: &[f64], paths: &[Vec<f64>]) -> Plot {
    let mut plot = Plot::new();
    for p in paths {
        plot.add_trace(
            Scatter::new(times.to_vec(), p.clone())
                .mode(Mode::Lines)
                .line(Line::new().width(0.8))
                .opacity(0.6)
                .show_legend(false),
        );
    }
    plot.set_layout(layout(title, "t", "x"));
    plot
}

/// A normalised histogram of `samples` with a density curve `(xs, density)` over it.
pub fn histogram_with_density(title: &str, samples: &[f64], xs: &[f64], density: &[f64]) -> Plot {
    let mut plot = Plot::new();
    plot.add_trace(
        Histogram::new(samples.to_vec())
            .hist_norm(plotly::histogram::HistNorm::ProbabilityDensity)
            .n_bins_x(60)
            .opacity(0.6)
            .name("particles"),
    );
    plot.add_trace(
        Scatter::new(xs.to_vec(), density.to_vec())
            .mode(Mode::Lines)
            .name("closed form"),
    );
    plot.set_layout(layout(title, "x", "density"));
    plot
}

/// One panel of [`histograms_with_densities`]: a label, samples, and a density curve `(xs, p(xs))`.
pub struct DensityPanel {
    /// Panel title, e.g. `"t = 0.3"`.
    pub label: String,
    /// The particles.
    pub samples: Vec<f64>,
    /// Where the density is evaluated.
    pub xs: Vec<f64>,
    /// The closed-form density at `xs`.
    pub density: Vec<f64>,
}

/// Side-by-side normalised histograms, each with its closed-form density.
pub fn histograms_with_densities(title: &str, panels: &[DensityPanel]) -> Plot {
    let mut plot = Plot::new();
    for (i, p) in panels.iter().enumerate() {
        let (xa, ya) = (format!("x{}", i + 1), format!("y{}", i + 1));
        plot.add_trace(
            Histogram::new(p.samples.clone())
                .hist_norm(plotly::histogram::HistNorm::ProbabilityDensity)
                .n_bins_x(50)
                .opacity(0.6)
                .marker(plotly::common::Marker::new().color("#4C78A8"))
                .name(format!("particles, {}", p.label))
                .show_legend(false)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            Scatter::new(p.xs.clone(), p.density.clone())
                .mode(Mode::Lines)
                .line(Line::new().color("#E45756"))
                .name(format!("closed form, {}", p.label))
                .show_legend(false)
                .x_axis(&xa)
                .y_axis(&ya),
        );
    }
    let mut layout = Layout::new().title(title).height(360).grid(
        LayoutGrid::new()
            .rows(1)
            .columns(panels.len())
            .pattern(GridPattern::Independent),
    );
    for (i, p) in panels.iter().enumerate() {
        let axis = Axis::new().title(p.label.as_str());
        layout = match i {
            0 => layout.x_axis(axis),
            1 => layout.x_axis2(axis),
            2 => layout.x_axis3(axis),
            3 => layout.x_axis4(axis),
            4 => layout.x_axis5(axis),
            5 => layout.x_axis6(axis),
            _ => layout,
        };
    }
    plot.set_layout(layout);
    plot
}
