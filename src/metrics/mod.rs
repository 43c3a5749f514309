//! Sample-quality measures and moments (chapter 4 and the appendix).
