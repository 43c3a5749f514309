//! Animations: plotly figures with frames, a play/pause button and a slider, so that the
//! dynamics of a chapter can be played (no maths here).
//!
//! Every builder takes the states to show, one per frame, and returns a [`Plot`] whose first
//! frame is drawn as the static figure (what a printed page or an exported image shows) and
//! whose `frames` replace the data of the same traces, one frame per input state. The play
//! button and the slider drive plotly.js's own `animate`; nothing here needs a server.
//!
//! * [`densities`] — 1-D particles (a density-normalised histogram) and a density curve per
//!   frame: the forward SDE carrying particles and its exact marginal, Langevin at one noise
//!   level after another;
//! * [`clouds`] — 2-D point clouds, one or more panels side by side (reverse SDE against the
//!   PF-ODE from the same prior draw);
//! * [`curves`] — curves over a fixed grid (a Fokker–Planck density evolving);
//! * [`images`] — image mosaics (digits emerging from noise).

use ndarray::Array2;
use plotly::common::{Anchor, ColorScale, ColorScalePalette, Fill, Line, LineShape, Marker, Mode, Pad};
use plotly::layout::update_menu::{ButtonBuilder, UpdateMenu, UpdateMenuDirection, UpdateMenuType};
use plotly::layout::{
    Animation, AnimationMode, AnimationOptions, Axis, ControlBuilderError, Frame, FrameSettings, Margin, Slider,
    SliderCurrentValue, SliderStepBuilder, TransitionSettings,
};
use plotly::{HeatMap, Layout, Plot, Scatter, Trace, Traces};

use super::charts::{axis_ids, panel_layout, with_axes};
use super::{DensityPanel, ImagePanel};
use crate::error::{invalid, Error};
use crate::Result;

/// Milliseconds per frame when playing.
const FRAME_MS: usize = 400;
/// Pixels between the bottom of the plot area and the slider (room for the x axis and its title).
const CONTROLS_TOP: usize = 56;
/// Histogram bins of [`densities`].
const BINS: usize = 60;
const COLOURS: [&str; 4] = ["#4C78A8", "#E45756", "#54A24B", "#B279A2"];

/// One frame of [`clouds`]: a label (e.g. `"t = 0.50"`) and one `n × 2` cloud per panel.
#[derive(Debug, Clone)]
pub struct CloudFrame {
    /// Shown on the slider.
    pub label: String,
    /// One cloud per panel, `n × 2` (one point per row).
    pub clouds: Vec<Array2<f64>>,
}

/// One frame of [`curves`]: a label and one curve per name, each over the shared grid.
#[derive(Debug, Clone)]
pub struct CurveFrame {
    /// Shown on the slider.
    pub label: String,
    /// One curve per name, each as long as the grid.
    pub curves: Vec<Vec<f64>>,
}

/// Particles and density, one [`DensityPanel`] per frame: a density-normalised histogram of
/// the panel's samples (60 bins over the widest `xs` of all frames; its area is the fraction
/// of particles inside that range) and the density curve `(xs, density)`. The y range is
/// fixed over all frames so that heights compare.
pub fn densities(title: &str, frames: &[DensityPanel]) -> Result<Plot> {
    check_frames(frames.len())?;
    let (lo, hi) = frames
        .iter()
        .flat_map(|f| f.xs.iter().copied())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return invalid("xs", format!("[{lo}, {hi}]"), "need finite grids spanning lo < hi");
    }
    let mut states = Vec::with_capacity(frames.len());
    let mut top: f64 = 0.0;
    for f in frames {
        if f.xs.len() != f.density.len() {
            return invalid(
                "density",
                format!("{} values for {} grid points", f.density.len(), f.xs.len()),
                format!("frame {:?}: one density value per grid point", f.label),
            );
        }
        let (centres, heights) = histogram(&f.samples, lo, hi, BINS)?;
        top = f.density.iter().chain(&heights).copied().filter(|v| v.is_finite()).fold(top, f64::max);
        let traces: Vec<Box<dyn Trace>> = vec![
            Scatter::new(centres, heights)
                .mode(Mode::Lines)
                .line(Line::new().shape(LineShape::Hvh).color(COLOURS[0]).width(1.0))
                .fill(Fill::ToZeroY)
                .name("particles (histogram)"),
            Scatter::new(f.xs.clone(), f.density.clone())
                .mode(Mode::Lines)
                .line(Line::new().color(COLOURS[1]).width(2.0))
                .name("density"),
        ];
        states.push((f.label.clone(), traces));
    }
    let layout = Layout::new()
        .title(title)
        .height(540)
        .x_axis(Axis::new().title("x").range(vec![lo, hi]))
        .y_axis(Axis::new().title("density").range(vec![0.0, 1.05 * top.max(f64::MIN_POSITIVE)]));
    animated(layout, states)
}

