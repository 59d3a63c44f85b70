# Reference values from metafor for the meta-regression tests (tests/stats/test_metareg_alignment.py and
# tests/analysis/test_metareg_yaml.py).
#
# What it does: fits mixed-effects meta-regressions with rma(yi, vi, mods = ..., method = "REML") under
# Knapp-Hartung inference (test = "knha", the engine's default) and under z inference (test = "z", metafor's
# default), with one continuous moderator, one categorical moderator (dummy coded against its first level) and
# both together, on two metadat data sets the other reference scripts do not use:
#   curtis1998        102 experiments on plant biomass under elevated CO2; per-arm means, SDs and sizes, so the
#                     tests can write them as study files. Effect size: the log ratio of means (escalc "ROM").
#                     Moderators: time (days of exposure, continuous) and method (GC growth chamber, GH
#                     greenhouse, OTC open-top chamber; reference GC).
#   bangertdrowns2004 48 studies of writing-to-learn interventions; standardised mean differences as given.
#                     Moderators: length (weeks of treatment, continuous; missing in 2 studies, which rma leaves
#                     out) and grade (1 to 4, categorical; reference 1).
# For each model it writes the coefficients (estimate, SE, t or z, p, CI), the omnibus test of the moderators
# (QM: F under knha, chi^2 under z, with df and p), the test for residual heterogeneity (QE, df, p), the residual
# tau^2, I^2, H^2, the pseudo-R^2 and the tau^2 of the model without moderators, and for the one-moderator models
# of a continuous moderator, predict() at a few values (the regression line and its confidence band).
#
# How to rerun (from the repository root; needs R with metafor, metadat and jsonlite):
#     Rscript tests/reference/metareg_reference.R
#
# REML is fitted by Fisher scoring until the change in tau^2 is below 1e-12 (metafor's default threshold is
# 1e-5), with half steps and up to 1000 iterations; rma passes the same control to the fit without moderators
# that the pseudo-R^2 compares with.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "metareg.json")
if (!dir.exists(dirname(out_file))) {
  stop("run from the repository root: Rscript tests/reference/metareg_reference.R")
}

CONTROL <- list(threshold = 1e-12, maxiter = 1000, stepadj = 0.5)

curtis <- escalc(measure = "ROM", m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i,
                 data = dat.curtis1998)
curtis$method <- factor(curtis$method, levels = c("GC", "GH", "OTC"))

bd <- dat.bangertdrowns2004
bd$grade <- factor(bd$grade, levels = 1:4)

fit_one <- function(data, formula, test, newmods = NULL) {
  res <- rma(yi, vi, mods = formula, data = data, method = "REML", test = test, control = CONTROL)
  re <- rma(yi, vi, data = data[rownames(model.frame(formula, data)), ], method = "REML", control = CONTROL)
  out <- list(
    test = test,
    k = res$k,
    p = res$p,
    names = rownames(res$beta),
    estimate = as.vector(res$beta),
    se = res$se,
    statistic = res$zval,
    pval = res$pval,
    ci_low = res$ci.lb,
    ci_high = res$ci.ub,
    df = if (test == "knha") res$ddf[[1]] else NULL,
    qm = res$QM,
    qm_df = res$QMdf[1],
    qm_p = res$QMp,
    qe = res$QE,
    qe_df = res$k - res$p,
    qe_p = res$QEp,
    tau2 = res$tau2,
    i2 = res$I2,
    h2 = res$H2,
    r2 = res$R2,
    tau2_re = re$tau2
  )
  if (!is.null(newmods)) {
    pr <- predict(res, newmods = newmods)
    out$predict <- list(at = newmods, pred = as.vector(pr$pred), se = as.vector(pr$se),
                        ci_low = as.vector(pr$ci.lb), ci_high = as.vector(pr$ci.ub))
  }
  out
}

models <- list()
for (test in c("knha", "z")) {
  models[[paste0("curtis1998-time-", test)]] <- c(
    list(data = "curtis1998", moderators = list("time")),
    fit_one(curtis, ~ time, test, newmods = c(0, 100, 365, 1000)))
  models[[paste0("curtis1998-method-", test)]] <- c(
    list(data = "curtis1998", moderators = list("method")),
    fit_one(curtis, ~ method, test))
  models[[paste0("curtis1998-time-method-", test)]] <- c(
    list(data = "curtis1998", moderators = list("time", "method")),
    fit_one(curtis, ~ time + method, test))
  models[[paste0("bangertdrowns2004-length-", test)]] <- c(
    list(data = "bangertdrowns2004", moderators = list("length")),
    fit_one(bd, ~ length, test, newmods = c(1, 10, 24)))
  models[[paste0("bangertdrowns2004-grade-", test)]] <- c(
    list(data = "bangertdrowns2004", moderators = list("grade")),
    fit_one(bd, ~ grade, test))
}

datasets <- list(
  curtis1998 = list(
    study = as.character(curtis$id),
    m1i = curtis$m1i, sd1i = curtis$sd1i, n1i = curtis$n1i,
    m2i = curtis$m2i, sd2i = curtis$sd2i, n2i = curtis$n2i,
    yi = as.vector(curtis$yi), vi = as.vector(curtis$vi),
    time = curtis$time, method = as.character(curtis$method), levels = list(method = levels(curtis$method))
  ),
  bangertdrowns2004 = list(
    study = as.character(bd$id),
    yi = as.vector(bd$yi), vi = as.vector(bd$vi),
    length = bd$length, grade = as.character(bd$grade), levels = list(grade = levels(bd$grade))
  )
)

result <- list(
  generator = list(
    script = "tests/reference/metareg_reference.R",
    R = R.version.string,
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    jsonlite = as.character(packageVersion("jsonlite")),
    control = CONTROL
  ),
  datasets = datasets,
  models = models
)

writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, na = "null", null = "null", pretty = TRUE), out_file)
cat("wrote", out_file, "\n")
