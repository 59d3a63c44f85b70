# Reference values from metafor for tests/stats/test_effects_alignment.py.
#
# What it does: computes, on a fixed set of datasets, every effect size the Python engine (builder/stats)
# offers besides the log odds ratio (tests/reference/metafor_reference.R covers that one and the MD models):
# escalc for the risk ratio, risk difference, Peto odds ratio, mean difference, standardised mean difference,
# ratio of means, pre-post mean change and generic estimates; the Mantel-Haenszel risk ratio and risk
# difference (rma.mh) with and without a continuity correction inside the pooled estimate; Peto's odds ratio
# (rma.peto); and a REML random-effects model with Knapp-Hartung inference (rma(measure = ...)) on each
# measure, so the pooled path from raw data is covered. It writes inputs and results to
# tests/reference/effects.json, so the Python tests need no R.
#
# How to rerun (from the repository root; needs R with metafor, metadat and jsonlite):
#     Rscript tests/reference/effects_reference.R
#
# Last run with metafor 3.8.1, metadat 1.2.0 and jsonlite 1.8.4 on R 4.2.2 Patched (2022-11-10 r83330);
# the versions actually used are also written into the JSON ("generator").
#
# REML is run to convergence far tighter than metafor's default (change in tau^2 below 1e-12 instead of
# 1e-5, half steps, up to 1000 iterations), as in metafor_reference.R.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "effects.json")
if (!dir.exists(dirname(out_file))) {
  stop("run from the repository root: Rscript tests/reference/effects_reference.R")
}

REML_CONTROL <- list(threshold = 1e-12, maxiter = 1000, stepadj = 0.5)
ESCALC_ADD <- c(0, 0.5)      # escalc continuity corrections for RR, RD and PETO (always to = "only0")
MH_CC <- c(0, 0.5)           # continuity correction inside the Mantel-Haenszel estimate
MC_R <- list("0", "0.5", "0.8", "study")   # pre-post correlations: assumed constants, or each study's own
RMA_ADD <- 0.5               # correction of the per-study estimates that the random-effects models pool
RMA_MC_R <- "0.5"

# ---------------------------------------------------------------------------------------------- datasets

binary <- function(study, ai, n1i, ci, n2i, note) {
  list(type = "binary", note = note, inputs = list(study = study, ai = ai, n1i = n1i, ci = ci, n2i = n2i))
}

bcg <- metadat::dat.bcg
normand <- metadat::dat.normand1999

