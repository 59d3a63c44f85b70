"""Plan + ReviewData -> fitted results: result types, the fit of one analysis, sensitivity analyses, subgroups.

`run` is the entry point and the only module that imports the others.
"""
