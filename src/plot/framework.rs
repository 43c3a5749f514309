//! Figure builders of chapter 4 (`notebooks/04_unified_framework.ipynb`): densities with
//! paths (seed 001 figs. 2–5), 2-D trajectories, loss curves, score fields, the NFE–quality
//! plot and HTML tables. No maths here: every number comes from the crate.

pub use super::table;
use plotly::common::{ColorScale, ColorScalePalette, DashType, Fill, Line, Marker, MarkerSymbol, Mode};
use plotly::layout::{
    Axis, AxisType, GridPattern, Layout, LayoutGrid, Shape, ShapeLayer, ShapeType,
};
use plotly::{Contour, HeatMap, Plot, Scatter};

use ndarray::{Array1, Array2, ArrayView2};

use super::{layout, DensityPanel, Html};
use crate::framework::table1::Table1Check;
use crate::framework::MixtureMarginal;
use crate::sde_basics::{ForwardSde, Solution};
use crate::{Error, Result};

/// Paths drawn in one colour: `(label, colour, times, paths)`.
pub type PathGroup<'a> = (&'a str, &'a str, &'a [f64], &'a [Vec<f64>]);

/// 2-D paths drawn in one colour: `(label, colour, paths of (x, y) points)`.
pub type PathGroup2d<'a> = (&'a str, &'a str, Vec<Vec<(f64, f64)>>);

/// A density `p_t(x)` on a grid — `density[i][k]` at `xs[i]`, `times[k]` — drawn as a heatmap
/// (time across, space up), with sample paths over it: `(label, colour, times, paths)`.
/// Markers `×` at the first point of each path (seed 001 figs. 2–3).
pub fn density_with_paths(
    title: &str,
    times: &[f64],
    xs: &[f64],
    density: Vec<Vec<f64>>,
    paths: &[PathGroup],
) -> Plot {
    let mut plot = Plot::new();
    plot.add_trace(
        HeatMap::new(times.to_vec(), xs.to_vec(), density)
            .color_scale(ColorScale::Palette(ColorScalePalette::Viridis))
            .show_scale(false)
            .name("p_t(x)"),
    );
    for (label, colour, t, group) in paths {
        for (i, p) in group.iter().enumerate() {
            plot.add_trace(
                Scatter::new(t.to_vec(), p.clone())
                    .mode(Mode::Lines)
                    .line(Line::new().color(colour.to_string()).width(1.2))
                    .name(*label)
                    .legend_group(*label)
                    .show_legend(i == 0),
            );
        }
        let starts: Vec<f64> = group.iter().map(|p| p[0]).collect();
        plot.add_trace(
            Scatter::new(vec![t[0]; starts.len()], starts)
                .mode(Mode::Markers)
                .marker(
                    Marker::new()
                        .symbol(MarkerSymbol::X)
                        .color(colour.to_string())
                        .size(8),
                )
                .legend_group(*label)
                .show_legend(false),
        );
    }
    plot.set_layout(layout(title, "t", "x"));
    plot
}

/// `[p(xs[i], t_k)]` as `density[i][k]` for [`density_with_paths`], from a function giving
/// `log p(·, t)` on a column of points.
pub fn density_grid_1d(
    times: &[f64],
    xs: &[f64],
    log_density: impl Fn(ArrayView2<f64>, f64) -> Result<Array1<f64>>,
) -> Result<Vec<Vec<f64>>> {
    let points = Array2::from_shape_vec((xs.len(), 1), xs.to_vec())
        .map_err(|e| Error::Shape(e.to_string()))?;
    let columns: Vec<Array1<f64>> = times
        .iter()
        .map(|&t| log_density(points.view(), t))
        .collect::<Result<_>>()?;
    Ok((0..xs.len())
        .map(|i| columns.iter().map(|c| c[i].exp()).collect())
        .collect())
}

/// One panel of [`density_panels_2d`]: a label and a density `z[j][i]` at `(xs[i], ys[j])`.
pub struct DensityPanel2d {
    /// Panel title, e.g. `"t = 0.5"`.
    pub label: String,
    /// Grid abscissae.
    pub xs: Vec<f64>,
    /// Grid ordinates.
    pub ys: Vec<f64>,
    /// `z[j][i] = p(xs[i], ys[j])`.
    pub z: Vec<Vec<f64>>,
}

