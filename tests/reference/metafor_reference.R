# Reference values from metafor for tests/stats/test_metafor_alignment.py.
#
# What it does: fits every model the Python engine (builder/stats) claims to reproduce -- escalc effect
# sizes, the inverse-variance common-effect model, random effects with the DL, REML and PM estimators of
# tau^2 under both z and Knapp-Hartung (test="knha") inference, and the Mantel-Haenszel odds ratio with and
# without a continuity correction inside the pooled estimate -- on a fixed set of datasets, and writes the
# inputs and results to tests/reference/metafor.json, so the Python tests need no R.
#
# How to rerun (from the repository root; needs R with metafor, metadat and jsonlite):
#     Rscript tests/reference/metafor_reference.R
#
# Last run with metafor 3.8.1, metadat 1.2.0 and jsonlite 1.8.4 on R 4.2.2 Patched (2022-11-10 r83330);
# the versions actually used are also written into the JSON ("generator").
#
# Iterative estimators are run to convergence far tighter than metafor's defaults, so that the tests can
# compare tightly:
#   REML: Fisher scoring stops when the change in tau^2 is below `threshold` (default 1e-5); we use 1e-12,
#         with half steps (stepadj = 0.5) for stability and up to 1000 iterations.
#   PM:   uniroot() on the generalised Q statistic, whose absolute tolerance is `tol` (default
#         .Machine$double.eps^0.25, about 1.2e-4); we use 1e-14, which leaves uniroot at machine precision.

suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

out_file <- file.path("tests", "reference", "metafor.json")
if (!dir.exists(dirname(out_file))) {
  stop("run from the repository root: Rscript tests/reference/metafor_reference.R")
}

REML_CONTROL <- list(threshold = 1e-12, maxiter = 1000, stepadj = 0.5)
PM_CONTROL <- list(tol = 1e-14, maxiter = 1000)
TAU2_METHODS <- c("DL", "REML", "PM")
TESTS <- c("z", "knha")
MH_CC <- c(0, 0.5)

# ---------------------------------------------------------------------------------------------- datasets

binary <- function(study, ai, n1i, ci, n2i, note) {
  list(type = "binary", measure = "OR", note = note,
       inputs = list(study = study, ai = ai, n1i = n1i, ci = ci, n2i = n2i))
}

continuous <- function(study, m1i, sd1i, n1i, m2i, sd2i, n2i, note) {
  list(type = "continuous", measure = "MD", note = note,
       inputs = list(study = study, m1i = m1i, sd1i = sd1i, n1i = n1i, m2i = m2i, sd2i = sd2i, n2i = n2i))
}

msc_study <- c("shu", "lanzoni", "feng-g", "leng", "meng", "feng-y", "adas")
bcg <- metadat::dat.bcg
normand <- metadat::dat.normand1999

datasets <- list(
  msc_survival_published = binary(
    msc_study,
    ai = c(12, 11, 8, 7, 9, 15, 7), n1i = c(12, 12, 8, 7, 9, 16, 10),
    ci = c(26, 5, 20, 2, 9, 9, 14), n2i = c(29, 12, 20, 3, 9, 16, 20),
    note = "Survivors, MSC vs control, as published; two studies with all survivors in both arms."),
  msc_survival_as_analysed = binary(
    msc_study,
    ai = c(12, 10, 8, 7, 9, 14, 7), n1i = c(12, 12, 8, 7, 9, 16, 10),
    ci = c(26, 7, 20, 2, 9, 9, 14), n2i = c(29, 12, 20, 3, 9, 16, 20),
    note = "As msc_survival_published, with lanzoni 10/12 vs 7/12 and feng-y 14/16 vs 9/16."),
  bcg = binary(
    paste(bcg$author, bcg$year),
    ai = bcg$tpos, n1i = bcg$tpos + bcg$tneg, ci = bcg$cpos, n2i = bcg$cpos + bcg$cneg,
    note = "metadat::dat.bcg (BCG vaccine and tuberculosis)."),
  sparse_zero_cells = binary(
    c("s1-zero-treated", "s2-zero-control", "s3-double-zero", "s4", "s5-double-all", "s6"),
    ai = c(0, 2, 0, 3, 12, 1), n1i = c(20, 15, 10, 25, 12, 30),
    ci = c(4, 0, 0, 7, 10, 5), n2i = c(21, 16, 12, 24, 10, 28),
    note = paste("Designed: single zero cells in either arm (corrected), a double-zero and a double-all",
                 "study (not estimable, left out of every model). Q > k - 1, so DL and PM give tau^2 > 0,",
                 "but the REML likelihood is largest at the boundary: REML tau^2 = 0.")),
  normand1999 = continuous(
    as.character(normand$source),
    m1i = normand$m1i, sd1i = normand$sd1i, n1i = normand$n1i,
    m2i = normand$m2i, sd2i = normand$sd2i, n2i = normand$n2i,
    note = "metadat::dat.normand1999 (length of hospital stay, specialist vs routine care)."),
  homogeneous_md = continuous(
    c("h1", "h2", "h3", "h4", "h5"),
    m1i = c(12.0, 11.5, 13.1, 12.4, 12.2), sd1i = c(4.0, 3.8, 5.0, 4.4, 4.1), n1i = c(40, 35, 50, 28, 45),
    m2i = c(10.0, 9.6, 11.0, 10.6, 10.0), sd2i = c(4.2, 4.1, 4.6, 4.5, 3.9), n2i = c(42, 33, 48, 30, 44),
    note = "Designed: mean differences close together relative to their variances, so Q < k - 1 and tau^2 = 0.")
)

