"""Agreement metrics of the EmoNet-Face protocol: Spearman ρ, weighted κ, Krippendorff's α, and the report."""
