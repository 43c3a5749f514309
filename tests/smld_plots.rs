//! The chapter's figure builders: panels, arrows and their limits.

use diffusion_sde::plot::{self, Curve, Heat, Panel, MAX_PANELS};
use diffusion_sde::prelude::*;
use diffusion_sde::smld::FieldGrid;

#[test]
fn quiver_panels_draw_one_contour_and_one_arrow_trace_each() {
    let law = GaussianMixture::appendix_2d();
    let f = FieldGrid::of(&law, -3.0, 3.0, 20, 5).unwrap();
    let p = plot::score_fields("t", &[("a", &f), ("b", &f)]).unwrap();
    let json = p.to_json();
    assert_eq!(json.matches("\"contour\"").count(), 2);
    // 25 arrows per panel, each followed by a gap.
    // 25 arrows per panel, each ending in a gap (`null`) in its x and its y list.
    assert_eq!(json.matches(",null").count(), 2 * 2 * 25);
    assert!(json.contains("\"xaxis\":\"x2\""));
    let many = vec![("a", &f); MAX_PANELS + 1];
    assert!(plot::score_fields("t", &many).is_err());
}

#[test]
fn line_panels_share_legend_entries_and_refuse_too_many_panels() {
    let c = Curve::new("β", vec![0.0, 1.0], vec![1.0, 2.0]);
    let p = plot::line_panels(
        "t",
        "x",
        &[
            Panel::new("a", vec![c.clone()]),
            Panel::new("b", vec![c.clone()]).log_y(),
        ],
    )
    .unwrap();
    let json = p.to_json();
    assert_eq!(json.matches("\"showlegend\":true").count(), 1);
    assert!(json.contains("\"type\":\"log\""));
    assert!(plot::line_panels("t", "x", &[]).is_err());
    let heat = Heat {
        x_label: "t".into(),
        x: vec![0.0, 1.0],
        y: vec![0.0],
        z: vec![vec![1.0, 2.0]],
    };
    assert!(plot::heatmaps("t", "k", &vec![heat; MAX_PANELS + 1]).is_err());
}