datasets <- list(
  bcg = binary(
    paste(bcg$author, bcg$year),
    ai = bcg$tpos, n1i = bcg$tpos + bcg$tneg, ci = bcg$cpos, n2i = bcg$cpos + bcg$cneg,
    note = "metadat::dat.bcg (BCG vaccine and tuberculosis)."),
  sparse = binary(
    c("s1-zero-treated", "s2-zero-control", "s3-double-zero", "s4", "s5-double-all", "s6",
      "s7-none-vs-all", "s8-all-treated"),
    ai = c(0, 2, 0, 3, 12, 1, 0, 9), n1i = c(20, 15, 10, 25, 12, 30, 10, 9),
    ci = c(4, 0, 0, 7, 10, 5, 10, 6), n2i = c(21, 16, 12, 24, 10, 28, 10, 11),
    note = paste("Designed: a zero event cell in either arm, a double-zero and a double-all study (not",
                 "estimable with drop00 = TRUE), one study with no events in one arm and only events in the",
                 "other (its uncorrected risk difference has variance 0), and one with only events in one",
                 "arm (a zero non-event cell).")),
  msc_survival = binary(
    c("shu", "lanzoni", "feng-g", "leng", "meng", "feng-y", "adas"),
    ai = c(12, 11, 8, 7, 9, 15, 7), n1i = c(12, 12, 8, 7, 9, 16, 10),
    ci = c(26, 5, 20, 2, 9, 9, 14), n2i = c(29, 12, 20, 3, 9, 16, 20),
    note = "Survivors, MSC vs control, as published; two studies with all survivors in both arms."),
  normand1999 = list(
    type = "continuous",
    note = "metadat::dat.normand1999 (length of hospital stay, specialist vs routine care).",
    inputs = list(study = as.character(normand$source),
                  m1i = normand$m1i, sd1i = normand$sd1i, n1i = normand$n1i,
                  m2i = normand$m2i, sd2i = normand$sd2i, n2i = normand$n2i)),
  continuous_edge = list(
    type = "continuous",
    note = paste("Designed: n1 + n2 = 3 (SMD bias correction undefined), means of opposite sign (ROM not",
                 "estimable) and both negative (ROM defined), SDs of 0 in both arms (SMD infinite; MD and ROM",
                 "variance 0), and n = 2 per arm."),
    inputs = list(study = c("e1", "e2-n3", "e3-opposite-signs", "e4-both-negative", "e5-sd0", "e6-n2", "e7"),
                  m1i = c(10.2, 8.0, 1.5, -4.0, 6.0, 12.0, 20.5), sd1i = c(3.1, 2.0, 2.2, 1.5, 0, 4.0, 6.3),
                  n1i = c(20, 1, 30, 25, 12, 2, 44),
                  m2i = c(8.9, 7.0, -0.5, -5.5, 5.0, 9.0, 17.9), sd2i = c(2.8, 2.5, 2.0, 1.8, 0, 3.5, 6.0),
                  n2i = c(22, 2, 28, 24, 12, 2, 41))),
  prepost = list(
    type = "prepost",
    note = paste("Designed: a symptom score before and after treatment in single groups, with each study's",
                 "pre-post correlation ri (rarely reported in practice); p7 has ri = 1 and equal SDs, so its",
                 "variance under its own ri is 0."),
    inputs = list(study = c("p1", "p2", "p3", "p4", "p5", "p6", "p7-r1"),
                  m_post = c(48.3, 50.2, 44.9, 55.7, 47.5, 52.0, 45.0),
                  sd_post = c(16.0, 13.5, 18.2, 12.4, 15.1, 15.7, 10.0),
                  m_pre = c(62.1, 58.4, 66.0, 60.2, 59.9, 64.4, 50.0),
                  sd_pre = c(14.2, 12.9, 15.5, 11.8, 13.3, 16.1, 10.0),
                  n = c(24, 40, 15, 31, 52, 18, 10),
                  ri = c(0.62, 0.45, 0.71, 0.55, 0.38, 0.80, 1.0))),
  generic_ratio = list(
    type = "generic", log = TRUE, level = 0.95,
    note = paste("Designed: hazard ratios on the natural scale with a 95% CI, or with the SE of the log HR",
                 "(preferred when both are given); g4 has no estimate (the CI midpoint on the log scale is",
                 "used), g6 has neither SE nor CI (not estimable)."),
    inputs = list(study = c("g1", "g2-se", "g3", "g4-no-estimate", "g5-se-and-ci", "g6-nothing", "g7"),
                  estimate = c(0.72, 0.85, 1.10, NA, 0.64, 0.90, 0.78),
                  se = c(NA, 0.12, NA, NA, 0.21, NA, NA),
                  ci_low = c(0.55, NA, 0.80, 0.60, 0.41, NA, 0.66),
                  ci_high = c(0.94, NA, 1.51, 1.20, 1.00, NA, 0.92))),
  generic_difference = list(
    type = "generic", log = FALSE, level = 0.90,
    note = "Designed: mean differences with an SE or a 90% CI.",
    inputs = list(study = c("d1-se", "d2", "d3", "d4-se", "d5"),
                  estimate = c(-2.1, -1.4, 0.3, -2.6, -0.9),
                  se = c(0.8, NA, NA, 1.1, NA),
                  ci_low = c(NA, -3.0, -1.1, NA, -2.5),
                  ci_high = c(NA, 0.2, 1.7, NA, 0.7)))
)

MEASURES <- list(binary = c("RR", "RD", "PETO"), continuous = c("MD", "SMD", "ROM"), prepost = "MC",
                 generic = "GEN")

# ---------------------------------------------------------------------------------------------- helpers

num <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)

# metafor drops studies whose yi/vi (rma) or cells (rma.mh, rma.peto) are NA before fitting; weights()
# returns only the fitted ones under the default na.action; put them back in input order.
aligned_weights <- function(fit) {
  fitted <- fit$not.na
  w <- as.numeric(weights(fit))
  if (length(w) != sum(fitted)) stop("unexpected length of weights()")
  out <- rep(NA_real_, length(fitted))
  out[fitted] <- w
  out
}