pub(super) fn axis_pair(layout: Layout, i: usize, x: Axis, y: Axis) -> Layout {
    match i {
        0 => layout.x_axis(x).y_axis(y),
        1 => layout.x_axis2(x).y_axis2(y),
        2 => layout.x_axis3(x).y_axis3(y),
        3 => layout.x_axis4(x).y_axis4(y),
        4 => layout.x_axis5(x).y_axis5(y),
        5 => layout.x_axis6(x).y_axis6(y),
        _ => layout,
    }
}

impl DensityPanel2d {
    /// The panel of `exp(log_density)` on the grid `xs × ys`.
    pub fn from_fn(
        label: impl Into<String>,
        xs: &[f64],
        ys: &[f64],
        log_density: impl Fn(ArrayView2<f64>) -> Result<Array1<f64>>,
    ) -> Result<Self> {
        let values = log_density(grid_2d(xs, ys).view())?;
        let z = (0..ys.len())
            .map(|j| {
                (0..xs.len())
                    .map(|i| values[j * xs.len() + i].exp())
                    .collect()
            })
            .collect();
        Ok(Self {
            label: label.into(),
            xs: xs.to_vec(),
            ys: ys.to_vec(),
            z,
        })
    }
}

/// The grid `xs × ys` as points, one per row, `xs` fastest: row `j·len(xs) + i` is
/// `(xs[i], ys[j])` — the order [`DensityPanel2d`] and [`log_density_pair`] read values in.
pub fn grid_2d(xs: &[f64], ys: &[f64]) -> Array2<f64> {
    Array2::from_shape_fn((xs.len() * ys.len(), 2), |(k, c)| {
        if c == 0 {
            xs[k % xs.len()]
        } else {
            ys[k / xs.len()]
        }
    })
}

/// Three heatmaps of log-densities on the grid `xs × ys` (values in [`grid_2d`]'s order): the
/// true `log p`, the one computed through the PF-ODE, and their difference (seed 001 §3.2.2).
pub fn log_density_pair(
    title: &str,
    xs: &[f64],
    ys: &[f64],
    truth: &[f64],
    computed: &[f64],
) -> Result<Plot> {
    let cells = xs.len() * ys.len();
    if truth.len() != cells || computed.len() != cells {
        return Err(Error::Shape(format!(
            "a {}×{} grid has {cells} cells; got {} true and {} computed values",
            xs.len(),
            ys.len(),
            truth.len(),
            computed.len()
        )));
    }
    let rows = |v: Vec<f64>| v.chunks(xs.len()).map(<[f64]>::to_vec).collect();
    let diff = truth.iter().zip(computed).map(|(a, b)| b - a).collect();
    let panel = |label: &str, z| super::Heat {
        x_label: format!("x₁ — {label}"),
        x: xs.to_vec(),
        y: ys.to_vec(),
        z,
    };
    super::heatmaps(
        title,
        "x₂",
        &[
            panel("true log p", rows(truth.to_vec())),
            panel("PF-ODE log p", rows(computed.to_vec())),
            panel("computed − true", rows(diff)),
        ],
    )
}

/// One interpolation strip of [`interpolation_paths`]: `(label, colour, latents, decoded)`.
pub type Strip2d<'a> = (&'a str, &'a str, Vec<(f64, f64)>, Vec<(f64, f64)>);