# ---------------------------------------------------------------------------------------------- helpers

# metafor drops studies whose yi/vi are NA before fitting; put the weights back in input order.
# weights() honours options(na.action): with the default na.omit it returns only the fitted studies.
aligned_weights <- function(fit) {
  fitted <- fit$not.na
  w <- as.numeric(weights(fit))
  if (length(w) != sum(fitted)) stop("unexpected length of weights()")
  out <- rep(NA_real_, length(fitted))
  out[fitted] <- w
  out
}

num <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)

summarise <- function(name, dataset, model, method, test, mh_cc, fit, es, predicted) {
  if (!isTRUE(all.equal(as.numeric(fit$yi.f), as.numeric(es$yi)))) {
    stop("fit and escalc disagree on yi for ", name)
  }
  list(
    name = name, dataset = dataset, model = model, method = method, test = test, mh_cc = num(mh_cc),
    k = fit$k, estimate = num(fit$beta), se = num(fit$se), ci_lb = num(fit$ci.lb), ci_ub = num(fit$ci.ub),
    zval = num(fit$zval), pval = num(fit$pval), ddf = if (test == "knha") num(fit$ddf) else NA_real_,
    tau2 = num(fit$tau2), QE = num(fit$QE), QEp = num(fit$QEp), I2 = num(fit$I2), H2 = num(fit$H2),
    pi_lb = if (is.null(predicted)) NA_real_ else num(predicted$pi.lb),
    pi_ub = if (is.null(predicted)) NA_real_ else num(predicted$pi.ub),
    weights = aligned_weights(fit),
    yi = as.numeric(es$yi), vi = as.numeric(es$vi)
  )
}

effect_sizes <- function(d) {
  x <- d$inputs
  if (d$type == "binary") {
    escalc(measure = "OR", ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i,
           add = 1/2, to = "only0", drop00 = TRUE)
  } else {
    escalc(measure = "MD", m1i = x$m1i, sd1i = x$sd1i, n1i = x$n1i, m2i = x$m2i, sd2i = x$sd2i, n2i = x$n2i)
  }
}

control_for <- function(method) {
  switch(method, REML = REML_CONTROL, PM = PM_CONTROL, list())
}

# ---------------------------------------------------------------------------------------------- fits

cases <- list()
add_case <- function(case) cases[[length(cases) + 1]] <<- case

for (dname in names(datasets)) {
  d <- datasets[[dname]]
  es <- effect_sizes(d)
  datasets[[dname]]$escalc <- list(yi = as.numeric(es$yi), vi = as.numeric(es$vi))

  fe <- suppressWarnings(rma(yi, vi, data = es, method = "FE", test = "z"))
  add_case(summarise(paste(dname, "FE", "z", sep = "/"), dname, "fixed", "IV", "z", NULL, fe, es, NULL))

  for (method in TAU2_METHODS) {
    for (test in TESTS) {
      fit <- suppressWarnings(rma(yi, vi, data = es, method = method, test = test,
                                  control = control_for(method)))
      add_case(summarise(paste(dname, method, test, sep = "/"), dname, "random", method, test, NULL,
                         fit, es, predict(fit)))
    }
  }

  if (d$type == "binary") {
    x <- d$inputs
    for (cc in MH_CC) {
      fit <- suppressWarnings(rma.mh(measure = "OR", ai = x$ai, n1i = x$n1i, ci = x$ci, n2i = x$n2i,
                                     add = c(1/2, cc), to = c("only0", if (cc > 0) "only0" else "none"),
                                     drop00 = c(TRUE, TRUE)))
      add_case(summarise(paste(dname, "MH", paste0("cc", cc), sep = "/"), dname, "mh", "MH", "z", cc,
                         fit, es, NULL))
    }
  }
}

reference <- list(
  generator = list(
    script = "tests/reference/metafor_reference.R",
    metafor = as.character(packageVersion("metafor")),
    metadat = as.character(packageVersion("metadat")),
    jsonlite = as.character(packageVersion("jsonlite")),
    R = R.version.string
  ),
  settings = list(
    escalc_OR = list(add = 1/2, to = "only0", drop00 = TRUE),
    escalc_MD = list(vtype = "LS"),
    reml_control = REML_CONTROL,
    pm_control = PM_CONTROL,
    mh = list(add = "c(1/2, mh_cc)", to = "c('only0', if mh_cc > 0 'only0' else 'none')",
              drop00 = "c(TRUE, TRUE)"),
    level = 95
  ),
  datasets = datasets,
  cases = cases
)

# digits = NA: jsonlite's maximum precision, 15 significant digits (a relative rounding error below 5e-16,
# far inside every tolerance of the tests).
writeLines(toJSON(reference, auto_unbox = TRUE, pretty = TRUE, digits = NA, na = "null", null = "null"),
           out_file)
cat("wrote", length(cases), "cases on", length(datasets), "datasets to", out_file, "\n")