r_values <- function(x, r) if (r == "study") x$ri else rep(as.numeric(r), length(x$n))

# The generic conversion, written out: yi from the estimate (logged for ratios; the CI midpoint on the
# analysis scale when missing), SE as given or from the width of a symmetric Wald CI at the dataset's level.
generic_yi_sei <- function(d) {
  x <- d$inputs
  f <- if (d$log) log else identity
  z <- qnorm(1 - (1 - d$level) / 2)
  yi <- ifelse(is.na(x$estimate), (f(x$ci_low) + f(x$ci_high)) / 2, f(x$estimate))
  sei <- ifelse(is.na(x$se), (f(x$ci_high) - f(x$ci_low)) / (2 * z), x$se)
  list(yi = yi, sei = sei)
}

effect_sizes <- function(d, measure, add = NULL, r = NULL) {
  x <- d$inputs
  switch(d$type,
    binary = escalc(measure = measure, ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i,
                    add = add, to = "only0", drop00 = TRUE),
    continuous = escalc(measure = measure, m1i = x$m1i, sd1i = x$sd1i, n1i = x$n1i,
                        m2i = x$m2i, sd2i = x$sd2i, n2i = x$n2i, vtype = "LS"),
    prepost = escalc(measure = "MC", m1i = x$m_post, sd1i = x$sd_post, m2i = x$m_pre, sd2i = x$sd_pre,
                     ni = x$n, ri = r_values(x, r)),
    generic = with(generic_yi_sei(d), escalc(measure = "GEN", yi = yi, sei = sei)))
}

random_fit <- function(d, measure, r = NULL) {
  x <- d$inputs
  common <- list(method = "REML", test = "knha", control = REML_CONTROL)
  args <- switch(d$type,
    binary = list(measure = measure, ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i,
                  add = RMA_ADD, to = "only0", drop00 = TRUE),
    continuous = list(measure = measure, m1i = x$m1i, sd1i = x$sd1i, n1i = x$n1i,
                      m2i = x$m2i, sd2i = x$sd2i, n2i = x$n2i, vtype = "LS"),
    prepost = list(measure = "MC", m1i = x$m_post, sd1i = x$sd_post, m2i = x$m_pre, sd2i = x$sd_pre,
                   ni = x$n, ri = r_values(x, r)),
    generic = with(generic_yi_sei(d), list(yi = yi, sei = sei)))
  suppressWarnings(do.call(rma, c(args, common)))
}

summarise <- function(name, dataset, model, measure, fit, predicted, extra) {
  c(list(
    name = name, dataset = dataset, model = model, measure = measure,
    k = fit$k, estimate = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
    zval = num(fit$zval), pval = num(fit$pval), ddf = if (fit$test == "knha") num(fit$ddf) else NA_real_,
    tau2 = num(fit$tau2), QE = num(fit$QE), QEp = num(fit$QEp), I2 = num(fit$I2), H2 = num(fit$H2),
    pi_lb = if (is.null(predicted)) NA_real_ else num(predicted$pi.lb),
    pi_ub = if (is.null(predicted)) NA_real_ else num(predicted$pi.ub),
    weights = aligned_weights(fit),
    yi = as.numeric(fit$yi.f), vi = as.numeric(fit$vi.f)), extra)
}

# ---------------------------------------------------------------------------------------------- escalc

escalc_cases <- list()
add_escalc <- function(dataset, measure, add, r, es) {
  label <- paste(c(dataset, measure, if (!is.null(add)) paste0("add", add), if (!is.null(r)) paste0("r", r)),
                 collapse = "/")
  escalc_cases[[length(escalc_cases) + 1]] <<- list(
    name = label, dataset = dataset, measure = measure, add = num(add), r = if (is.null(r)) NA else r,
    yi = as.numeric(es$yi), vi = as.numeric(es$vi))
}

for (dname in names(datasets)) {
  d <- datasets[[dname]]
  for (measure in MEASURES[[d$type]]) {
    if (d$type == "binary") {
      for (add in ESCALC_ADD) add_escalc(dname, measure, add, NULL, suppressWarnings(effect_sizes(d, measure, add)))
    } else if (d$type == "prepost") {
      for (r in MC_R) add_escalc(dname, measure, NULL, r, suppressWarnings(effect_sizes(d, measure, r = r)))
    } else {
      add_escalc(dname, measure, NULL, NULL, suppressWarnings(effect_sizes(d, measure)))
    }
  }
}