/// 2-D point clouds, one panel per name in `panels` (side by side, each `[−extent, extent]²`),
/// one [`CloudFrame`] per frame with one cloud per panel.
pub fn clouds(title: &str, panels: &[&str], frames: &[CloudFrame], extent: f64) -> Result<Plot> {
    check_frames(frames.len())?;
    if !(extent.is_finite() && extent > 0.0) {
        return invalid("extent", extent, "must be finite and > 0");
    }
    let mut layout = panel_layout(title, panels.len())?.height(560);
    for (k, name) in panels.iter().enumerate() {
        let (xa, _) = axis_ids(k);
        let x = Axis::new().title(*name).range(vec![-extent, extent]);
        let y = Axis::new().range(vec![-extent, extent]).scale_anchor(&xa);
        layout = with_axes(layout, k, x, y);
    }
    let mut states = Vec::with_capacity(frames.len());
    for f in frames {
        if f.clouds.len() != panels.len() {
            return invalid(
                "clouds",
                f.clouds.len(),
                format!("frame {:?}: one cloud per panel ({} panels)", f.label, panels.len()),
            );
        }
        let mut traces: Vec<Box<dyn Trace>> = vec![];
        for (k, (cloud, name)) in f.clouds.iter().zip(panels).enumerate() {
            if cloud.ncols() != 2 {
                return invalid("clouds", format!("{} × {}", cloud.nrows(), cloud.ncols()), "need n × 2 points");
            }
            let (xa, ya) = axis_ids(k);
            traces.push(
                Scatter::new(cloud.column(0).to_vec(), cloud.column(1).to_vec())
                    .mode(Mode::Markers)
                    .marker(Marker::new().size(3).opacity(0.5).color(COLOURS[k % COLOURS.len()]))
                    .name(*name)
                    .show_legend(false)
                    .x_axis(&xa)
                    .y_axis(&ya),
            );
        }
        states.push((f.label.clone(), traces));
    }
    animated(layout, states)
}

/// Curves over one grid `xs`, one per name, changing from frame to frame (fixed axes).
pub fn curves(
    title: &str,
    (x_label, y_label): (&str, &str),
    xs: &[f64],
    names: &[&str],
    frames: &[CurveFrame],
) -> Result<Plot> {
    check_frames(frames.len())?;
    let mut states = Vec::with_capacity(frames.len());
    let mut top: f64 = 0.0;
    let mut bottom: f64 = 0.0;
    for f in frames {
        if f.curves.len() != names.len() || f.curves.iter().any(|c| c.len() != xs.len()) {
            let lens: Vec<usize> = f.curves.iter().map(Vec::len).collect();
            return invalid(
                "curves",
                format!("{lens:?}"),
                format!("frame {:?}: {} curves of {} values each", f.label, names.len(), xs.len()),
            );
        }
        let mut traces: Vec<Box<dyn Trace>> = vec![];
        for (k, (c, name)) in f.curves.iter().zip(names).enumerate() {
            for &v in c.iter().filter(|v| v.is_finite()) {
                top = top.max(v);
                bottom = bottom.min(v);
            }
            let dash = if k == 0 { plotly::common::DashType::Solid } else { plotly::common::DashType::Dash };
            traces.push(
                Scatter::new(xs.to_vec(), c.clone())
                    .mode(Mode::Lines)
                    .line(Line::new().color(COLOURS[k % COLOURS.len()]).width(2.0).dash(dash))
                    .name(*name),
            );
        }
        states.push((f.label.clone(), traces));
    }
    let pad = 0.05 * (top - bottom).max(f64::MIN_POSITIVE);
    let layout = Layout::new()
        .title(title)
        .height(540)
        .x_axis(Axis::new().title(x_label))
        .y_axis(Axis::new().title(y_label).range(vec![bottom - pad, top + pad]));
    animated(layout, states)
}

