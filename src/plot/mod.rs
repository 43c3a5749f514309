//! Plotly figures for the notebooks, displayed inline and offline (no maths here).
//!
//! Jupyter shows a value's `evcxr_display` output. [`show`] emits the figure as plotly's own
//! MIME type, `application/vnd.plotly.v1+json` (the figure's JSON, no plotly.js): JupyterLab
//! draws it with the renderer of the `plotly` Python package (installed by `./workbook.sh
//! setup`; it bundles plotly.js, so no internet is needed), and the book build turns it into a
//! page that loads one shared local plotly.js. A saved notebook holds only its figures' data.
//! [`load_plotly`] and [`inline_html`] make standalone HTML pages (the appendix report).

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

/// A figure as Jupyter displays it: plotly's JSON under its own MIME type (see the module doc).
#[derive(Debug, Clone)]
pub struct Figure {
    /// `{"data": [...], "layout": {...}, "config": {...}}`, as plotly.js's `newPlot` takes it.
    pub json: String,
}

impl Figure {
    /// Called by evcxr to display the value.
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT application/vnd.plotly.v1+json\n{}\nEVCXR_END_CONTENT",
            self.json
        );
    }
}

/// A figure to end a notebook cell with: drawn inline by JupyterLab and by the book's pages.
pub fn show(plot: &Plot) -> Figure {
    Figure {
        json: plot.to_json(),
    }
}

/// plotly.js, embedded (about 4.7 MB), once at the top of a standalone HTML page.
pub fn load_plotly() -> Html {
    let sources = Plot::offline_js_sources();
    // `offline_js_sources` is plotly.js followed by MathJax; keep the first script only.
    let end = sources
        .find("</script>")
        .map_or(sources.len(), |i| i + "</script>".len());
    Html(sources[..end].to_string())
}

/// A figure as inline HTML for a standalone page (needs [`load_plotly`] earlier in the page).
pub fn inline_html(plot: &Plot) -> Html {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shown_figure_is_plotly_json_without_plotly_js() {
        let fig = show(&paths("two paths", &[0.0, 1.0], &[vec![0.0, 1.0], vec![1.0, 0.0]]));
        let v: serde_json::Value = serde_json::from_str(&fig.json).unwrap();
        assert_eq!(v["data"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["data"][0]["type"], "scatter");
        assert_eq!(v["layout"]["title"]["text"], "two paths");
        assert!(!fig.json.contains("<script"));
    }
}