# ---------------------------------------------------------------------------------------------- models

cases <- list()
add_case <- function(case) cases[[length(cases) + 1]] <<- case

for (dname in names(datasets)) {
  d <- datasets[[dname]]
  x <- d$inputs

  if (d$type == "binary") {
    for (measure in c("RR", "RD")) {
      for (cc in MH_CC) {
        # as metafor_reference.R for the OR: per-study estimates (for Q) with add 1/2, drop00 in both parts
        fit <- suppressWarnings(rma.mh(measure = measure, ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i,
                                       add = c(1/2, cc), to = c("only0", if (cc > 0) "only0" else "none"),
                                       drop00 = c(TRUE, TRUE)))
        add_case(summarise(paste(dname, "MH", measure, paste0("cc", cc), sep = "/"), dname, "mh", measure,
                           fit, NULL, list(mh_cc = cc, display_add = 1/2, peto_args = NA)))
      }
    }
    # Peto: no correction anywhere; drop00 = c(TRUE, TRUE) leaves double-zero/double-all studies out of k and
    # the weights, as the engine does. "metafor_default" is rma.peto's defaults (add = 1/2 for the per-study
    # estimates; drop00 = TRUE, which it expands to c(TRUE, FALSE)): the tests check which numbers change.
    fit <- suppressWarnings(rma.peto(ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i,
                                     add = c(0, 0), to = c("none", "none"), drop00 = c(TRUE, TRUE)))
    add_case(summarise(paste(dname, "Peto", "strict", sep = "/"), dname, "peto", "PETO", fit, NULL,
                       list(mh_cc = NA, display_add = 0, peto_args = "strict")))
    fit <- suppressWarnings(rma.peto(ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i))
    add_case(summarise(paste(dname, "Peto", "metafor_default", sep = "/"), dname, "peto", "PETO", fit, NULL,
                       list(mh_cc = NA, display_add = 1/2, peto_args = "metafor_default")))
  }

  # ROM only on normand1999: continuous_edge has a study with vi = 0, which rma() would weigh infinitely
  measures <- switch(d$type, binary = c("RR", "RD"),
                     continuous = if (dname == "normand1999") c("SMD", "ROM") else "SMD",
                     prepost = "MC", generic = "GEN")
  for (measure in measures) {
    r <- if (d$type == "prepost") RMA_MC_R else NULL
    fit <- random_fit(d, measure, r)
    add_case(summarise(paste(dname, "REML", measure, "knha", sep = "/"), dname, "random", measure, fit,
                       predict(fit), list(mh_cc = NA, display_add = if (d$type == "binary") RMA_ADD else NA,
                                          peto_args = NA, r = if (is.null(r)) NA else r)))
  }
}

reference <- list(
  generator = list(
    script = "tests/reference/effects_reference.R",
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    jsonlite = as.character(packageVersion("jsonlite")),
    R = R.version.string
  ),
  settings = list(
    escalc_binary = list(add = ESCALC_ADD, to = "only0", drop00 = TRUE),
    escalc_continuous = list(vtype = "LS"),
    mc_r = MC_R,
    reml_control = REML_CONTROL,
    rma = list(method = "REML", test = "knha", add = RMA_ADD, to = "only0", drop00 = TRUE, mc_r = RMA_MC_R),
    mh = list(add = "c(1/2, mh_cc)", to = "c('only0', if mh_cc > 0 'only0' else 'none')",
              drop00 = "c(TRUE, TRUE)"),
    peto = list(strict = "add = c(0, 0), to = c('none', 'none'), drop00 = c(TRUE, TRUE)",
                metafor_default = "rma.peto defaults: add = 1/2, to = 'only0', drop00 = TRUE"),
    level = 95
  ),
  datasets = datasets,
  escalc = escalc_cases,
  cases = cases
)

# digits = NA: jsonlite's maximum precision, 15 significant digits (a relative rounding error below 5e-16,
# far inside every tolerance of the tests).
writeLines(toJSON(reference, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null", null = "null"),
           out_file)
cat("wrote", length(escalc_cases), "escalc cases and", length(cases), "model cases on", length(datasets),
    "datasets to", out_file, "\n")