/// Latent interpolation (seed 004 §3): on the left the latents at `T` (prior draws in grey,
/// each strip's latents as a line with markers), on the right the data at `ε` (data in grey,
/// each strip's decoded points). A strip is `(label, colour, latents, decoded)`.
pub fn interpolation_paths(
    title: &str,
    prior: &[(f64, f64)],
    data: &[(f64, f64)],
    strips: &[Strip2d],
) -> Plot {
    let mut plot = Plot::new();
    let xy = |p: &[(f64, f64)]| -> (Vec<f64>, Vec<f64>) { p.iter().copied().unzip() };
    for (k, cloud) in [prior, data].into_iter().enumerate() {
        let (x, y) = xy(cloud);
        plot.add_trace(
            Scatter::new(x, y)
                .mode(Mode::Markers)
                .marker(Marker::new().size(3).color("#BBBBBB"))
                .name(if k == 0 { "prior draws" } else { "data" })
                .x_axis(format!("x{}", k + 1))
                .y_axis(format!("y{}", k + 1)),
        );
    }
    for (label, colour, latents, decoded) in strips {
        for (k, pts) in [latents, decoded].into_iter().enumerate() {
            let (x, y) = xy(pts);
            plot.add_trace(
                Scatter::new(x, y)
                    .mode(Mode::LinesMarkers)
                    .line(Line::new().color(colour.to_string()).width(1.5))
                    .marker(Marker::new().size(6).color(colour.to_string()))
                    .name(*label)
                    .legend_group(*label)
                    .show_legend(k == 0)
                    .x_axis(format!("x{}", k + 1))
                    .y_axis(format!("y{}", k + 1)),
            );
        }
    }
    let mut lay = Layout::new().title(title).height(420).grid(
        LayoutGrid::new()
            .rows(1)
            .columns(2)
            .pattern(GridPattern::Independent),
    );
    lay = axis_pair(
        lay,
        0,
        Axis::new().title("latent z₁ (t = T)"),
        Axis::new().title("z₂"),
    );
    lay = axis_pair(
        lay,
        1,
        Axis::new().title("data x₁ (t = ε)"),
        Axis::new().title("x₂"),
    );
    plot.set_layout(lay);
    plot
}

/// Side-by-side contour plots of 2-D densities (seed 001 fig. 4), at most six panels.
pub fn density_panels_2d(title: &str, panels: &[DensityPanel2d]) -> Plot {
    let mut plot = Plot::new();
    let mut lay = Layout::new().title(title).height(330).grid(
        LayoutGrid::new()
            .rows(1)
            .columns(panels.len().min(6))
            .pattern(GridPattern::Independent),
    );
    for (i, p) in panels.iter().take(6).enumerate() {
        plot.add_trace(
            Contour::new(p.xs.clone(), p.ys.clone(), p.z.clone())
                .color_scale(ColorScale::Palette(ColorScalePalette::Viridis))
                .show_scale(false)
                .name(p.label.as_str())
                .x_axis(&format!("x{}", i + 1))
                .y_axis(&format!("y{}", i + 1)),
        );
        lay = axis_pair(lay, i, Axis::new().title(p.label.as_str()), Axis::new());
    }
    plot.set_layout(lay);
    plot
}

/// 2-D trajectories over a scatter of the data (seed 001 fig. 5): each group is
/// `(label, colour, paths)` with a path a list of `(x, y)` points; `×` marks the starts.
pub fn trajectories_2d(title: &str, data: &[(f64, f64)], groups: &[PathGroup2d]) -> Plot {
    let mut plot = Plot::new();
    plot.add_trace(
        Scatter::new(
            data.iter().map(|p| p.0).collect(),
            data.iter().map(|p| p.1).collect(),
        )
        .mode(Mode::Markers)
        .marker(Marker::new().size(3).color("#BBBBBB"))
        .name("data"),
    );
    for (label, colour, paths) in groups {
        for (i, p) in paths.iter().enumerate() {
            plot.add_trace(
                Scatter::new(
                    p.iter().map(|q| q.0).collect(),
                    p.iter().map(|q| q.1).collect(),
                )
                .mode(Mode::Lines)
                .line(Line::new().color(colour.to_string()).width(1.0))
                .opacity(0.75)
                .name(*label)
                .legend_group(*label)
                .show_legend(i == 0),
            );
        }
        let (sx, sy): (Vec<f64>, Vec<f64>) = paths.iter().map(|p| p[0]).unzip();
        plot.add_trace(
            Scatter::new(sx, sy)
                .mode(Mode::Markers)
                .marker(
                    Marker::new()
                        .symbol(MarkerSymbol::X)
                        .size(8)
                        .color(colour.to_string()),
                )
                .legend_group(*label)
                .show_legend(false),
        );
    }
    plot.set_layout(layout(title, "x₁", "x₂").height(520));
    plot
}

