//! Figure builders of the appendix (`notebooks/05_appendix.ipynb`, the `appendix` command):
//! schedules, scatter panels, loss curves and metric bars beside the noise floor. No maths
//! here: every number comes from [`crate::appendix`].

use ndarray::Array2;
use plotly::common::{Marker, Mode};
use plotly::layout::{Axis, GridPattern, Layout, LayoutGrid, Shape, ShapeLine, ShapeType};
use plotly::{Bar, Plot, Scatter};

use super::{layout, wrap_label};

/// Curves `(name, ys)` over the common abscissa `xs` (A.2's schedules, A.5's losses).
pub fn curves(
    title: &str,
    x_label: &str,
    y_label: &str,
    xs: &[f64],
    series: &[(String, Vec<f64>)],
) -> Plot {
    let mut plot = Plot::new();
    for (name, ys) in series {
        plot.add_trace(
            Scatter::new(xs[..ys.len()].to_vec(), ys.clone())
                .mode(Mode::Lines)
                .name(name),
        );
    }
    plot.set_layout(layout(title, x_label, y_label));
    plot
}

fn axis_pair(layout: Layout, i: usize, x: Axis, y: Axis) -> Layout {
    match i {
        0 => layout.x_axis(x).y_axis(y),
        1 => layout.x_axis2(x).y_axis2(y),
        2 => layout.x_axis3(x).y_axis3(y),
        3 => layout.x_axis4(x).y_axis4(y),
        4 => layout.x_axis5(x).y_axis5(y),
        5 => layout.x_axis6(x).y_axis6(y),
        6 => layout.x_axis7(x).y_axis7(y),
        7 => layout.x_axis8(x).y_axis8(y),
        _ => layout,
    }
}

/// 2-D point clouds side by side, `(label, points n × 2)`, all on `[−range, range]²`-ish
/// axes (`None`: autoscale); at most 8 panels, `columns` per row.
pub fn scatter_panels(
    title: &str,
    panels: &[(String, Array2<f64>)],
    columns: usize,
    range: Option<f64>,
) -> Plot {
    let panels = &panels[..panels.len().min(8)];
    let columns = columns.clamp(1, panels.len().max(1));
    let rows = panels.len().div_ceil(columns);
    let mut plot = Plot::new();
    let mut layout = Layout::new()
        .title(title)
        .height(340 * rows)
        .show_legend(false)
        .grid(
            LayoutGrid::new()
                .rows(rows)
                .columns(columns)
                .pattern(GridPattern::Independent),
        );
    for (i, (label, x)) in panels.iter().enumerate() {
        plot.add_trace(
            Scatter::new(x.column(0).to_vec(), x.column(1).to_vec())
                .mode(Mode::Markers)
                .marker(Marker::new().size(3).opacity(0.5))
                .name(label)
                .x_axis(format!("x{}", i + 1))
                .y_axis(format!("y{}", i + 1)),
        );
        let mut ax = Axis::new().title(wrap_label(label, 34));
        let mut ay = Axis::new();
        if let Some(r) = range {
            ax = ax.range(vec![-r, r]);
            ay = ay.range(vec![-r, r]);
        }
        layout = axis_pair(layout, i, ax, ay);
    }
    plot.set_layout(layout);
    plot
}

/// One bar per method (`labels`, `values`) with the noise floor's band `[lo, hi]` shaded and
/// a log axis (the as-written figures are orders of magnitude above the corrected ones).
pub fn metric_with_floor(
    title: &str,
    metric: &str,
    labels: &[String],
    values: &[f64],
    floor: (f64, f64),
) -> Plot {
    let mut plot = Plot::new();
    let labels: Vec<String> = labels.iter().map(|l| wrap_label(l, 18)).collect();
    plot.add_trace(Bar::new(labels, values.to_vec()).name(metric));
    let band = Shape::new()
        .shape_type(ShapeType::Rect)
        .x_ref("paper")
        .y_ref("y")
        .x0(0.0)
        .x1(1.0)
        .y0(floor.0)
        .y1(floor.1)
        .fill_color("rgba(228,87,86,0.25)")
        .line(ShapeLine::new().width(0.0));
    let edge = Shape::new()
        .shape_type(ShapeType::Line)
        .x_ref("paper")
        .y_ref("y")
        .x0(0.0)
        .x1(1.0)
        .y0(floor.1)
        .y1(floor.1)
        .line(
            ShapeLine::new()
                .color("#E45756")
                .width(1.5)
                .dash(plotly::common::DashType::Dash),
        );
    let layout = layout(
        title,
        "",
        &format!("{metric} (log scale; red band: noise floor)"),
    )
    .x_axis(Axis::new().tick_angle(0.0))
    .y_axis(
        Axis::new()
            .type_(plotly::layout::AxisType::Log)
            .dtick(1.0) // a label at every power of ten only
            .title(format!("{metric} (log; red: noise floor)")),
    )
    .shapes(vec![band, edge])
    .margin(plotly::layout::Margin::new().bottom(110))
    .height(500);
    plot.set_layout(layout);
    plot
}