/// Image mosaics, one [`ImagePanel`] per frame (its label on the slider), on one grey scale
/// `[lo, hi]`: e.g. the same digits at successive sampler steps.
pub fn images(title: &str, frames: &[ImagePanel], (lo, hi): (f64, f64)) -> Result<Plot> {
    check_frames(frames.len())?;
    if !(lo.is_finite() && hi.is_finite() && lo < hi) {
        return invalid("range", format!("[{lo}, {hi}]"), "need finite lo < hi");
    }
    let mut states = Vec::with_capacity(frames.len());
    for f in frames {
        let traces: Vec<Box<dyn Trace>> = vec![HeatMap::new_z(f.mosaic()?)
            .color_scale(ColorScale::Palette(ColorScalePalette::Greys))
            .zmin(lo)
            .zmax(hi)
            .show_scale(false)];
        states.push((f.label.clone(), traces));
    }
    let bare = || Axis::new().show_tick_labels(false).tick_length(0).show_grid(false).zero_line(false);
    let layout = Layout::new()
        .title(title)
        .height(600)
        .x_axis(bare().constrain(plotly::layout::AxisConstrain::Domain))
        .y_axis(bare().scale_anchor("x").constrain(plotly::layout::AxisConstrain::Domain));
    animated(layout, states)
}

fn check_frames(n: usize) -> Result<()> {
    if n == 0 {
        invalid("frames", 0, "an animation needs at least one frame")
    } else {
        Ok(())
    }
}

/// A density-normalised histogram of `samples` on `bins` equal bins over `[lo, hi]`: bin
/// centres and heights count / (n · width), so the area is the fraction of samples inside.
fn histogram(samples: &[f64], lo: f64, hi: f64, bins: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    if samples.is_empty() {
        return invalid("samples", 0, "a histogram needs at least one sample");
    }
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &x in samples.iter().filter(|x| (lo..=hi).contains(*x)) {
        counts[(((x - lo) / width) as usize).min(bins - 1)] += 1;
    }
    let scale = 1.0 / (samples.len() as f64 * width);
    let centres = (0..bins).map(|i| lo + (i as f64 + 0.5) * width).collect();
    Ok((centres, counts.iter().map(|&c| c as f64 * scale).collect()))
}