/// A scatter of point sets side by side, e.g. samples of several samplers.
pub fn scatter_sets(title: &str, sets: &[(&str, Vec<(f64, f64)>)]) -> Plot {
    let mut plot = Plot::new();
    let mut lay = Layout::new().title(title).height(340).grid(
        LayoutGrid::new()
            .rows(1)
            .columns(sets.len().min(6))
            .pattern(GridPattern::Independent),
    );
    for (i, (label, pts)) in sets.iter().take(6).enumerate() {
        plot.add_trace(
            Scatter::new(
                pts.iter().map(|p| p.0).collect(),
                pts.iter().map(|p| p.1).collect(),
            )
            .mode(Mode::Markers)
            .marker(Marker::new().size(2))
            .name(*label)
            .show_legend(false)
            .x_axis(format!("x{}", i + 1))
            .y_axis(format!("y{}", i + 1)),
        );
        lay = axis_pair(
            lay,
            i,
            Axis::new().title(*label).range(vec![-3.0, 3.5]),
            Axis::new().range(vec![-3.0, 3.5]),
        );
    }
    plot.set_layout(lay);
    plot
}

/// Curves `(name, xs, ys)` on one plot, with a log y axis when `log_y`.
pub fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<f64>, Vec<f64>)],
    log_y: bool,
) -> Plot {
    let mut plot = Plot::new();
    for (name, xs, ys) in series {
        plot.add_trace(
            Scatter::new(xs.clone(), ys.clone())
                .mode(Mode::Lines)
                .name(*name),
        );
    }
    let mut lay = layout(title, x_label, y_label);
    if log_y {
        lay = lay.y_axis(Axis::new().title(y_label).type_(AxisType::Log));
    }
    plot.set_layout(lay);
    plot
}

/// Colours of successive runs, so that a run's faint and bold curves match.
const PALETTE: [&str; 6] = [
    "#4C78A8", "#E45756", "#54A24B", "#F58518", "#B279A2", "#72B7B2",
];

/// Training-loss curves `(name, losses)`: the raw losses faintly and a moving average of
/// `window` steps on top, log y axis; each average has its own dash as well as its own colour,
/// so a curve that runs under another still shows between the dashes.
pub fn loss_curves(title: &str, runs: &[(&str, &[f64])], window: usize) -> Plot {
    const DASHES: [DashType; 6] = [
        DashType::Solid,
        DashType::Dash,
        DashType::Dot,
        DashType::DashDot,
        DashType::LongDash,
        DashType::LongDashDot,
    ];
    let mut plot = Plot::new();
    let w = window.max(1);
    for (k, (name, losses)) in runs.iter().enumerate() {
        let colour = PALETTE[k % PALETTE.len()];
        let steps: Vec<f64> = (1..=losses.len()).map(|k| k as f64).collect();
        plot.add_trace(
            Scatter::new(steps.clone(), losses.to_vec())
                .mode(Mode::Lines)
                .line(Line::new().color(colour))
                .opacity(0.25)
                .name(format!("{name} (per step)"))
                .show_legend(false),
        );
        let avg: Vec<f64> = (0..losses.len())
            .map(|k| {
                let lo = k.saturating_sub(w - 1);
                losses[lo..=k].iter().sum::<f64>() / (k - lo + 1) as f64
            })
            .collect();
        plot.add_trace(
            Scatter::new(steps, avg)
                .mode(Mode::Lines)
                .line(Line::new().color(colour).dash(DASHES[k % DASHES.len()].clone()))
                .name(*name),
        );
    }
    plot.set_layout(
        layout(title, "step", "loss").y_axis(Axis::new().title("loss").type_(AxisType::Log)),
    );
    plot
}

/// One panel of [`vector_fields`]: arrows from `points[i]` along `vectors[i]` (already scaled).
pub struct FieldPanel {
    /// Panel title.
    pub label: String,
    /// Arrow tails.
    pub points: Vec<(f64, f64)>,
    /// Arrow displacements.
    pub vectors: Vec<(f64, f64)>,
}

