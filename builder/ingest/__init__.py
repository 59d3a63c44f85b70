"""data/ -> validated ReviewData: safe YAML with line numbers, loading, checks across files, derivations
(median/IQR to mean/SD, units) and the choice of each study's dataset for an analysis.
"""