/// The figure: the first state drawn, every state a frame (named by its label) replacing the
/// same traces, a play/pause button and a slider with one step per frame.
fn animated(layout: Layout, states: Vec<(String, Vec<Box<dyn Trace>>)>) -> Result<Plot> {
    let controls = |e: ControlBuilderError| Error::Numerical(format!("animation controls: {e}"));
    let immediate = |ms: usize, redraw: bool| {
        AnimationOptions::new()
            .mode(AnimationMode::Immediate)
            .frame(FrameSettings::new().duration(ms).redraw(redraw))
            .transition(TransitionSettings::new().duration(0))
    };
    let mut plot = Plot::new();
    let indices: Vec<usize> = (0..states[0].1.len()).collect();
    let mut steps = Vec::with_capacity(states.len());
    for (k, (label, traces)) in states.into_iter().enumerate() {
        let mut data = Traces::new();
        for t in traces {
            if k == 0 {
                plot.add_trace(t.clone());
            }
            data.push(t);
        }
        plot.add_frame(Frame::new().name(label.as_str()).data(data).traces(indices.clone()));
        let jump = Animation::frames(vec![label.clone()]).options(immediate(0, true));
        steps.push(SliderStepBuilder::new().label(label.as_str()).animation(jump).build().map_err(controls)?);
    }
    let play = ButtonBuilder::new()
        .label("▶ play")
        .animation(Animation::all_frames().options(immediate(FRAME_MS, true).fromcurrent(true)))
        .build()
        .map_err(controls)?;
    let pause = ButtonBuilder::new().label("❚❚ pause").animation(Animation::pause()).build().map_err(controls)?;
    let menu = UpdateMenu::new()
        .ty(UpdateMenuType::Buttons)
        .direction(UpdateMenuDirection::Left)
        .buttons(vec![play, pause])
        .show_active(false)
        .x(0.0)
        .x_anchor(Anchor::Left)
        .y(0.0)
        .y_anchor(Anchor::Top)
        .pad(Pad::new(CONTROLS_TOP + 24, 0, 0));
    // Below the x axis and its title: the slider CONTROLS_TOP px under the plot, the buttons beside it.
    let slider = Slider::new()
        .active(0)
        .steps(steps)
        .x(0.2)
        .length(0.8)
        .y(0.0)
        .y_anchor(Anchor::Top)
        .pad(Pad::new(CONTROLS_TOP, 0, 0))
        .current_value(SliderCurrentValue::new().visible(true).prefix("frame: "));
    plot.set_layout(layout.margin(Margin::new().bottom(CONTROLS_TOP + 90)).update_menus(vec![menu]).sliders(vec![slider]));
    Ok(plot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn json_of(plot: &Plot) -> Value {
        serde_json::from_str(&plot.to_json()).unwrap()
    }

    fn ys(trace: &Value) -> Vec<f64> {
        trace["y"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect()
    }

    fn density_frames() -> Vec<DensityPanel> {
        let xs: Vec<f64> = (0..=100).map(|i| -5.0 + 0.1 * i as f64).collect();
        (0..3)
            .map(|k| DensityPanel {
                label: format!("t = {k}"),
                // All samples at k − 1, one outside the grid in frame 2.
                samples: if k == 2 { vec![1.0, 1.0, 1.0, 9.0] } else { vec![k as f64 - 1.0; 4] },
                xs: xs.clone(),
                density: xs.iter().map(|x| (-(x - k as f64).powi(2)).exp()).collect(),
            })
            .collect()
    }

    #[test]
    fn densities_has_one_frame_per_state_with_its_histogram_and_density() {
        let frames = density_frames();
        let v = json_of(&densities("d", &frames).unwrap());
        let f = v["frames"].as_array().unwrap();
        assert_eq!(f.len(), 3);
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        for (k, frame) in f.iter().enumerate() {
            assert_eq!(frame["name"], format!("t = {k}"));
            assert_eq!(frame["traces"], json!([0, 1]));
            let data = frame["data"].as_array().unwrap();
            // serde_json parses floats to within an ulp or so (no `float_roundtrip`).
            let density = ys(&data[1]);
            assert_eq!(density.len(), frames[k].density.len());
            assert!(density.iter().zip(&frames[k].density).all(|(a, b)| (a - b).abs() <= 1e-14 * b.abs()));
            // Histogram area = fraction of samples inside [−5, 5]: 1, 1, 3/4.
            let heights = ys(&data[0]);
            let area: f64 = heights.iter().sum::<f64>() * 10.0 / BINS as f64;
            assert!((area - [1.0, 1.0, 0.75][k]).abs() < 1e-12, "frame {k}: area {area}");
            // All mass in the bin holding k − 1.
            let bin = ((k as f64 - 1.0 + 5.0) / (10.0 / BINS as f64)) as usize;
            assert!(heights[bin] > 0.0 && heights.iter().filter(|&&h| h > 0.0).count() == 1);
        }
        // The static figure is the first frame.
        assert_eq!(v["data"][1]["y"], f[0]["data"][1]["y"]);
    }

    #[test]
    fn controls_play_all_frames_and_jump_to_each() {
        let v = json_of(&densities("d", &density_frames()).unwrap());
        let buttons = v["layout"]["updatemenus"][0]["buttons"].as_array().unwrap();
        assert_eq!(buttons[0]["method"], "animate");
        assert_eq!(buttons[0]["args"][0], Value::Null);
        assert_eq!(buttons[1]["args"][0], json!([null]));
        let steps = v["layout"]["sliders"][0]["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 3);
        for (k, s) in steps.iter().enumerate() {
            assert_eq!(s["method"], "animate");
            assert_eq!(s["args"][0], json!([format!("t = {k}")]));
        }
    }

    #[test]
    fn clouds_frames_hold_every_panel_and_bad_input_is_an_error() {
        let frame = |k: usize| CloudFrame {
            label: format!("step {k}"),
            clouds: vec![Array2::from_elem((5, 2), k as f64), Array2::from_elem((3, 2), -(k as f64))],
        };
        let frames: Vec<CloudFrame> = (0..4).map(frame).collect();
        let v = json_of(&clouds("c", &["SDE", "ODE"], &frames, 3.0).unwrap());
        let f = v["frames"].as_array().unwrap();
        assert_eq!(f.len(), 4);
        assert_eq!(f[3]["data"][0]["x"], json!(vec![3.0; 5]));
        assert_eq!(f[3]["data"][1]["y"], json!(vec![-3.0; 3]));
        assert_eq!(f[3]["data"][1]["xaxis"], "x2");
        let err = clouds("c", &["SDE"], &frames, 3.0).err().expect("one panel, two clouds");
        assert!(err.to_string().contains("one cloud per panel"), "{err}");
        assert!(clouds("c", &["SDE", "ODE"], &[], 3.0).is_err());
        assert!(clouds("c", &["SDE", "ODE"], &frames, 0.0).is_err());
        let three_d = CloudFrame { label: "x".into(), clouds: vec![Array2::zeros((2, 3)), Array2::zeros((2, 2))] };
        assert!(clouds("c", &["a", "b"], &[three_d], 1.0).is_err());
    }

    #[test]
    fn curves_and_images_check_their_shapes() {
        let xs = [0.0, 1.0, 2.0];
        let ok = CurveFrame { label: "a".into(), curves: vec![vec![1.0, 2.0, 3.0], vec![0.0, 0.0, -1.0]] };
        let v = json_of(&curves("c", ("x", "p"), &xs, &["grid", "exact"], &[ok.clone(), ok.clone()]).unwrap());
        assert_eq!(v["frames"].as_array().unwrap().len(), 2);
        assert_eq!(ys(&v["frames"][1]["data"][1]), vec![0.0, 0.0, -1.0]);
        let short = CurveFrame { label: "b".into(), curves: vec![vec![1.0, 2.0], vec![0.0, 0.0, 0.0]] };
        assert!(curves("c", ("x", "p"), &xs, &["grid", "exact"], &[ok, short]).is_err());

        let frames: Vec<ImagePanel> =
            (0..5).map(|k| ImagePanel::new(format!("step {k}"), Array2::from_elem((4, 4), k as f64 / 5.0), 2)).collect();
        let v = json_of(&images("i", &frames, (-1.0, 1.0)).unwrap());
        assert_eq!(v["frames"].as_array().unwrap().len(), 5);
        assert_eq!(v["frames"][4]["data"][0]["z"][0][0], json!(0.8));
        assert!(images("i", &frames, (1.0, -1.0)).is_err());
        assert!(images("i", &[ImagePanel::new("bad", Array2::zeros((2, 5)), 2)], (-1.0, 1.0)).is_err());
    }
}