/// Vector fields (e.g. learned vs true scores) as short segments with a dot at the tail,
/// side by side.
pub fn vector_fields(title: &str, panels: &[FieldPanel]) -> Plot {
    let mut plot = Plot::new();
    let mut lay = Layout::new().title(title).height(380).grid(
        LayoutGrid::new()
            .rows(1)
            .columns(panels.len().min(6))
            .pattern(GridPattern::Independent),
    );
    for (i, p) in panels.iter().take(6).enumerate() {
        let mut xs: Vec<Option<f64>> = Vec::new();
        let mut ys: Vec<Option<f64>> = Vec::new();
        for (a, v) in p.points.iter().zip(&p.vectors) {
            xs.extend([Some(a.0), Some(a.0 + v.0), None]);
            ys.extend([Some(a.1), Some(a.1 + v.1), None]);
        }
        let (xa, ya) = (format!("x{}", i + 1), format!("y{}", i + 1));
        plot.add_trace(
            Scatter::new(xs, ys)
                .mode(Mode::Lines)
                .line(Line::new().width(1.0).color("#4C78A8"))
                .show_legend(false)
                .x_axis(&xa)
                .y_axis(&ya),
        );
        plot.add_trace(
            Scatter::new(
                p.points.iter().map(|q| q.0).collect(),
                p.points.iter().map(|q| q.1).collect(),
            )
            .mode(Mode::Markers)
            .marker(Marker::new().size(2).color("#4C78A8"))
            .show_legend(false)
            .x_axis(&xa)
            .y_axis(&ya),
        );
        lay = axis_pair(lay, i, Axis::new().title(p.label.as_str()), Axis::new());
    }
    plot.set_layout(lay);
    plot
}

/// NFE–quality curves `(family, [(nfe, energy distance)])` on log–log axes, with the noise
/// floor as a shaded band `(low, high)` and its mean as a dashed line.
pub fn nfe_quality(
    title: &str,
    curves: &[(String, Vec<(f64, f64)>)],
    floor_band: (f64, f64),
    floor_mean: f64,
) -> Plot {
    let mut plot = Plot::new();
    // plotly cycles ten colours: the second and third ten curves are dashed and dotted.
    let dashes = [DashType::Solid, DashType::Dash, DashType::Dot];
    for (i, (name, pts)) in curves.iter().enumerate() {
        plot.add_trace(
            Scatter::new(
                pts.iter().map(|p| p.0).collect(),
                pts.iter().map(|p| p.1).collect(),
            )
            .mode(Mode::LinesMarkers)
            .line(Line::new().dash(dashes[(i / 10) % dashes.len()].clone()))
            .name(name.as_str()),
        );
    }
    let (x_lo, x_hi) = curves
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
    plot.add_trace(
        Scatter::new(vec![x_lo, x_hi], vec![floor_mean, floor_mean])
            .mode(Mode::Lines)
            .line(
                Line::new()
                    .color("#444444")
                    .dash(DashType::Dash),
            )
            .name("noise floor (mean)"),
    );
    let band = Shape::new()
        .shape_type(ShapeType::Rect)
        .x_ref("paper")
        .y_ref("y")
        .x0(0.0)
        .x1(1.0)
        .y0(floor_band.0)
        .y1(floor_band.1)
        .fill_color("#888888")
        .opacity(0.2)
        .layer(ShapeLayer::Below);
    let lay = layout(
        title,
        "NFE (score evaluations per sample)",
        "energy distance to fresh data",
    )
    // Tall enough for the legend's one line per curve (a static export does not scroll it).
    .height((22 * (curves.len() + 1) + 180).max(520))
    .x_axis(
        Axis::new()
            .title("NFE (score evaluations per sample)")
            .type_(AxisType::Log),
    )
    .y_axis(
        Axis::new()
            .title("energy distance to fresh data")
            .type_(AxisType::Log)
            .dtick(1.0), // labels at powers of ten only
    )
    .shapes(vec![band]);
    plot.set_layout(lay);
    plot
}

/// A filled band between two curves plus the curves themselves, e.g. a variance with its
/// sampling error.
pub fn band(title: &str, x_label: &str, y_label: &str, xs: &[f64], lo: &[f64], hi: &[f64]) -> Plot {
    let mut plot = Plot::new();
    plot.add_trace(
        Scatter::new(xs.to_vec(), lo.to_vec())
            .mode(Mode::Lines)
            .name("low"),
    );
    plot.add_trace(
        Scatter::new(xs.to_vec(), hi.to_vec())
            .mode(Mode::Lines)
            .fill(Fill::ToNextY)
            .name("high"),
    );
    plot.set_layout(layout(title, x_label, y_label));
    plot
}

/// Seed 001's Table 1 checked column by column (`(SDE name, its checks)`): the table's value,
/// the crate's or the simulation's, the tolerance and whether it holds.
pub fn table1_table(columns: &[(&str, Vec<Table1Check>)]) -> Html {
    let rows: Vec<Vec<String>> = columns
        .iter()
        .flat_map(|(name, checks)| {
            checks.iter().map(move |r| {
                vec![
                    name.to_string(),
                    r.entry.to_string(),
                    format!("{:.2}", r.t),
                    format!("{:.5}", r.table),
                    format!("{:.5} ({})", r.measured, r.source),
                    format!("{:.1e}", r.tolerance),
                    (if r.ok() { "✓" } else { "✗" }).to_string(),
                ]
            })
        })
        .collect();
    table(
        &["SDE", "entry", "t", "Table 1", "crate / simulation", "tolerance", "ok"],
        &rows,
    )
}

/// One histogram panel per recorded state of a 1-D solve, each with the exact marginal density
/// `p_t` of the mixture on `xs`.
pub fn density_panels<S: ForwardSde>(
    sol: &Solution,
    marginal: &MixtureMarginal<S>,
    xs: &[f64],
) -> Result<Vec<DensityPanel>> {
    let column = Array2::from_shape_vec((xs.len(), 1), xs.to_vec())
        .map_err(|e| Error::Shape(e.to_string()))?;
    sol.times
        .iter()
        .zip(&sol.states)
        .map(|(t, x)| {
            Ok(DensityPanel {
                label: format!("t = {t:.3}"),
                samples: x.iter().copied().collect(),
                xs: xs.to_vec(),
                density: marginal.log_density(column.view(), *t)?.mapv(f64::exp).to_vec(),
            })
        })
        .collect()
}

/// The recorded 2-D paths of a solve, one `(x, y)` list per particle.
pub fn paths_2d(sol: &Solution) -> Vec<Vec<(f64, f64)>> {
    (0..sol.states[0].nrows())
        .map(|i| sol.states.iter().map(|x| (x[[i, 0]], x[[i, 1]])).collect())
        .collect()
}

/// A vector-field panel: arrows `scale · v` at the rows of `points` (`n × 2`).
pub fn field_panel(label: String, points: ArrayView2<f64>, vectors: ArrayView2<f64>, scale: f64) -> FieldPanel {
    FieldPanel {
        label,
        points: points.rows().into_iter().map(|r| (r[0], r[1])).collect(),
        vectors: vectors
            .rows()
            .into_iter()
            .map(|r| (scale * r[0], scale * r[1]))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_figure_makes_room_for_every_curve_and_tells_the_eleventh_from_the_first() {
        let curves: Vec<(String, Vec<(f64, f64)>)> = (0..26)
            .map(|i| (format!("sampler {i}"), vec![(10.0, 0.1), (100.0, 0.002)]))
            .collect();
        let fig: serde_json::Value =
            serde_json::from_str(&nfe_quality("sweep", &curves, (0.001, 0.003), 0.002).to_json())
                .unwrap();
        assert_eq!(fig["data"].as_array().map(Vec::len), Some(27), "26 curves and the floor");
        assert!(fig["layout"]["height"].as_u64().unwrap() >= 22 * 27, "legend room");
        assert_eq!(fig["data"][0]["line"]["dash"], "solid");
        assert_eq!(fig["data"][10]["line"]["dash"], "dash");
        assert_eq!(fig["data"][20]["line"]["dash"], "dot");
    }
}
